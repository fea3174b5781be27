//! "Now" for a host page: the latest result Redis holds for the host (the key the sweep writes, `PREFIX` +
//! address), read with one GET. Redis is a cache here as in the sweep: when it is off or away the page says so
//! and shows what Postgres has.

use std::net::IpAddr;
use std::time::Duration;

use redis::{Client, Commands, Connection, ConnectionInfo};

use super::data::Now;

pub struct RedisNow {
    info: Option<ConnectionInfo>,
    prefix: String,
    timeout: Duration,
    conn: Option<Connection>,
}

impl RedisNow {
    /// `info` `None`: Redis is not configured, and every answer says so.
    pub fn new(info: Option<ConnectionInfo>, prefix: String, timeout: Duration) -> RedisNow {
        RedisNow { info, prefix, timeout, conn: None }
    }

    fn connection(&mut self) -> Result<&mut Connection, String> {
        let Some(info) = &self.info else {
            return Err("Redis is not configured (--redis-url or REDIS_URL): no status from the latest sweep".into());
        };
        if self.conn.is_none() {
            let target = crate::store::redis::describe(info);
            crate::store::tls::install_provider();
            let failed = |e: redis::RedisError| {
                format!("redis {target} is not answering ({}): no status from the latest sweep", short(&e))
            };
            let client = Client::open(info.clone()).map_err(failed)?;
            let conn = client.get_connection_with_timeout(self.timeout).map_err(failed)?;
            conn.set_read_timeout(Some(self.timeout)).map_err(failed)?;
            conn.set_write_timeout(Some(self.timeout)).map_err(failed)?;
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or_else(String::new)
    }

    /// What Redis holds for `addr`; on any failure, a [`Now`] with only a note (and the connection is made anew
    /// next time).
    pub fn get(&mut self, addr: IpAddr) -> Now {
        let key = format!("{}{addr}", self.prefix);
        let value: Result<Option<String>, String> = self.connection().and_then(|c| {
            c.get(&key).map_err(|e| format!("redis did not answer ({}): no status from the latest sweep", short(&e)))
        });
        match value {
            Err(note) => {
                self.conn = None;
                Now { note: Some(note), ..Now::default() }
            }
            Ok(None) => Now {
                note: Some("Redis has no result for this host (not in the latest sweeps, or its key expired)".into()),
                ..Now::default()
            },
            Ok(Some(v)) => parse(&v),
        }
    }
}

/// A Redis error in one line, without anything a URL could carry.
fn short(e: &redis::RedisError) -> String {
    crate::store::tls::explain_redis(e).unwrap_or_else(|| format!("{:?}", e.kind()))
}

/// The sweep's value: `{"status":"alive","alive":true,"rtt_ms":0.041,"at":"...","sweep":"...",...}`.
fn parse(v: &str) -> Now {
    let Ok(j) = serde_json::from_str::<serde_json::Value>(v) else {
        return Now { note: Some("the Redis value for this host is not pinger's JSON".into()), ..Now::default() };
    };
    Now {
        status: j["status"].as_str().map(str::to_string),
        rtt_ms: j["rtt_ms"].as_f64(),
        at: j["at"].as_str().map(str::to_string),
        note: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sweeps_value_is_read_and_anything_else_is_a_note() {
        let n = super::parse(r#"{"status":"alive","alive":true,"rtt_ms":0.041,"at":"2026-11-24T11:26:49Z"}"#);
        assert_eq!(
            (n.status.as_deref(), n.rtt_ms, n.at.as_deref()),
            (Some("alive"), Some(0.041), Some("2026-11-24T11:26:49Z"))
        );
        assert!(super::parse("up").note.is_some());
    }
}
