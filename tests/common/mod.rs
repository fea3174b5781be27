//! Shared by the end-to-end tests: run the real binary with the network guard set, read its JSON Lines.
#![allow(dead_code)]

pub mod browser;
pub mod certs;
pub mod history;
pub mod http;
pub mod serve;
pub mod sim;
pub mod stores;

use std::collections::HashMap;
use std::process::{Command, Output};

use serde_json::Value;

/// Every child gets this guard, so that even a bug in pinger cannot send beyond loopback and test ranges.
pub const ALLOW: &str = "127.0.0.0/8,::1/128,198.18.0.0/15,2001:db8::/32";

/// Store settings pinger reads from the environment; tests start from none of them.
pub const STORE_ENV: [&str; 13] = [
    "DATABASE_URL",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "REDIS_CA_CERT",
    "PINGER_SPOOL_DIR",
    "PGPASSWORD",
];

/// A working directory with no `hosts` file, so that no test can fall back to the shipped list of public
/// resolvers (which must never be swept here), and no `.env`.
pub fn workdir() -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("workdir");
    std::fs::create_dir_all(&d).expect("workdir");
    assert!(!d.join("hosts").exists() && !d.join(".env").exists());
    d
}

pub fn pinger() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pinger"));
    c.env("PINGER_ALLOW", ALLOW).current_dir(workdir());
    for k in STORE_ENV {
        c.env_remove(k);
    }
    c
}

/// Tests that need root (raw sockets, network namespaces, servers run as user postgres) are marked
/// `#[cfg_attr(not(pinger_root), ignore = "needs root ...")]`: `build.rs` sets `pinger_root` when the build runs
/// as root or under `CI=true`, so a build by another user lists them as ignored, with the reason, rather than
/// passing them without running. This is their first line, for what the build could not know: a binary built as
/// root and run by another user (`--include-ignored`, or a CI that is not root) fails here, loudly, and never
/// passes by doing nothing.
pub fn need_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        let why = if std::env::var("CI").as_deref() == Ok("true") {
            "CI runs as root, so the CI environment is broken"
        } else if cfg!(pinger_root) {
            "this build was made as root: run as root, or rebuild as this user to see the test ignored"
        } else {
            "it is ignored for this user (--include-ignored ran it): run as root"
        };
        panic!("this test needs root (raw sockets, network namespaces) and runs as uid {euid}: {why}");
    }
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run pinger");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "pinger panicked:\n{stderr}");
    out
}

/// A child's output and the most memory it held.
pub struct Measured {
    pub out: Output,
    /// Peak resident set size, in kB (the kernel's `ru_maxrss` for this one child).
    pub peak_rss_kb: i64,
}

/// Runs `cmd` with its address space capped at `max_bytes`, so that a runaway allocation fails in the child and
/// not on the machine; kills it and fails the test after `deadline` (a hang guard, not a performance claim).
#[allow(clippy::zombie_processes, reason = "reaped by wait4, which Child::wait cannot replace here")]
pub fn run_measured(cmd: &mut Command, max_bytes: u64, deadline: std::time::Duration) -> Measured {
    use std::io::Read;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let limit = libc::rlimit { rlim_cur: max_bytes, rlim_max: max_bytes };
    // SAFETY: setrlimit(2) is async-signal-safe, as code between fork and exec must be.
    unsafe {
        cmd.pre_exec(move || match libc::setrlimit(libc::RLIMIT_AS, &limit) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    // wait4 rather than Child::wait: it gives this child's own peak RSS (getrusage(RUSAGE_CHILDREN) would give
    // the largest of every child the test process ever waited for).
    let pid = child.id() as libc::pid_t;
    let started = std::time::Instant::now();
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: a zeroed rusage is valid; wait4(2) fills it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4(2) on our own child's pid, with pointers to locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break (status, usage);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            // SAFETY: as above; reaps the killed child.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            let err = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
            panic!("still running after {deadline:?}: killed\n{err}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let out = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "pinger panicked:\n{err}");
    Measured { out, peak_rss_kb: usage.ru_maxrss }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON Lines on stdout, keyed by host; fails if a host appears twice.
pub fn results_by_host(out: &Output) -> HashMap<String, Value> {
    let mut by_host = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
        let host = v["host"].as_str().expect("host field").to_string();
        assert!(by_host.insert(host.clone(), v).is_none(), "{host} reported twice");
    }
    by_host
}

/// A spool directory of one test's own (`tag`), empty, under cargo's directory for test files; the process id
/// keeps two runs of the suite apart.
pub fn spool_dir(tag: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("spool-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Records waiting in a spool directory (`*.json`); 0 when there is no such directory.
pub fn spooled_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map_or(0, |d| d.filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "json")).count())
}

/// Writes `lines` to a fresh file under the test's temporary directory.
pub fn list_file(name: &str, lines: impl IntoIterator<Item = String>) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let text: String = lines.into_iter().map(|l| l + "\n").collect();
    std::fs::write(&path, text).expect("write list");
    path
}

/// The n loopback addresses from 127.0.0.1 upward.
pub fn loopback(n: u32) -> impl Iterator<Item = String> {
    let first = u32::from(std::net::Ipv4Addr::new(127, 0, 0, 1));
    (0..n).map(move |i| std::net::Ipv4Addr::from(first + i).to_string())
}

/// A number from the summary on stderr, e.g. `summary_number(&err, "alive")` for "... 70000 alive, ...".
pub fn summary_number(stderr: &str, label: &str) -> u64 {
    let words: Vec<&str> = stderr.split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '(').collect();
    words
        .windows(2)
        .find(|w| w[1] == label && w[0].parse::<u64>().is_ok())
        .and_then(|w| w[0].parse().ok())
        .unwrap_or_else(|| panic!("no '{label}' count in the summary:\n{stderr}"))
}

/// A network namespace of the test's own, deleted on drop (even when the test fails). Inside it only loopback
/// exists, plus whatever the test adds, so nothing sent there can leave the machine.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!("pinger-{tag}-{}", std::process::id());
        let ns = Netns { name };
        ns.ip(&["netns", "add", &ns.name]);
        ns.ip_in(&["link", "set", "lo", "up"]);
        ns
    }

    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").args(args).output().expect("run ip (iproute2)");
        assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }

    /// `ip -n NS ARGS`.
    pub fn ip_in(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        self.ip(&all);
    }

    /// Runs a command inside the namespace; it must succeed.
    pub fn exec(&self, args: &[&str]) {
        let out = Command::new("ip").args(["netns", "exec", &self.name]).args(args).output().expect("ip netns exec");
        assert!(out.status.success(), "{}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }

    /// pinger run inside the namespace.
    pub fn pinger(&self) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, env!("CARGO_BIN_EXE_pinger")])
            .env("PINGER_ALLOW", ALLOW)
            .current_dir(workdir());
        for k in STORE_ENV {
            c.env_remove(k);
        }
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}
