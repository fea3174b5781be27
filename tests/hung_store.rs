//! Stores that hang rather than fail: a Postgres frozen by SIGSTOP (its kernel still accepts and acknowledges, the
//! server never answers) and a Redis that accepts connections and never says a word. The sweep must neither
//! stall nor lose a result: every host printed ends in Postgres or in the spool, and SIGTERM is still heard.
//!
//! Two tests sweep slowly (25 hosts a second) for about four minutes, so that a frozen Postgres meets a long run
//! of results: that is the time it takes, not a bound on anything. They stay under the writer's queue bound
//! (`STORE_QUEUE_ROWS`, 50,000 rows), so what the hung writer never took is in memory and the rescue spools it;
//! `spilled_results_of_a_hung_writer_are_counted_once_and_stored_by_the_next_run` makes the bound small, so that
//! most results are already in the spool (spilled) when the rescue comes.

mod common;

use common::stores::{Frozen, PgServer};
use common::*;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running pinger whose stdout and stderr are read as they come, as a log collector would.
struct Running {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Starts it; `on_stderr` sees each stderr line the moment it is printed.
    fn start(cmd: &mut std::process::Command, on_stderr: impl Fn(&str) + Send + 'static) -> Running {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn pinger");
        let (stdout, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(String::new())));
        let (mut out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let o = stdout.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1 << 16];
            while let Ok(n @ 1..) = out.read(&mut buf) {
                o.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let e = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                on_stderr(&line);
                let mut e = e.lock().unwrap();
                e.push_str(&line);
                e.push('\n');
            }
        });
        Running { child, stdout, stderr }
    }

    fn printed_anything(&self) -> bool {
        self.stdout.lock().unwrap().contains(&b'\n')
    }

    /// Waits for the first host to be printed: by then pinger has connected Postgres and the sweep runs.
    fn wait_for_output(&mut self) {
        let t = Instant::now();
        while !self.printed_anything() {
            assert!(self.child.try_wait().unwrap().is_none(), "pinger ended before printing:\n{}", self.err());
            assert!(t.elapsed() < Duration::from_secs(60), "nothing printed in a minute:\n{}", self.err());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn err(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until it exits; kills it and fails after `limit` (a hang guard, not a claim about speed).
    fn wait(mut self, limit: Duration, what: &str) -> std::process::Output {
        let t = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if t.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{what}: still running after {limit:?}, killed\n{}", self.err());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers end at EOF, right after the exit.
        std::thread::sleep(Duration::from_millis(200));
        let out = std::process::Output {
            status,
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.err().into_bytes(),
        };
        assert!(!self.err().contains("panicked"), "pinger panicked:\n{}", self.err());
        out
    }
}

/// Runs small sweeps against the thawed server, which store what the spool holds, and returns the hosts
/// Postgres has for the sweep of `host_count` hosts. A run stores spool files until its stores' deadline and
/// leaves the rest to the next (hundreds of small files take longer than that on a loaded machine): as from
/// cron, the next runs finish the work, each storing some.
fn stored_after_replay(pg: &PgServer, spool: &std::path::Path, host_count: usize) -> HashSet<String> {
    // Rows of the spooled sweep in Postgres (the replay runs' own host left out).
    let stored =
        || pg.query("SELECT count(*) FROM pinger_data WHERE host <> '127.255.0.1'").trim().parse::<u64>().unwrap();
    for attempt in 1.. {
        let before = stored();
        let next = run(pinger()
            .args(["127.255.0.1", "--format", "none", "--no-redis"])
            .arg("--spool-dir")
            .arg(spool)
            .env("DATABASE_URL", pg.url()));
        if next.status.code() == Some(0) {
            break;
        }
        assert_eq!(next.status.code(), Some(5), "the next run stores the spool:\n{}", stderr(&next));
        // A run that ran out of time (its summary then says "postgres timed out") must still have stored some.
        assert!(stored() > before, "a run stored nothing of the spool:\n{}", stderr(&next));
        assert!(attempt < 10, "the spool still waits after 10 runs:\n{}", stderr(&next));
    }
    let hosts = pg.query(&format!(
        "SELECT host(host) FROM pinger_data WHERE sweep_id = (SELECT id FROM sweeps WHERE host_count = {host_count})"
    ));
    hosts.lines().map(str::to_string).collect()
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn no_result_falls_between_a_hung_writer_and_the_rescue() {
    need_root();
    let pg = PgServer::start("handover");
    let spool = spool_dir("handover");
    // A Redis that accepts and never answers: the writer spends its first seconds trying it, before its first
    // Postgres write, which gives the test the moment to freeze Postgres under that write.
    let redis = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let redis_url = format!("redis://127.0.0.1:{}/", redis.local_addr().unwrap().port());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in redis.incoming() {
            held.push(conn);
        }
    });
    let n = 300_000u32;
    let list = list_file("hung-handover.txt", loopback(n));
    let frozen: Arc<Mutex<Option<Frozen>>> = Arc::default();
    let thawed_at_rescue = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (f, t) = (frozen.clone(), thawed_at_rescue.clone());
    // The moment the rescue begins, Postgres answers again: a writer that was stuck wakes up right then, and must
    // take nothing the rescue does not also have.
    let mut running = Running::start(
        pinger()
            .arg("--hosts-file")
            .arg(&list)
            .args(["--count", "0", "--rate", "0", "--format", "json", "--no-progress", "--store-timeout", "1"])
            .arg("--spool-dir")
            .arg(&spool)
            .env("DATABASE_URL", pg.url())
            .env("REDIS_URL", &redis_url),
        move |line| {
            if line.contains("did not finish within") {
                if let Some(frozen) = f.lock().unwrap().as_ref() {
                    frozen.thaw();
                    t.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
        },
    );
    running.wait_for_output();
    *frozen.lock().unwrap() = Some(pg.freeze());
    // A writer that woke up and took results starts a COPY: freeze the server again under it, so that what it
    // took is neither stored nor spooled by it before pinger exits.
    let mut refrozen = None;
    while running.child.try_wait().unwrap().is_none() {
        if refrozen.is_none() && thawed_at_rescue.load(std::sync::atomic::Ordering::SeqCst) {
            let copying = pg.query(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pinger' AND query LIKE 'COPY%' \
                 AND state <> 'idle'",
            );
            if copying != "0" {
                refrozen = Some(pg.freeze());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = running.wait(Duration::from_secs(600), "a sweep with hung stores");
    drop(refrozen);
    drop(frozen.lock().unwrap().take());
    let err = stderr(&out);
    assert!(thawed_at_rescue.load(std::sync::atomic::Ordering::SeqCst), "the rescue never began:\n{err}");
    assert_eq!(out.status.code(), Some(5), "{err}");
    let printed: HashSet<String> = results_by_host(&out).into_keys().collect();
    assert_eq!(printed.len(), n as usize, "every host printed:\n{err}");
    let stored = stored_after_replay(&pg, &spool, n as usize);
    let lost: Vec<&String> = printed.difference(&stored).take(5).collect();
    assert!(lost.is_empty(), "{} printed results are neither in Postgres nor in the spool, e.g. {lost:?}", {
        printed.difference(&stored).count()
    });
}

/// Sweeps for minutes: a handover per host at this rate.
const RATE: &str = "25";

/// A sweep of `list` at [`RATE`] into `pg` (Redis left out), spooling into `spool`, JSON on stdout.
fn slow_sweep(pg: &PgServer, list: &std::path::Path, spool: &std::path::Path) -> Running {
    Running::start(
        pinger()
            .arg("--hosts-file")
            .arg(list)
            .args(["--count", "0", "--rate", RATE, "--format", "json", "--no-progress", "--no-redis"])
            .args(["--store-timeout", "1"])
            .arg("--spool-dir")
            .arg(spool)
            .env("DATABASE_URL", pg.url()),
        |_| {},
    )
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_hung_postgres_never_stalls_the_sweep() {
    need_root();
    let pg = PgServer::start("stall");
    let spool = spool_dir("stall");
    let n = 6000u32; // four minutes at 25 hosts a second
    let list = list_file("hung-stall.txt", loopback(n));
    let mut running = slow_sweep(&pg, &list, &spool);
    running.wait_for_output();
    let frozen = pg.freeze();
    let out = running.wait(Duration::from_secs(600), "a sweep with a frozen Postgres");
    drop(frozen);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    let printed = results_by_host(&out);
    assert_eq!(printed.len(), n as usize, "every host reported:\n{err}");
    let timed_out: Vec<&String> = printed.iter().filter(|(_, v)| v["status"] != "alive").map(|(h, _)| h).collect();
    assert!(timed_out.is_empty(), "{} loopback hosts not alive, e.g. {:?}", timed_out.len(), &timed_out[..1]);
    let printed: HashSet<String> = printed.into_keys().collect();
    assert_eq!(stored_after_replay(&pg, &spool, n as usize), printed, "every result spooled, then stored");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn sigterm_ends_a_sweep_whose_postgres_hangs_and_spools_what_it_printed() {
    need_root();
    let pg = PgServer::start("sigterm");
    let spool = spool_dir("sigterm");
    let n = 20_000u32; // far longer than the test waits
    let list = list_file("hung-sigterm.txt", loopback(n));
    let mut running = slow_sweep(&pg, &list, &spool);
    running.wait_for_output();
    let frozen = pg.freeze();
    // Thousands of results handed to a writer that takes none.
    std::thread::sleep(Duration::from_secs(230));
    assert!(running.child.try_wait().unwrap().is_none(), "ended before the signal:\n{}", running.err());
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(running.child.id() as i32, libc::SIGTERM) };
    // The store stays frozen the whole time: pinger must end on its own deadline, not on the store's return.
    let out = running.wait(Duration::from_secs(30), "SIGTERM with a frozen Postgres");
    drop(frozen);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "swept, not stored: exit code 5\n{err}");
    assert!(err.contains("interrupted by a signal"), "{err}");
    let printed = results_by_host(&out);
    assert!(printed.len() > 4096, "only {} hosts printed in 230 s:\n{err}", printed.len());
    assert!(printed.values().all(|v| v["status"] == "alive"), "a loopback host not alive:\n{err}");
    let printed: HashSet<String> = printed.into_keys().collect();
    assert_eq!(stored_after_replay(&pg, &spool, n as usize), printed, "what was printed was spooled, then stored");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn spilled_results_of_a_hung_writer_are_counted_once_and_stored_by_the_next_run() {
    need_root();
    let pg = PgServer::start("spilled");
    let spool = spool_dir("spilled");
    let n = 20_000u32;
    let list = list_file("hung-spilled.txt", loopback(n));
    let mut running = Running::start(
        pinger()
            .arg("--hosts-file")
            .arg(&list)
            // Four seconds of sweep with the writer stuck from its first batch: nearly all of it spills.
            .args(["--count", "0", "--rate", "5000", "--format", "json", "--no-progress", "--no-redis"])
            .args(["--store-timeout", "1"])
            .arg("--spool-dir")
            .arg(&spool)
            .env("PINGER_STORE_QUEUE_ROWS", "500")
            .env("DATABASE_URL", pg.url()),
        |_| {},
    );
    running.wait_for_output();
    let frozen = pg.freeze();
    let out = running.wait(Duration::from_secs(300), "a sweep spilling to the spool with a frozen Postgres");
    drop(frozen);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    let printed: HashSet<String> = results_by_host(&out).into_keys().collect();
    assert_eq!(printed.len(), n as usize, "every host printed:\n{err}");
    // Spooled rows are counted once each, whether the writer kept its spilled files or a rescue found them. (A
    // rescue reports only what it spooled itself and found: the writer's earlier counts go with it.)
    let line = err.lines().find(|l| l.starts_with("pinger: stored:")).expect("a stored line");
    let number_before = |word: &str| -> u64 {
        let words: Vec<&str> = line.split_whitespace().collect();
        let i = words.iter().position(|w| *w == word).unwrap_or_else(|| panic!("{word} in {line}"));
        words[i - 1].parse().unwrap_or_else(|_| panic!("a number before {word} in {line}"))
    };
    let spooled = number_before("rows;");
    assert!(spooled <= u64::from(n), "{spooled} rows spooled of {n}: counted twice\n{err}");
    if !line.contains("timed out") {
        let in_pg = line.split("postgres ").nth(1).and_then(|r| r.split(' ').next()).and_then(|r| r.parse().ok());
        assert_eq!(in_pg.unwrap_or(0) + spooled, u64::from(n), "every row stored or spooled, once:\n{err}");
    }
    assert_eq!(stored_after_replay(&pg, &spool, n as usize), printed, "every result spooled, then stored");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_postgres_frozen_before_the_run_counts_as_away_and_the_run_spools() {
    need_root();
    let pg = PgServer::start("frozen-first");
    pg.apply("schema.sql");
    let spool = spool_dir("frozen-first");
    let n = 20u32;
    let list = list_file("hung-frozen-first.txt", loopback(n));
    // Frozen before pinger connects: the kernel still completes the TCP connect, then nothing answers.
    let frozen = pg.freeze();
    let running = Running::start(
        pinger()
            .arg("--hosts-file")
            .arg(&list)
            .args(["--count", "0", "--format", "json", "--no-progress", "--no-redis", "--store-timeout", "1"])
            .arg("--spool-dir")
            .arg(&spool)
            .env("DATABASE_URL", pg.url()),
        |_| {},
    );
    let out = running.wait(Duration::from_secs(60), "a sweep whose Postgres was frozen before it started");
    drop(frozen);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "swept, spooled: exit code 5\n{err}");
    assert!(err.contains("no answer within 2 s"), "{err}");
    let printed = results_by_host(&out);
    assert_eq!(printed.len(), n as usize, "every host reported:\n{err}");
    let printed: HashSet<String> = printed.into_keys().collect();
    assert_eq!(stored_after_replay(&pg, &spool, n as usize), printed, "every result spooled, then stored");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn continuous_mode_with_a_frozen_postgres_keeps_one_connection_attempt_not_one_per_sweep() {
    need_root();
    let pg = PgServer::start("frozen-every");
    pg.apply("schema.sql");
    let spool = spool_dir("frozen-every");
    let frozen = pg.freeze();
    let mut running = Running::start(
        pinger()
            .args(["127.0.0.1", "--every", "1s", "--format", "json", "--no-progress", "--no-redis"])
            .args(["--store-timeout", "1"])
            .arg("--spool-dir")
            .arg(&spool)
            .env("DATABASE_URL", pg.url()),
        |_| {},
    );
    // Each sweep gives up on the frozen server after 2 s; a dozen seconds is several sweeps.
    let started = Instant::now();
    let mut most = 0;
    while started.elapsed() < Duration::from_secs(12) {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", running.child.id())).map(|d| {
            d.filter_map(|t| t.ok())
                .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "pinger-pg-open"))
                .count()
        });
        most = most.max(tasks.unwrap_or(0));
        assert!(running.child.try_wait().unwrap().is_none(), "pinger ended:\n{}", running.err());
        std::thread::sleep(Duration::from_millis(100));
    }
    let sweeps = running.err().matches("pinger: list: command line").count();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(running.child.id() as i32, libc::SIGTERM) };
    let out = running.wait(Duration::from_secs(60), "SIGTERM in continuous mode with a frozen Postgres");
    drop(frozen);
    let err = stderr(&out);
    assert!(sweeps >= 3, "only {sweeps} sweeps in 12 s:\n{err}");
    assert_eq!(most, 1, "connection attempts stuck at once (one per sweep would be {sweeps}):\n{err}");
    assert!(err.contains("the last connection attempt still waits for an answer"), "{err}");
    assert_eq!(out.status.code(), Some(5), "{err}");
}
