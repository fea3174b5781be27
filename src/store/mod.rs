//! Storage: what a stored result looks like ([`Row`], [`Record`]), the two stores (`postgres.rs`: every record
//! exactly once, or the spool; `redis.rs`: the latest result per host, a cache the sweep may go on without), and
//! the writer thread (`writer.rs`) that batches, retries and spools (`handover.rs`: who owns a result between the
//! engine, the writer and a rescue; `spill.rs`: the overflow to the spool when the writer falls behind;
//! `cache.rs`: Redis as the writer uses it). The two have no trait in common:
//! their contracts differ (exactly once and spooled vs best effort), and the writer treats each by its own. `history.rs` keeps
//! Postgres' history bounded (partitions, rollups, retention); `migrate.rs` upgrades an older schema's rows;
//! `tls.rs` is how both stores speak TLS (Postgres' `sslmode`, `rediss://`).
//!
//! A store knows only its protocol. Batching, the spool, retries and the decision to go on without a store live
//! in the writer.

mod cache;
pub(crate) mod copy;
mod handover;
pub mod history;
pub mod migrate;
pub mod postgres;
pub mod redis;
mod spill;
pub mod spool;
pub mod tls;
pub mod writer;

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::outcome::{HostResult, ProbeError, Status};

/// Milliseconds with microsecond precision, as every output shows them (JSON, Redis, Postgres agree exactly).
pub fn ms(d: Duration) -> f64 {
    // Through u64 where it fits (584 years): the same value, but a u128's conversion to f64 is a library call
    // (`__floattidf`, on every line the printer writes).
    let ns = u64::try_from(d.as_nanos()).map_or_else(|_| d.as_nanos() as f64, |n| n as f64);
    (ns / 1000.0).round() / 1000.0
}

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-24T11:26:49.123456Z`.
pub fn rfc3339(unix_us: i64) -> String {
    humantime::format_rfc3339_micros(system_time(unix_us)).to_string()
}

/// [`rfc3339`] written into a buffer, the part up to the second formatted once a second: for the many rows of a
/// sweep, which share a few seconds (Redis values and JSON lines, half a million a second).
#[derive(Default)]
pub(crate) struct Rfc3339Cache {
    at: Option<i64>,
    /// "2026-11-24T11:26:49" of the second `at`.
    text: String,
}

impl Rfc3339Cache {
    /// Appends `unix_us` as [`rfc3339`] writes it.
    pub fn write(&mut self, out: &mut Vec<u8>, unix_us: i64) {
        let (sec, us) = (unix_us.div_euclid(1_000_000), unix_us.rem_euclid(1_000_000));
        if self.at != Some(sec) {
            self.text = humantime::format_rfc3339_seconds(system_time(sec * 1_000_000)).to_string();
            self.text.pop(); // its Z
            self.at = Some(sec);
        }
        let mut micros = [b'0'; 6];
        let mut n = us;
        for d in micros.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(self.text.as_bytes());
        out.push(b'.');
        out.extend_from_slice(&micros);
        out.push(b'Z');
    }
}

/// `n` in decimal digits.
pub(crate) fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// One host's result as stored: the [`HostResult`] with its wall-clock time and its error spelled out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub host: IpAddr,
    /// When the verdict became final, microseconds since the Unix epoch.
    pub at_us: i64,
    pub status: Status,
    pub rtt_ms: Option<f64>,
    pub rtt_min_ms: Option<f64>,
    pub rtt_max_ms: Option<f64>,
    pub sent: u16,
    pub received: u16,
    pub duplicates: u16,
    pub late: u16,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    pub icmp_from: Option<IpAddr>,
    pub errno: Option<i32>,
    pub error: Option<String>,
}

impl Row {
    /// `at_us` is the wall-clock time of `r.finished_at`.
    pub fn new(r: &HostResult, at_us: i64) -> Row {
        let e = r.error.map(ProbeError::parts).unwrap_or_default();
        Row {
            host: r.host,
            at_us,
            status: r.status,
            rtt_ms: r.rtt.map(|t| ms(t.avg)),
            rtt_min_ms: r.rtt.map(|t| ms(t.min)),
            rtt_max_ms: r.rtt.map(|t| ms(t.max)),
            sent: r.sent,
            received: r.received,
            duplicates: r.duplicates,
            late: r.late,
            icmp_type: e.icmp_type,
            icmp_code: e.code,
            icmp_from: e.from,
            errno: e.errno,
            error: r.error.map(|e| e.describe()),
        }
    }

    pub fn alive(&self) -> bool {
        self.status == Status::Alive
    }

    pub fn at(&self) -> SystemTime {
        system_time(self.at_us)
    }
}

/// One run, as the `sweeps` table holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepInfo {
    pub id: Uuid,
    pub started_us: i64,
    pub finished_us: Option<i64>,
    pub host_count: u64,
    pub alive: Option<u64>,
    pub timeout: Option<u64>,
    pub unreachable: Option<u64>,
    /// Where the host list came from.
    pub source: String,
    /// The options that shaped the sweep (no secrets).
    pub options: serde_json::Value,
    pub version: String,
    /// The vantage point that swept (`--vantage`); empty in records spooled before vantages existed.
    #[serde(default)]
    pub vantage: String,
}

/// What goes to a store, and to the spool when a store is away. Written in order: a sweep's start record, its
/// row batches, then its finish record (the same sweep again, with counts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    Sweep(SweepInfo),
    Rows {
        id: Uuid,
        sweep: Uuid,
        rows: Vec<Row>,
        /// The sweep's vantage point: a replay stores the rows under the vantage that checked them, not the
        /// replaying run's.
        #[serde(default)]
        vantage: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Down, unreachable, timed out, or lost mid-write: worth spooling and retrying later.
    #[error("{0}")]
    Unavailable(String),
    /// It answered and said no (bad credentials, missing database): retrying will not help.
    #[error("{0}")]
    Refused(String),
    /// It refused this record's data (a constraint or a value): this record will never go in as it is.
    #[error("{0}")]
    Rejected(String),
}

pub fn system_time(unix_us: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(unix_us.max(0) as u64)
}

pub fn unix_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}
