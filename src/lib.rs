//! pinger: sweep large host lists with ICMP echo from one raw socket.
//!
//! The data path, and the module that owns each step:
//!
//! ```text
//! cli (argh) -> config (validated, defaults) -> targets (parse, dedupe, allow/deny, --count)
//!    -> probe::Prober (sans-IO core: tagging, in-flight table, timer wheel, rate, verdicts)
//!       <-> engine (mio loop) <-> socket (raw ICMP socket, sendmmsg/recvmmsg, kernel timestamps)
//!    -> outcome::HostResult over a crossbeam channel -> output (table / JSON Lines, progress, summary)
//! ```
//!
//! `wire` is the only user of etherparse; `probe` and `wire` never touch a socket, a clock or a thread.

pub mod cli;
pub mod config;
pub mod engine;
pub mod outcome;
pub mod output;
pub mod probe;
pub mod socket;
pub mod targets;
pub mod time;
pub mod wire;

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::time::Instant;

use config::Config;
use outcome::{Stats, Status};
use probe::{Key, Prober};
use targets::{Collector, ListReport};

/// Everything that can stop a sweep; `main` maps each to a documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("cannot read host list {path}: {source}")]
    HostsFile { path: String, source: io::Error },
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
}

impl Error {
    /// The process exit code (documented in the README).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::HostsFile { .. } | Error::Setup(_) => 2,
            Error::NoTargets => 3,
            Error::Socket(socket::SocketError::NoPermission { .. }) => 4,
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
    pub stats: Stats,
    pub wall: std::time::Duration,
    pub rcvbuf: usize,
    pub output_broken: bool,
}

/// Reads the targets the configuration names.
pub fn collect_targets(cfg: &Config) -> Result<(Vec<std::net::IpAddr>, ListReport), Error> {
    let mut c = Collector::new(cfg.filter.clone(), cfg.count);
    for t in &cfg.targets {
        c.add(*t);
    }
    if let Some(path) = &cfg.hosts_file {
        let err = |source| Error::HostsFile { path: path.clone(), source };
        if path == "-" {
            c.read("stdin", io::stdin().lock()).map_err(err)?;
        } else {
            let f = File::open(path).map_err(err)?;
            c.read(path, BufReader::with_capacity(1 << 16, f)).map_err(err)?;
        }
    }
    Ok(c.finish())
}

/// One whole sweep: list, socket, engine, output. The summary goes to stderr.
pub fn run(cfg: Config) -> Result<Summary, Error> {
    let started = Instant::now();
    let (hosts, list) = collect_targets(&cfg)?;
    for (source, line, text) in &list.invalid_examples {
        eprintln!("pinger: {source}:{line}: not an address or CIDR block: {text:?}");
    }
    if hosts.is_empty() {
        print_summary(&Summary { list, ..Summary::default() });
        return Err(Error::NoTargets);
    }
    let total_probes = hosts.len() * usize::from(cfg.probe.probes);
    let (sock, info) = socket::IcmpSocket::open_v4((total_probes * 1024).clamp(1 << 20, 64 << 20))?;
    let mut clock = engine::Clock::default();
    let key = Key::random().map_err(Error::Random)?;
    let mut prober = Prober::new(hosts, cfg.probe, key, clock.now())?;
    let n = prober.host_count();
    let ipv6 = false;
    let printer = output::spawn(cfg.format, n, ipv6, cfg.progress);
    let mut summary = Summary { hosts: n, list, rcvbuf: info.rcvbuf, ..Summary::default() };
    let swept = engine::sweep(&sock, &mut prober, &mut clock, |batch| {
        for r in batch.iter() {
            match r.status {
                Status::Alive => summary.alive += 1,
                Status::Timeout => summary.timeout += 1,
                Status::Unreachable => summary.unreachable += 1,
            }
        }
        printer.send(batch);
    });
    let report = printer.finish();
    summary.output_broken = report.broken.is_some();
    summary.stats = *prober.stats();
    summary.wall = started.elapsed();
    swept?;
    print_summary(&summary);
    Ok(summary)
}

pub fn print_summary(s: &Summary) {
    let l = &s.list;
    let st = &s.stats;
    let secs = s.wall.as_secs_f64().max(1e-9);
    let mut e = io::stderr().lock();
    let _ = writeln!(
        e,
        "pinger: {} hosts: {} alive, {} timeout, {} unreachable; skipped {} (reserved {}, outside allow list {}, \
         IPv6 {}); invalid lines {}; duplicate entries {}{}",
        s.hosts,
        s.alive,
        s.timeout,
        s.unreachable,
        l.skipped(),
        l.reserved,
        l.not_allowed,
        l.ipv6,
        l.invalid,
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
        let _ = writeln!(
            e,
            "pinger: wall {:.3} s, {:.0} packets/s; receive buffer {} bytes{}",
            secs,
            (st.sent + st.received) as f64 / secs,
            s.rcvbuf,
            if s.output_broken { "; stdout closed early, per-host output incomplete" } else { "" },
        );
    }
}
