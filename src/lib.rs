//! pinger: sweep large host lists with ICMP echo from one raw socket.
//!
//! The data path, and the module that owns each step:
//!
//! ```text
//! cli (argh) -> config (validated, defaults) -> targets (parse, dedupe, allow/deny, --count)
//!    -> probe::Prober (sans-IO core: tagging, in-flight table, timer wheel, rate, verdicts)
//!       <-> engine (mio loop) <-> socket (raw ICMP socket, sendmmsg/recvmmsg, kernel timestamps)
//!    -> outcome::HostResult batches over crossbeam channels -> output (table / JSON Lines, progress, summary)
//!                                                           -> store::writer (Redis pipelines, Postgres COPY, spool)
//! ```
//!
//! `sweep` wires one run together (and continuous mode); `wire` is the only user of etherparse; `probe` and `wire`
//! never touch a socket, a clock or a thread. `report` is the `pinger report` command, `migrate` the `pinger
//! migrate` command, `serve` the `pinger serve` web view (pages and JSON over the history); `metrics` is
//! `--metrics-listen` (what each sweep adds, served to Prometheus); `source` fetches host lists; `privileges`
//! drops root and the socket capabilities (right after the sockets open, before anything else runs); `files` is
//! how the cache and the spool are written and read (private directories, temporary files created new, no link
//! followed).

pub mod cli;
pub mod config;
pub mod engine;
pub mod files;
pub mod metrics;
pub mod migrate;
pub mod outcome;
pub mod output;
pub mod privileges;
pub mod probe;
pub mod report;
pub mod serve;
pub mod socket;
pub mod source;
pub mod store;
pub mod sweep;
pub mod targets;
pub mod time;
pub mod wire;

/// For the fuzz targets in `fuzz/` only: what a spooled record's replay does short of Postgres, the binary COPY
/// encoding, which is private to the store otherwise. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::store::copy::encode as copy_encode;
}

use std::io::{self, Write};

use outcome::{RttTotals, Stats};
pub use sweep::{collect_targets, install_signal_handlers, run, run_every, STOP};
use targets::ListReport;

/// Everything that can stop a sweep; `main` maps each to a documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("cannot read host list {path}: {source}")]
    HostsFile { path: String, source: io::Error },
    #[error(transparent)]
    NoList(#[from] source::NoList),
    #[error(transparent)]
    TooManyHosts(#[from] targets::TooManyHosts),
    #[error("nothing to probe: no address was left after filtering (see the summary above)")]
    NoTargets,
    #[error(transparent)]
    Socket(#[from] socket::SocketError),
    #[error(transparent)]
    Setup(#[from] probe::ProbeSetupError),
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    #[error("no random source for the per-run key: {0}")]
    Random(getrandom::Error),
    #[error("{0}")]
    StoreRefused(String),
    #[error(transparent)]
    Privileges(#[from] privileges::PrivilegeError),
    #[error("cannot use the spool directory, so results could be lost if Postgres fails: {0}")]
    Spool(#[from] store::spool::SpoolError),
}

impl Error {
    /// The process exit code (documented in the README).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_)
            | Error::HostsFile { .. }
            | Error::TooManyHosts(_)
            | Error::Setup(_)
            | Error::Spool(_)
            | Error::Privileges(_) => 2,
            Error::NoTargets | Error::NoList(_) => 3,
            Error::Socket(socket::SocketError::NoPermission { .. }) => 4,
            Error::StoreRefused(_) => 6,
            _ => 1,
        }
    }
}

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
    pub store: Option<store::writer::Report>,
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
    let mut e = io::stderr().lock();
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
    if s.hosts > 0 {
        let _ = writeln!(
            e,
            "pinger: packets: {} sent, {} received ({} replies, {} ICMP errors, {} duplicate, {} late, {} ignored: \
             {} spoofed, {} bad checksum, {} malformed, {} not ours); {} send retries, {} send failures",
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
        let redis = if s.redis_on { format!("redis {} keys", r.redis_keys) } else { "redis off".into() };
        let _ = writeln!(
            e,
            "pinger: stored: {pg}, {redis}; spooled {} rows; {} files wait in the spool{}{}{}",
            r.spooled_rows,
            r.spool_left,
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
}
