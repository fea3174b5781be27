//! pinger: sweep large host lists with ICMP echo from one raw socket per address family.
//!
//! The data path, and the module that owns each step:
//!
//! ```text
//! cli (argh) -> config (validated, defaults) -> list (targets, file or URL via source) -> targets (parse,
//!    dedupe, allow/deny, --count, --shard)
//!    -> probe::Prober (sans-IO core: tagging, in-flight table, timer wheel, rate, verdicts; wire: packets)
//!       <-> engine (mio loop) <-> socket (raw ICMP sockets, sendmmsg/recvmmsg, kernel timestamps), alarm
//!           (the loop's sub-millisecond wake-up)
//!    -> outcome::HostResult batches over crossbeam channels -> output (table / JSON Lines, progress)
//!                                                           -> store::writer (Redis pipelines, Postgres COPY, spool)
//!    -> summary (stderr; metrics for --metrics-listen)
//! ```
//!
//! `run` wires one run together (and continuous mode); `signals` is SIGINT/SIGTERM's flag; `wire` is the only
//! user of etherparse; `probe` and `wire` never touch a socket, a clock or a thread. `report` is the `pinger
//! report` command, `migrate` the `pinger migrate` command, `serve` the `pinger serve` web view (pages and JSON
//! over the history); `metrics` is `--metrics-listen` (what each sweep adds, served to Prometheus); `source`
//! fetches host lists; `privileges` drops root and the socket capabilities (right after the sockets open, before
//! anything else runs); `files` is how the cache and the spool are written and read (private directories,
//! temporary files created new, no link followed); `vantage` is the name a pinger's results are stored under.

pub mod alarm;
pub mod cli;
pub mod config;
pub mod engine;
pub mod files;
pub mod list;
pub mod metrics;
pub mod migrate;
pub mod outcome;
pub mod output;
pub mod privileges;
pub mod probe;
pub mod report;
pub mod run;
pub mod serve;
pub mod signals;
pub mod socket;
pub mod source;
pub mod store;
pub mod summary;
pub mod targets;
pub mod time;
pub mod vantage;
pub mod wire;

/// For the fuzz targets in `fuzz/` only: what a spooled record's replay does short of Postgres, the binary COPY
/// encoding, which is private to the store otherwise. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::store::copy::encode as copy_encode;
}

use std::io;

pub use list::collect_targets;
pub use run::{run, run_every};
pub use signals::{install_signal_handlers, STOP};
pub use summary::Summary;

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
