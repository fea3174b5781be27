//! One run of pinger, start to end: the sockets (and dropping privileges), the host list, the engine, the printer
//! and the writer, signals and continuous mode. The pieces live in their modules; this file only wires them.
//!
//! The order is the point: the raw sockets open first of all, then `--user` and the capabilities are dropped, and
//! only then does anything read or write on behalf of someone else (the list's fetch, gzip and cache, DNS, the
//! hosts file, the stores, the spool): a bug or a planted file there never meets root.

use std::io;
use std::time::Instant;

use crate::config::{self, Config};
use crate::list::collect_targets;
use crate::outcome::Status;
use crate::probe::{Key, Prober};
use crate::signals::{stopping, STOP};
use crate::summary::{print_summary, Summary};
use crate::targets;
use crate::{engine, output, privileges, socket, store, time, Error};

/// Connects the stores the configuration turns on and starts the writer. Postgres is connected here, before
/// the sweep, so that bad credentials stop the run before it probes anything; a Postgres that is merely away
/// means spooling. Redis connects inside the writer.
fn start_writer(
    cfg: &Config,
    sweep: store::SweepInfo,
    wall: time::WallClock,
) -> Result<Option<store::writer::Writer>, Error> {
    let sc = &cfg.store;
    if !sc.any() {
        return Ok(None);
    }
    let (postgres, spool) = match &sc.postgres {
        None => (None, None),
        Some(pc) => {
            let spool = store::spool::Spool::open(&sc.spool_dir)?;
            match store::postgres::Postgres::connect(pc.clone(), sc.timeout, sc.keep) {
                Ok(pg) => (Some(pg), Some(spool)),
                Err(store::StoreError::Refused(e) | store::StoreError::Rejected(e)) => {
                    return Err(Error::StoreRefused(e))
                }
                Err(store::StoreError::Unavailable(e)) => {
                    eprintln!("pinger: warning: {e}; results go to the spool {}", sc.spool_dir.display());
                    (None, Some(spool))
                }
            }
        }
    };
    let redis = sc.redis.clone().map(|info| {
        let (prefix, ttl, timeout) = (sc.redis_prefix.clone(), sc.redis_ttl, sc.timeout);
        Box::new(move || store::redis::Redis::connect(info.clone(), &prefix, ttl, timeout))
            as Box<dyn FnMut() -> Result<store::redis::Redis, store::StoreError> + Send>
    });
    Ok(Some(store::writer::Writer::spawn(store::writer::Setup {
        postgres,
        spool,
        redis,
        sweep,
        wall,
        batch_rows: config::STORE_BATCH_ROWS,
        batch_time: config::STORE_BATCH_TIME,
        queue_rows: queue_rows(),
    })))
}

/// [`config::STORE_QUEUE_ROWS`], or `PINGER_STORE_QUEUE_ROWS`: a tuning knob (the tests make it small, so that a
/// few thousand hosts are enough to make the writer spill).
fn queue_rows() -> usize {
    std::env::var("PINGER_STORE_QUEUE_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(config::STORE_QUEUE_ROWS)
}

/// The largest receive buffer a sweep asks for (about 1 KiB a probe, from 1 MiB up to this).
const MAX_RCVBUF: usize = 64 << 20;

fn rcvbuf_for(probes: usize) -> usize {
    probes.saturating_mul(1024).clamp(1 << 20, MAX_RCVBUF)
}

/// The raw sockets of a run, opened before the list is known (so both families, with the largest buffer), and
/// why a family did not open: told only if the list needs that family.
pub struct Opened {
    socks: engine::Sockets,
    v4_err: Option<socket::SocketError>,
    v6_err: Option<socket::SocketError>,
    /// The buffers were sized for the first list (they can only shrink once privileges are dropped).
    fitted: bool,
}

/// Opens the sockets, then drops privileges: `--user`, and CAP_NET_RAW/CAP_NET_ADMIN. A permission error ends the
/// run at once (no sweep is possible); another failure (IPv6 off in the kernel) waits until a host needs it.
fn open_then_drop(cfg: &Config) -> Result<Opened, Error> {
    let (v4, v4_err) = match socket::IcmpSocket::open_v4(MAX_RCVBUF) {
        Ok(s) => (Some(s), None),
        Err(e @ socket::SocketError::NoPermission { .. }) => return Err(e.into()),
        Err(e) => (None, Some(e)),
    };
    let (v6, v6_err) = match socket::IcmpSocket::open_v6(MAX_RCVBUF) {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    if let Some(user) = &cfg.user {
        let (uid, gid) = privileges::drop_to(user)?;
        eprintln!("pinger: running as {user} (uid {uid}, gid {gid}) after opening the raw socket");
    }
    privileges::drop_socket_caps()?;
    Ok(Opened { socks: engine::Sockets { v4, v6 }, v4_err, v6_err, fitted: false })
}

impl Opened {
    /// Checks that every family the hosts need has its socket, and, the first time, sizes the buffers for them.
    fn fit(&mut self, v4_probes: usize, v6_probes: usize) -> Result<(), Error> {
        let missing = |e: &mut Option<socket::SocketError>| {
            e.take().unwrap_or_else(|| socket::SocketError::Open(io::Error::other("the socket was closed")))
        };
        if v4_probes > 0 && self.socks.v4.is_none() {
            return Err(missing(&mut self.v4_err).into());
        }
        if v6_probes > 0 && self.socks.v6.is_none() {
            return Err(missing(&mut self.v6_err).into());
        }
        if !self.fitted {
            self.fitted = true;
            if let Some(s) = &self.socks.v4 {
                s.shrink_recv_buffer(rcvbuf_for(v4_probes));
            }
            if let Some(s) = &self.socks.v6 {
                s.shrink_recv_buffer(rcvbuf_for(v6_probes));
            }
        }
        Ok(())
    }
}

/// Continuous mode: a sweep every `cfg.every` (measured from the start of the previous one; a sweep that runs
/// longer is followed at once) until a signal. Returns the last sweep's summary; `all_stored` is false if any
/// sweep's results were left in the spool.
pub fn run_every(cfg: Config) -> Result<Summary, Error> {
    let every = cfg.every.unwrap_or(std::time::Duration::from_secs(60));
    let mut all_stored = true;
    // One pair of sockets for every sweep: they are opened before privileges are dropped, and a later list may
    // need the family the first did not.
    let mut opened = open_then_drop(&cfg)?;
    let metrics = cfg.metrics.as_ref().map(crate::metrics::serve).transpose()?;
    loop {
        let started = Instant::now();
        let mut summary = run_on(cfg.clone(), &mut opened, false, metrics.as_deref())?;
        all_stored &= summary.all_stored();
        while !stopping() && started.elapsed() < every {
            std::thread::sleep((every - started.elapsed()).min(std::time::Duration::from_millis(100)));
        }
        if stopping() {
            eprintln!("pinger: stopping on signal after the current sweep's results were written");
            summary.earlier_unstored = !all_stored;
            return Ok(summary);
        }
    }
}

/// One whole sweep: list, socket, engine, output, stores. The summary goes to stderr.
pub fn run(cfg: Config) -> Result<Summary, Error> {
    let mut opened = open_then_drop(&cfg)?;
    let metrics = cfg.metrics.as_ref().map(crate::metrics::serve).transpose()?;
    run_on(cfg, &mut opened, true, metrics.as_deref())
}

/// A sweep on sockets already open, privileges already dropped. `close_unused`: a single sweep closes the socket
/// of a family its list does not hold. A finished sweep is added to `metrics` (`--metrics-listen`).
fn run_on(
    cfg: Config,
    opened: &mut Opened,
    close_unused: bool,
    metrics: Option<&crate::metrics::Metrics>,
) -> Result<Summary, Error> {
    let started = Instant::now();
    let started_us = store::unix_us(std::time::SystemTime::now());
    let (hosts, list, origin) = collect_targets(&cfg)?;
    for (source, line, text) in &list.invalid_examples {
        eprintln!("pinger: {source}:{line}: not an address, CIDR block or host name: {text:?}");
    }
    for name in &list.unresolved_examples {
        match list.names_from_hosts_file {
            true => eprintln!(
                "pinger: host name not in {} (with PINGER_ALLOW or --allow set, names are looked up there only, \
                 never with DNS): {name}",
                crate::targets::HOSTS_FILE
            ),
            false => eprintln!("pinger: host name did not resolve: {name}"),
        }
    }
    if hosts.is_empty() {
        print_summary(&Summary { list, origin, ..Summary::default() });
        return Err(Error::NoTargets);
    }
    // Only `--in-order` needs the input order once the hosts are spread for probing.
    let input_order: Option<Vec<std::net::IpAddr>> = cfg.show.in_order.then(|| hosts.iter().collect());
    let hosts = targets::spread(hosts);
    let total_probes = hosts.len() * usize::from(cfg.probe.probes);
    let v6 = hosts.v6_len() * usize::from(cfg.probe.probes);
    opened.fit(total_probes - v6, v6)?;
    if close_unused {
        if v6 == 0 {
            opened.socks.v6 = None;
        }
        if total_probes == v6 {
            opened.socks.v4 = None;
        }
    }
    let socks = &opened.socks;
    let mut clock = engine::Clock::default();
    let key = Key::random().map_err(Error::Random)?;
    let mut prober = Prober::new(hosts, cfg.probe, key, clock.now())?;
    let n = prober.host_count();
    let mut sweep = store::SweepInfo {
        id: uuid::Uuid::now_v7(),
        started_us,
        finished_us: None,
        host_count: n as u64,
        alive: None,
        timeout: None,
        unreachable: None,
        source: origin.clone(),
        options: serde_json::json!({
            "count": cfg.count, "shard": cfg.shard.map(|s| s.to_string()), "timeout_ms": cfg.probe.timeout.as_millis() as u64, "probes": cfg.probe.probes,
            "interval_ms": cfg.probe.interval.as_millis() as u64, "rate": cfg.probe.rate,
        }),
        version: env!("CARGO_PKG_VERSION").into(),
        vantage: cfg.vantage.clone(),
    };
    let wall = time::WallClock::new(clock.to_unix_ns(time::Time::ZERO));
    let writer = start_writer(&cfg, sweep.clone(), wall)?;
    let ipv6 = prober.has_ipv6();
    let printer = output::spawn(cfg.show, n, input_order.as_deref(), ipv6, cfg.progress, wall);
    drop(input_order);
    let mut summary = Summary {
        hosts: n,
        list,
        origin,
        rcvbuf: socks.rcvbuf(),
        sweep_id: Some(sweep.id),
        postgres_on: cfg.store.postgres.is_some(),
        redis_on: cfg.store.redis.is_some(),
        ..Summary::default()
    };
    let mut observed = metrics.map(|m| crate::metrics::Observed::new(m.per_host));
    let swept = engine::sweep(socks, &mut prober, &mut clock, &STOP, |batch| {
        for r in batch.iter() {
            if let Some(o) = &mut observed {
                o.add(r);
            }
            match r.status {
                Status::Alive => {
                    summary.alive += 1;
                    summary.rtt.add(r);
                }
                Status::Timeout => summary.timeout += 1,
                Status::Unreachable => summary.unreachable += 1,
            }
        }
        if let Some(w) = &writer {
            w.send(batch.clone());
        }
        printer.send(batch);
    });
    summary.swept = started.elapsed();
    summary.interrupted = !prober.is_done();
    let report = printer.finish();
    summary.output_broken = report.broken.is_some();
    summary.stats = *prober.stats();
    if let Some(w) = writer {
        sweep.finished_us = Some(store::unix_us(std::time::SystemTime::now()));
        (sweep.alive, sweep.timeout, sweep.unreachable) =
            (Some(summary.alive as u64), Some(summary.timeout as u64), Some(summary.unreachable as u64));
        summary.store = Some(w.finish(sweep, cfg.store.timeout * 6));
    }
    summary.wall = started.elapsed();
    swept?;
    print_summary(&summary);
    if let (Some(m), Some(o)) = (metrics, observed) {
        m.record(&summary, started_us as f64 / 1e6, o);
    }
    Ok(summary)
}
