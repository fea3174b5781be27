//! For the `pinger serve` tests: a history with known outages written through the same INSERT path (and insert
//! trigger) as ingest, the hours then closed as the writer closes them; `pinger serve` started and stopped; and
//! plain HTTP/1.1 requests to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::stores::PgServer;

/// Hosts of the history, and what happens to each over the 31 checks, from 30 hours ago (k = 30) to now (k = 0):
/// 127.0.0.1 always answers (one probe in three lost every seventh hour), 127.0.0.2 is down for checks 12 to 10
/// hours ago (an outage of 3 checks, over), 127.0.0.3 for the last two checks (going on), 127.0.0.4 always
/// (going on since the first check: the least available, and the longest outage), 127.0.0.5 only at the first.
pub const HOSTS: [&str; 5] = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
pub const CHECKS: i64 = 31;
/// A host list's origin as a sweep records it: user data, with markup in it.
pub const SOURCE: &str = "file /etc/pinger/<b>hosts</b>&more";

/// Writes the history: one INSERT per check time into `pinger_data` (the trigger keeps the outage log) and a
/// `sweeps` row each, with the rollups' clock set back first so that `pinger_close_hours` rolls the hours up
/// (and packs the finished days) as the writer does.
pub fn make_history(pg: &PgServer) {
    pg.apply("schema.sql");
    pg.query(&format!(
        "UPDATE pinger_rollup_state SET rolled_until = date_trunc('hour', now(), 'UTC') - interval '3 days';
        DO $$
        DECLARE
            t timestamptz;
            sid uuid;
        BEGIN
            FOR k IN REVERSE 30..0 LOOP
                t := CASE WHEN k = 0 THEN now() - interval '1 second'
                          ELSE date_trunc('hour', now(), 'UTC') - k * interval '1 hour' + interval '10 minutes' END;
                sid := gen_random_uuid();
                INSERT INTO pinger_data (host, ping_timestamp, result, sweep_id, status, rtt_ms, rtt_min_ms,
                                         rtt_max_ms, sent, received)
                SELECT h.host, t + h.i * interval '1 millisecond', NOT h.down, sid,
                       CASE WHEN h.down THEN 'timeout' ELSE 'alive' END,
                       CASE WHEN NOT h.down THEN h.rtt END, CASE WHEN NOT h.down THEN h.rtt * 0.8 END,
                       CASE WHEN NOT h.down THEN h.rtt * 1.6 END, 3,
                       CASE WHEN h.down THEN 0 WHEN k % 7 = 3 THEN 2 ELSE 3 END
                FROM (SELECT ('127.0.0.' || i)::inet AS host, i, 1.5 * i + (k % 5) * 0.7 AS rtt,
                             CASE i WHEN 2 THEN k BETWEEN 10 AND 12 WHEN 3 THEN k <= 1 WHEN 4 THEN true
                                    WHEN 5 THEN k = 30 ELSE false END AS down
                      FROM generate_series(1, 5) i) h;
                INSERT INTO sweeps (id, started_at, finished_at, host_count, alive, timeout, unreachable, source)
                SELECT sid, t, t + interval '800 milliseconds', 5, count(*) FILTER (WHERE result),
                       count(*) FILTER (WHERE NOT result), 0, '{}'
                FROM pinger_data WHERE sweep_id = sid;
            END LOOP;
        END
        $$;
        SELECT pinger_close_hours(now());",
        SOURCE.replace('\'', "''")
    ));
}

/// `pinger serve` running, killed on drop; its stderr is kept to be checked for panics.
pub struct Serve {
    child: Child,
    pub port: u16,
    stderr: std::path::PathBuf,
}

impl Serve {
    /// Starts `cmd` (pinger serve, with its flags and environment) and waits for the line that says where it
    /// listens.
    pub fn start(mut cmd: Command, tag: &str) -> Serve {
        let stderr = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-{tag}.stderr"));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn pinger serve");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let line = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        let err = std::fs::read_to_string(&stderr).unwrap_or_default();
        let url = line.strip_prefix("pinger serve: listening on http://").unwrap_or_else(|| {
            let _ = child.kill();
            panic!("pinger serve did not say where it listens: {line:?}\n{err}")
        });
        let port = url.split(['/', ' ']).next().and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse().ok());
        std::thread::spawn(move || lines.for_each(drop));
        Serve { child, port: port.expect("a port in the line"), stderr }
    }

    /// Still running, and nothing on its stderr says it panicked.
    pub fn assert_healthy(&mut self) {
        assert!(self.child.try_wait().expect("try_wait").is_none(), "pinger serve has exited");
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        assert!(!err.contains("panicked"), "pinger serve panicked:\n{err}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: status, headers (lower-case names), body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `method path` to 127.0.0.1:`port`, over a new connection (`Connection: close`), with a hang guard.
pub fn request(port: u16, method: &str, path: &str) -> Reply {
    let started = Instant::now();
    try_request(port, method, path).unwrap_or_else(|e| panic!("{method} {path}: {e} after {:?}", started.elapsed()))
}

/// As [`request`], with a failure to connect, send or read as an error.
pub fn try_request(port: u16, method: &str, path: &str) -> std::io::Result<Reply> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(conn, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).map_err(std::io::Error::other)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { unchunk(body) } else { body.into() };
    Ok(Reply { status, headers, body })
}

fn unchunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
