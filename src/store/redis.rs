//! Redis: the latest result per host, one key per host, written with one pipeline round trip per batch.
//!
//! The key is the bare address by default (so the original tool's `redis-cli get 95.215.40.135` still works),
//! optionally prefixed; the value is a small JSON object; every key gets a TTL so that a host that leaves the
//! list does not stay "up" for ever.

use std::time::Duration;

use redis::{Client, Connection, ConnectionInfo, IntoConnectionInfo};
use serde::Serialize;
use uuid::Uuid;

use super::{rfc3339, Record, Row, Store, StoreError};
use crate::outcome::Status;

pub struct Redis {
    conn: Connection,
    prefix: String,
    ttl: Option<u64>,
    target: String,
    value: Vec<u8>,
    key: String,
}

/// What `redis-cli get HOST` shows.
#[derive(Serialize)]
struct Value<'a> {
    status: Status,
    alive: bool,
    rtt_ms: Option<f64>,
    at: &'a str,
    sweep: Uuid,
    sent: u16,
    received: u16,
}

/// "127.0.0.1:6379 db 0": what to name in messages (never the password).
pub fn describe(info: &ConnectionInfo) -> String {
    format!("{} db {}", info.addr(), info.redis_settings().db())
}

fn unavailable(target: &str, what: &str, e: &redis::RedisError) -> StoreError {
    let msg = format!("redis {target}: {what}: {e}");
    match e.kind() {
        redis::ErrorKind::AuthenticationFailed => StoreError::Refused(msg),
        _ => StoreError::Unavailable(msg),
    }
}

impl Redis {
    /// Connects with `timeout` for the connection and for every read and write after it. `ttl` in seconds,
    /// `None` for keys that never expire.
    pub fn connect(
        info: ConnectionInfo,
        prefix: &str,
        ttl: Option<u64>,
        timeout: Duration,
    ) -> Result<Redis, StoreError> {
        let target = describe(&info);
        let client = Client::open(info.into_connection_info().map_err(|e| unavailable(&target, "bad address", &e))?)
            .map_err(|e| unavailable(&target, "bad address", &e))?;
        let conn =
            client.get_connection_with_timeout(timeout).map_err(|e| unavailable(&target, "cannot connect", &e))?;
        conn.set_read_timeout(Some(timeout)).map_err(|e| unavailable(&target, "set timeout", &e))?;
        conn.set_write_timeout(Some(timeout)).map_err(|e| unavailable(&target, "set timeout", &e))?;
        Ok(Redis { conn, prefix: prefix.to_string(), ttl, target, value: Vec::with_capacity(160), key: String::new() })
    }

    fn pipeline(&mut self, sweep: Uuid, rows: &[Row]) -> redis::Pipeline {
        let mut p = redis::pipe();
        for r in rows {
            let at = rfc3339(r.at_us);
            self.value.clear();
            let v = Value {
                status: r.status,
                alive: r.alive(),
                rtt_ms: r.rtt_ms,
                at: &at,
                sweep,
                sent: r.sent,
                received: r.received,
            };
            // Serialising a plain struct into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.value, &v);
            self.key.clear();
            self.key.push_str(&self.prefix);
            self.key.push_str(&r.host.to_string());
            let cmd = p.cmd("SET").arg(&self.key).arg(&self.value[..]);
            if let Some(ttl) = self.ttl {
                cmd.arg("EX").arg(ttl);
            }
            cmd.ignore();
        }
        p
    }
}

impl Store for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn write(&mut self, record: &Record) -> Result<(), StoreError> {
        let Record::Rows { sweep, rows, .. } = record else { return Ok(()) };
        let p = self.pipeline(*sweep, rows);
        p.exec(&mut self.conn).map_err(|e| unavailable(&self.target, "pipeline failed", &e))
    }
}
