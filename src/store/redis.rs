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

use redis::{Client, Connection, ConnectionInfo, ConnectionLike, IntoConnectionInfo, Value};
use uuid::Uuid;

use super::{decimal, Record, Rfc3339Cache, Row, StoreError};

/// Writes a host's value, the JSON the README documents (`redis-cli get HOST`), by hand into `out`: serde's
/// map machinery and the RFC 3339 formatting per row were a third of the writer's time. `sweep` is the sweep's id
/// (hex and hyphens), `vantage_json` the vantage point already as a JSON string, `second` the time formatted last
/// (rows of a sweep share a few seconds). The test below holds it to `serde_json` field for field.
fn write_value(out: &mut Vec<u8>, r: &Row, sweep: &str, vantage_json: &[u8], second: &mut Rfc3339Cache) {
    out.extend_from_slice(b"{\"status\":\"");
    // A fixed lower-case word: nothing to escape.
    out.extend_from_slice(r.status.as_str().as_bytes());
    out.extend_from_slice(if r.alive() { b"\",\"alive\":true,\"rtt_ms\":" } else { b"\",\"alive\":false,\"rtt_ms\":" });
    match r.rtt_ms {
        Some(ms) => {
            let _ = serde_json::to_writer(&mut *out, &ms);
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"at\":\"");
    second.write(out, r.at_us);
    out.extend_from_slice(b"\",\"sweep\":\"");
    out.extend_from_slice(sweep.as_bytes());
    out.extend_from_slice(b"\",\"sent\":");
    decimal(out, r.sent.into());
    out.extend_from_slice(b",\"received\":");
    decimal(out, r.received.into());
    out.extend_from_slice(b",\"vantage\":");
    out.extend_from_slice(vantage_json);
    out.push(b'}');
}

/// One RESP bulk string.
fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    decimal(out, bytes.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Rows per pipeline. A pipeline holds its packed commands (about 250 bytes a row) and then every reply at once:
/// a 50,000-row batch in one pipeline of the redis crate's commands was 35 MB for a moment, the largest share of
/// what the stores cost a sweep in memory. At 10,000 rows the extra round trips are lost in the noise.
const PIPELINE_ROWS: usize = 10_000;

pub struct Redis {
    conn: Connection,
    target: String,
    packer: Packer,
}

/// Turns rows into one pipeline of commands, its buffers reused from pipeline to pipeline.
struct Packer {
    prefix: String,
    ttl: Option<u64>,
    value: Vec<u8>,
    key: String,
    /// One pipeline's commands as RESP.
    packed: Vec<u8>,
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
        let packer = Packer {
            prefix: prefix.to_string(),
            ttl,
            value: Vec::with_capacity(200),
            key: String::new(),
            packed: Vec::new(),
        };
        Ok(Redis { conn, target, packer })
    }
}

impl Packer {
    /// Packs one `SET key value [EX ttl]` per row, two with a vantage point (the host's key and its vantage's),
    /// into `self.packed` as RESP, the way the server reads a pipeline; returns how many commands it holds. Key,
    /// value and commands go into reused buffers: per-row allocations and the generic command builder were a
    /// quarter of the writer's time.
    fn pack(&mut self, sweep: Uuid, vantage: &str, rows: &[Row]) -> usize {
        use std::fmt::Write as _;
        let mut sweep_buf = Uuid::encode_buffer();
        let sweep = sweep.hyphenated().encode_lower(&mut sweep_buf);
        // Writing JSON into a Vec cannot fail.
        let vantage_json = serde_json::to_vec(vantage).unwrap_or_default();
        let mut ttl = Vec::new();
        if let Some(t) = self.ttl {
            decimal(&mut ttl, t);
        }
        let (mut second, mut commands) = (Rfc3339Cache::default(), 0);
        self.packed.clear();
        for r in rows {
            self.value.clear();
            write_value(&mut self.value, r, sweep, &vantage_json, &mut second);
            self.key.clear();
            self.key.push_str(&self.prefix);
            let _ = write!(self.key, "{}", r.host);
            for per_vantage in [false, true].into_iter().take(if vantage.is_empty() { 1 } else { 2 }) {
                if per_vantage {
                    self.key.push('@');
                    self.key.push_str(vantage);
                }
                self.packed.extend_from_slice(if ttl.is_empty() { b"*3\r\n" } else { b"*5\r\n" });
                bulk(&mut self.packed, b"SET");
                bulk(&mut self.packed, self.key.as_bytes());
                bulk(&mut self.packed, &self.value);
                if !ttl.is_empty() {
                    bulk(&mut self.packed, b"EX");
                    bulk(&mut self.packed, &ttl);
                }
                commands += 1;
            }
        }
        commands
    }
}

impl Redis {
    /// A batch's rows as pipelines of [`PIPELINE_ROWS`]; the sweep's own record is Postgres' alone.
    pub fn write(&mut self, record: &Record) -> Result<(), StoreError> {
        let Record::Rows { sweep, rows, vantage, .. } = record else { return Ok(()) };
        for part in rows.chunks(PIPELINE_ROWS) {
            let commands = self.packer.pack(*sweep, vantage, part);
            let replies = self
                .conn
                .req_packed_commands(&self.packer.packed, 0, commands)
                .map_err(|e| unavailable(&self.target, "pipeline failed", &e))?;
            // A command the server refused (out of memory, a read-only replica) comes back as its reply.
            if let Some(Value::ServerError(e)) = replies.iter().find(|v| matches!(v, Value::ServerError(_))) {
                return Err(unavailable(&self.target, "pipeline failed", &redis::RedisError::from(e.clone())));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Status;

    /// The value as `serde_json` writes it: what the hand-written one must equal.
    #[derive(serde::Serialize)]
    struct Latest<'a> {
        status: &'a str,
        alive: bool,
        rtt_ms: Option<f64>,
        at: String,
        sweep: &'a str,
        sent: u16,
        received: u16,
        vantage: &'a str,
    }

    fn row(host: &str, at_us: i64, status: Status, rtt_ms: Option<f64>, sent: u16, received: u16) -> Row {
        Row {
            host: host.parse().unwrap(),
            at_us,
            status,
            rtt_ms,
            rtt_min_ms: rtt_ms,
            rtt_max_ms: rtt_ms,
            sent,
            received,
            duplicates: 0,
            late: 0,
            icmp_type: None,
            icmp_code: None,
            icmp_from: None,
            errno: None,
            error: None,
        }
    }

    fn rows() -> Vec<Row> {
        let t = 1_795_000_000_000_000; // a whole second
        vec![
            row("127.0.0.1", t, Status::Alive, Some(0.041), 1, 1),
            row("127.0.0.2", t + 1, Status::Alive, Some(0.00001), 3, 2),
            row("127.0.0.3", t + 999_999, Status::Timeout, None, 3, 0),
            row("::1", t + 1_000_000, Status::Unreachable, None, 65535, 0),
            row("127.0.0.4", t + 86_400_000_123, Status::Alive, Some(123.456789), 2, 2),
            row("127.0.0.5", 0, Status::Alive, Some(1e300), 1, 1),
        ]
    }

    #[test]
    fn the_value_is_the_json_serde_writes_field_for_field() {
        let sweep = "0193f3a2-7c1e-7000-8000-0123456789ab";
        for vantage in ["", "site-a", "quote \" backslash \\ newline \n tab \t é ✓"] {
            let vantage_json = serde_json::to_vec(vantage).unwrap();
            let mut second = Rfc3339Cache::default();
            for r in rows() {
                let mut mine = Vec::new();
                write_value(&mut mine, &r, sweep, &vantage_json, &mut second);
                let theirs = serde_json::to_vec(&Latest {
                    status: r.status.as_str(),
                    alive: r.alive(),
                    rtt_ms: r.rtt_ms,
                    at: crate::store::rfc3339(r.at_us),
                    sweep,
                    sent: r.sent,
                    received: r.received,
                    vantage,
                })
                .unwrap();
                assert_eq!(String::from_utf8(mine).unwrap(), String::from_utf8(theirs).unwrap());
            }
        }
    }

    #[test]
    fn the_pipeline_is_what_the_redis_crate_would_send() {
        let sweep = Uuid::from_u128(0x0193_f3a2_7c1e_7000_8000_0123_4567_89ab);
        for (prefix, ttl, vantage) in [("", Some(86_400), ""), ("ping:", None, "site-a"), ("", Some(1), "b")] {
            let mut p =
                Packer { prefix: prefix.into(), ttl, value: Vec::new(), key: String::new(), packed: Vec::new() };
            let commands = p.pack(sweep, vantage, &rows());
            let mut theirs = redis::pipe();
            let vantage_json = serde_json::to_vec(vantage).unwrap();
            let mut second = Rfc3339Cache::default();
            for r in rows() {
                let mut value = Vec::new();
                write_value(&mut value, &r, &sweep.hyphenated().to_string(), &vantage_json, &mut second);
                let mut keys = vec![format!("{prefix}{}", r.host)];
                if !vantage.is_empty() {
                    keys.push(format!("{prefix}{}@{vantage}", r.host));
                }
                for key in keys {
                    let cmd = theirs.cmd("SET").arg(key).arg(&value);
                    if let Some(t) = ttl {
                        cmd.arg("EX").arg(t);
                    }
                }
            }
            assert_eq!(commands, theirs.cmd_iter().count());
            assert!(p.packed == theirs.get_packed_pipeline(), "{}", String::from_utf8_lossy(&p.packed));
        }
    }
}
