//! Redis: the latest result per host, one key per host, written with a pipeline round trip per 10,000 rows.
//!
//! The key is the bare address by default (so the original tool's `redis-cli get ADDRESS` still works),
//! optionally prefixed; the value is a small JSON object; every key gets a TTL so that a host that leaves the
//! list does not stay "up" for ever. A pinger with a `--vantage` writes each result twice: under `ADDRESS` (the
//! latest from any vantage point: whichever pinger wrote last) and under `ADDRESS@VANTAGE` (the latest from that
//! vantage point).
//!
//! The value, as `redis-cli get 127.0.0.1` shows it:
//! `{"status":"alive","alive":true,"rtt_ms":0.041,"at":"2026-11-24T11:26:49.123456Z","sweep":"<uuid>","sent":1,"received":1,"vantage":"site-a"}`

use std::time::Duration;

use redis::{Client, Connection, ConnectionInfo, IntoConnectionInfo};
use uuid::Uuid;

use super::{Record, Row, StoreError};

/// A host's value in Redis: its latest result, the JSON the README documents (`redis-cli get HOST`).
#[derive(serde::Serialize)]
struct Latest<'a> {
    status: &'a str,
    alive: bool,
    rtt_ms: Option<f64>,
    #[serde(serialize_with = "as_text")]
    at: humantime::Rfc3339Timestamp,
    sweep: &'a str,
    sent: u16,
    received: u16,
    vantage: &'a str,
}

fn as_text<S: serde::Serializer>(v: &impl std::fmt::Display, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Rows per pipeline. A pipeline holds every command, then their encoding, then every reply at once (about 700
/// bytes a row in all): a 50,000-row batch in one pipeline was 35 MB for a moment, the largest share of what the
/// stores cost a sweep in memory. At 10,000 rows the extra round trips are lost in the noise.
const PIPELINE_ROWS: usize = 10_000;

pub struct Redis {
    conn: Connection,
    prefix: String,
    ttl: Option<u64>,
    target: String,
    value: Vec<u8>,
    key: String,
}

/// "127.0.0.1:6379 db 0": what to name in messages (never the password).
pub fn describe(info: &ConnectionInfo) -> String {
    format!("{} db {}", info.addr(), info.redis_settings().db())
}

fn unavailable(target: &str, what: &str, e: &redis::RedisError) -> StoreError {
    let msg = match super::tls::explain_redis(e) {
        Some(why) => format!("redis {target}: {what}: {why}"),
        None => format!("redis {target}: {what}: {e}"),
    };
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
        super::tls::install_provider();
        let client = Client::open(info.into_connection_info().map_err(|e| unavailable(&target, "bad address", &e))?)
            .map_err(|e| unavailable(&target, "bad address", &e))?;
        let conn =
            client.get_connection_with_timeout(timeout).map_err(|e| unavailable(&target, "cannot connect", &e))?;
        conn.set_read_timeout(Some(timeout)).map_err(|e| unavailable(&target, "set timeout", &e))?;
        conn.set_write_timeout(Some(timeout)).map_err(|e| unavailable(&target, "set timeout", &e))?;
        Ok(Redis { conn, prefix: prefix.to_string(), ttl, target, value: Vec::with_capacity(160), key: String::new() })
    }

    /// One `SET key value [EX ttl]` per row, two with a vantage point (the host's key and its vantage's). Key and value are formatted into
    /// reused buffers: at half a million rows a second, per-row allocations were a visible share of the writer's
    /// time.
    fn pipeline(&mut self, sweep: Uuid, vantage: &str, rows: &[Row]) -> redis::Pipeline {
        use std::fmt::Write as _;
        let mut p = redis::pipe();
        let mut sweep_buf = Uuid::encode_buffer();
        let sweep = sweep.hyphenated().encode_lower(&mut sweep_buf);
        for r in rows {
            self.value.clear();
            let latest = Latest {
                status: r.status.as_str(),
                alive: r.alive(),
                rtt_ms: r.rtt_ms,
                at: humantime::format_rfc3339_micros(r.at()),
                sweep,
                sent: r.sent,
                received: r.received,
                vantage,
            };
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.value, &latest);
            self.key.clear();
            self.key.push_str(&self.prefix);
            let _ = write!(self.key, "{}", r.host);
            for per_vantage in [false, true].into_iter().take(if vantage.is_empty() { 1 } else { 2 }) {
                if per_vantage {
                    self.key.push('@');
                    self.key.push_str(vantage);
                }
                let cmd = p.cmd("SET").arg(&self.key).arg(&self.value);
                if let Some(ttl) = self.ttl {
                    cmd.arg("EX").arg(ttl);
                }
                cmd.ignore();
            }
        }
        p
    }
}

impl Redis {
    /// A batch's rows as pipelines of [`PIPELINE_ROWS`]; the sweep's own record is Postgres' alone.
    pub fn write(&mut self, record: &Record) -> Result<(), StoreError> {
        let Record::Rows { sweep, rows, vantage, .. } = record else { return Ok(()) };
        for part in rows.chunks(PIPELINE_ROWS) {
            let p = self.pipeline(*sweep, vantage, part);
            p.exec(&mut self.conn).map_err(|e| unavailable(&self.target, "pipeline failed", &e))?;
        }
        Ok(())
    }
}
