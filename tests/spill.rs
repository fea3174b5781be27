//! A writer that falls behind the sweep: results beyond a bound go to the spool and come back to both stores
//! within the run, so that what the stores cost in memory does not grow with the list. Real Redis and Postgres
//! (private servers per test); Postgres is made slow by freezing it (SIGSTOP) for a few seconds mid-sweep.

mod common;

use common::stores::{PgServer, RedisServer};
use common::*;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` with stdout to a file; once it has printed a host, freezes `pg` for `frozen` (so the writer falls
/// behind), then waits for the end. Returns the output and the child's peak RSS in kB: its `VmHWM`, read until it
/// exits (the last read is at most 20 ms before the end). Not wait4's `ru_maxrss`: Linux carries the parent's
/// own peak into it at exec, and this test process held the 1,000,000 lines of the run before.
#[allow(clippy::zombie_processes, reason = "reaped by waitpid, so that VmHWM can be read until the end")]
fn run_with_postgres_frozen(cmd: &mut Command, tag: &str, pg: Option<&PgServer>, frozen: Duration) -> (Output, i64) {
    let out_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("spill-{tag}-{}.json", std::process::id()));
    let err_path = out_path.with_extension("err");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn pinger");
    let pid = child.id() as libc::pid_t;
    let reap = |flags| {
        let mut status = 0;
        // SAFETY: waitpid(2) on our own child's pid, with a pointer to a local.
        let reaped = unsafe { libc::waitpid(pid, &mut status, flags) };
        assert!(reaped >= 0, "waitpid: {}", std::io::Error::last_os_error());
        (reaped == pid).then_some(status)
    };
    let mut peak_kb = 0i64;
    let mut hwm = || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next());
        if let Some(kb) = kb.and_then(|k| k.parse().ok()) {
            peak_kb = kb;
        }
    };
    let started = Instant::now();
    let mut ended = None;
    if let Some(pg) = pg {
        while std::fs::metadata(&out_path).map_or(0, |m| m.len()) == 0 {
            hwm();
            ended = reap(libc::WNOHANG);
            assert!(ended.is_none(), "pinger ended before printing a host");
            assert!(started.elapsed() < Duration::from_secs(120), "nothing printed in two minutes");
            std::thread::sleep(Duration::from_millis(5));
        }
        let ice = pg.freeze();
        std::thread::sleep(frozen);
        drop(ice);
    }
    let status = loop {
        hwm();
        if let Some(done) = ended.take().or_else(|| reap(libc::WNOHANG)) {
            break done;
        }
        if started.elapsed() > Duration::from_secs(600) {
            // SAFETY: kill(2) on our own child, then reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = reap(0);
            panic!("still running after 10 minutes, killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    let out = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: std::fs::read(&out_path).expect("stdout"),
        stderr: std::fs::read(&err_path).expect("stderr"),
    };
    let _ = (std::fs::remove_file(&out_path), std::fs::remove_file(&err_path));
    assert!(!stderr(&out).contains("panicked"), "pinger panicked:\n{}", stderr(&out));
    (out, peak_kb)
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn rows_spilled_while_postgres_lagged_are_in_postgres_once_and_in_redis_by_the_end_of_the_run() {
    need_root();
    let (pg, redis) = (PgServer::start("spill"), RedisServer::start());
    let spool = spool_dir("rows");
    let n = 5000u32;
    let list = list_file("spill-rows.txt", loopback(n));
    let (out, _) = run_with_postgres_frozen(
        pinger()
            .arg("--hosts-file")
            .arg(&list)
            // Two seconds of sweep, so that Postgres is frozen while results keep coming.
            .args(["--count", "0", "--rate", "2500", "--format", "json", "--no-progress", "--store-timeout", "20"])
            .arg("--spool-dir")
            .arg(&spool)
            .env("PINGER_STORE_QUEUE_ROWS", "200")
            .env("DATABASE_URL", pg.url())
            .env("REDIS_URL", redis.url()),
        "rows",
        Some(&pg),
        Duration::from_millis(1500),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("rows spilled to the spool and stored from it"), "nothing spilled:\n{err}");
    assert_eq!(spooled_files(&spool), 0, "every spilled file removed once stored:\n{err}");
    let printed: HashSet<String> = results_by_host(&out).into_keys().collect();
    assert_eq!(printed.len(), n as usize, "{err}");
    let sweep = pg.query("SELECT id FROM sweeps");
    assert_eq!(
        pg.query(&format!(
            "SELECT count(*) || ' ' || count(DISTINCT host) FROM pinger_data WHERE sweep_id = '{sweep}'"
        )),
        format!("{n} {n}"),
        "every row in Postgres exactly once:\n{err}"
    );
    let stored: HashSet<String> = pg.query("SELECT host(host) FROM pinger_data").lines().map(str::to_string).collect();
    assert_eq!(stored, printed);
    assert_eq!(pg.query("SELECT finished_at IS NOT NULL FROM sweeps"), "t", "the final record came last");
    for host in &printed {
        let v: serde_json::Value = serde_json::from_str(&redis.cli(&["GET", host])).expect("a Redis value");
        assert_eq!(v["sweep"].as_str(), Some(sweep.as_str()), "{host} in Redis");
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_frozen_postgres_costs_a_fixed_allowance_of_memory_not_one_per_host() {
    need_root();
    let (pg, redis) = (PgServer::start("spill-mem"), RedisServer::start());
    let spool = spool_dir("mem");
    let n = 600_000u32;
    let list = list_file("spill-mem.txt", loopback(n));
    let sweep = |stores: bool| {
        let mut c = pinger();
        c.arg("--hosts-file")
            .arg(&list)
            .args(["--count", "0", "--rate", "0", "--timeout", "1000", "--format", "json", "--no-progress"])
            .args(["--store-timeout", "20"])
            .arg("--spool-dir")
            .arg(&spool);
        match stores {
            true => c.env("DATABASE_URL", pg.url()).env("REDIS_URL", redis.url()),
            false => c.arg("--no-store"),
        };
        c
    };
    let (bare, bare_kb) = run_with_postgres_frozen(&mut sweep(false), "mem-bare", None, Duration::ZERO);
    assert_eq!(bare.status.code(), Some(0), "{}", stderr(&bare));
    drop(bare);
    // Frozen longer than the sweep takes: without a bound, every result would wait in memory.
    let (out, stores_kb) = run_with_postgres_frozen(&mut sweep(true), "mem-stores", Some(&pg), Duration::from_secs(6));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let extra_mb = (stores_kb - bare_kb) / 1024;
    eprintln!("peak RSS: {bare_kb} kB without stores, {stores_kb} kB with Postgres frozen ({extra_mb} MB more)");
    // A result waiting in memory is over 100 bytes (HostResult 104, Row 136): 600,000 of them would be 60 MB
    // and more. What the stores may cost is a few batches in flight, whatever the list size (34 MB measured at
    // 300,000 hosts and at 1,000,000).
    assert!(extra_mb < 48, "the stores cost {extra_mb} MB over the {} MB of a sweep without them", bare_kb / 1024);
    assert!(err.contains("rows spilled to the spool"), "{err}");
    assert_eq!(results_by_host(&out).len(), n as usize, "{err}");
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data"), n.to_string(), "every row stored:\n{err}");
    assert_eq!(spooled_files(&spool), 0, "{err}");
}
