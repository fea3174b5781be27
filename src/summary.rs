//! What one run did, as the summary lines on stderr (and, through [`Summary`], the metrics): hosts by status, the
//! list's skipped lines, packets, round-trip times, and where the results went.

use std::io::{self, Write};

use crate::outcome::{RttTotals, Stats};
use crate::output;
use crate::store;
use crate::targets::ListReport;

/// What one sweep did, for the summary.
#[derive(Debug, Default)]
pub struct Summary {
    pub hosts: usize,
    pub alive: usize,
    pub timeout: usize,
    pub unreachable: usize,
    pub list: ListReport,
    /// Where the host list came from (and why, when it was a fallback).
    pub origin: String,
    pub stats: Stats,
    /// Round-trip times over every reply of the alive hosts.
    pub rtt: RttTotals,
    pub wall: std::time::Duration,
    /// From start to the last verdict: the sweep itself, without waiting for the stores.
    pub swept: std::time::Duration,
    pub rcvbuf: usize,
    pub output_broken: bool,
    pub sweep_id: Option<uuid::Uuid>,
    /// `None` when no store is on.
    pub store: Option<store::writer::Delivery>,
    pub postgres_on: bool,
    pub redis_on: bool,
    /// SIGINT/SIGTERM ended the sweep before every host was final.
    pub interrupted: bool,
    /// In continuous mode: an earlier sweep's results were left in the spool.
    pub earlier_unstored: bool,
}

impl Summary {
    /// Every result of the run is in Postgres (when Postgres is on) and nothing waits in the spool.
    pub fn all_stored(&self) -> bool {
        !self.earlier_unstored && (!self.postgres_on || self.store.as_ref().is_none_or(|r| r.all_stored()))
    }
}

pub fn print_summary(s: &Summary) {
    let l = &s.list;
    let st = &s.stats;
    let secs = s.wall.as_secs_f64().max(1e-9);
    // Formatted whole, then written at once: stderr is unbuffered, and each `writeln!` would be a dozen writes.
    let mut e = Vec::with_capacity(1024);
    if !s.origin.is_empty() {
        let _ = writeln!(e, "pinger: list: {}", s.origin);
    }
    if s.interrupted {
        let done = s.alive + s.timeout + s.unreachable;
        let _ =
            writeln!(e, "pinger: interrupted by a signal: {done} of {} hosts final (the rest not reported)", s.hosts);
    }
    let _ = writeln!(
        e,
        "pinger: {} hosts: {} alive, {} timeout, {} unreachable; skipped {} (reserved {}, outside allow list {}, \
         IPv6 blocks over /96 {}); invalid lines {}; unresolved names {}; duplicate entries {}{}",
        s.hosts,
        s.alive,
        s.timeout,
        s.unreachable,
        l.skipped(),
        l.reserved,
        l.not_allowed,
        l.ipv6,
        l.invalid,
        l.unresolved,
        l.duplicates,
        if l.truncated { "; list cut at --count" } else { "" },
    );
    if l.other_shards > 0 {
        let _ = writeln!(
            e,
            "pinger: {} of the list left to the other --shard parts",
            output::counted(l.other_shards as u64, "host", "hosts")
        );
    }
    if s.hosts > 0 {
        let _ = writeln!(
            e,
            "pinger: packets: {} sent, {} received ({} replies, {} ICMP errors, {} duplicate, {} late, {} ignored: \
             {} spoofed, {} bad checksum, {} malformed, {} not ours); {} send retries, {} send failures{}",
            st.sent,
            st.received,
            st.rx_credited,
            st.rx_errors,
            st.rx_duplicate,
            st.rx_late,
            st.ignored(),
            st.rx_spoofed,
            st.rx_bad_checksum,
            st.rx_malformed,
            st.rx_foreign,
            st.send_deferred,
            st.send_failed,
            // Options in a reply's IP header (record route, timestamps: a path that is not the usual one).
            if st.ip_options > 0 {
                format!("; {} with IP options", output::counted(st.ip_options, "reply", "replies"))
            } else {
                String::new()
            },
        );
        if let (Some(min), Some(avg), Some(max)) = (s.rtt.min, s.rtt.avg(), s.rtt.max) {
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            let _ = writeln!(
                e,
                "pinger: round trip min/avg/max {:.3}/{:.3}/{:.3} ms over {} from {}",
                ms(min),
                ms(avg),
                ms(max),
                output::counted(s.rtt.replies, "reply", "replies"),
                output::counted(s.alive as u64, "alive host", "alive hosts"),
            );
        }
        let _ = writeln!(
            e,
            "pinger: wall {:.3} s (sweep {:.3} s), {:.0} packets/s; receive buffer {} bytes{}",
            secs,
            s.swept.as_secs_f64(),
            (st.sent + st.received) as f64 / s.swept.as_secs_f64().max(1e-9),
            s.rcvbuf,
            if s.output_broken { "; stdout closed early, per-host output incomplete" } else { "" },
        );
    }
    if let Some(r) = &s.store {
        let pg = if r.timed_out {
            "postgres timed out".to_string()
        } else if s.postgres_on {
            format!("postgres {} rows ({} spool files replayed)", r.postgres_rows, r.replayed_files)
        } else {
            "postgres off".into()
        };
        let redis = match (s.redis_on, r.redis_skipped_rows) {
            (false, _) => "redis off".into(),
            // Hosts, not keys: with --vantage each host has two (ADDRESS and ADDRESS@VANTAGE).
            (true, 0) => format!("redis {} hosts", r.redis_keys),
            (true, n) => format!("redis {} hosts ({n} rows not written: Redis was away)", r.redis_keys),
        };
        let _ = writeln!(
            e,
            "pinger: stored: {pg}, {redis}; spooled {} rows; {} files wait in the spool{}{}{}{}",
            r.spooled_rows,
            r.spool_left,
            // The writer fell behind the sweep: so many rows waited on disk, not in memory, before being stored.
            if r.spilled_rows > 0 {
                format!(
                    "; {} rows spilled to the spool and stored from it (the stores fell behind the sweep)",
                    r.spilled_rows
                )
            } else {
                String::new()
            },
            if r.spool_bad > 0 {
                format!(
                    "; {} files set aside in the spool as *.bad (not records: look at them, then delete them)",
                    r.spool_bad
                )
            } else {
                String::new()
            },
            if r.lost_rows > 0 { format!("; {} RESULTS LOST", r.lost_rows) } else { String::new() },
            if s.all_stored() { "" } else { " (exit code 5: swept, not all stored yet)" },
        );
    }
    let _ = io::stderr().lock().write_all(&e);
}
