//! Real, private Redis and Postgres servers for one test each (from Debian's packages, which `.ci/run`
//! installs), on 127.0.0.1 and free ports, removed on drop. Tests may stop, kill and restart them.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PG_PASSWORD: &str = "pinger-test-secret-7Qx";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

fn need(ok: bool, what: &str) {
    if !ok {
        panic!("{what} (CI installs it in .ci/run: postgresql and redis-server from Debian)");
    }
}

fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path().join("bin"))).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    versions.sort();
    let bin = versions.pop();
    need(bin.is_some(), "no PostgreSQL server under /usr/lib/postgresql");
    bin.unwrap_or_default()
}

fn as_postgres(bin: &Path, tool: &str) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
    c
}

/// `tool` as user postgres, inside network namespace `netns` when one is given.
fn as_postgres_in(netns: Option<&str>, bin: &Path, tool: &str) -> Command {
    match netns {
        None => as_postgres(bin, tool),
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "runuser", "-u", "postgres", "--"]).arg(bin.join(tool));
            c
        }
    }
}

pub fn check(c: &mut Command, what: &str) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub struct PgServer {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    fsync: bool,
    /// The network namespace the server runs in (its 127.0.0.1 is the namespace's own).
    netns: Option<String>,
    /// TLS on, and only TLS accepted over TCP; listening on 127.0.0.1 and 127.0.0.2 (an address its
    /// certificate does not name), connections logged.
    tls: bool,
}

impl PgServer {
    /// A fresh cluster with password authentication and a database `pinger`, running. `fsync=off` only risks
    /// data on an operating-system crash; commits still survive a killed server process, as in production.
    pub fn start(tag: &str) -> PgServer {
        PgServer::start_with(tag, false)
    }

    /// As [`start`](Self::start); `fsync` on for benchmarks that must reflect a production server.
    pub fn start_with(tag: &str, fsync: bool) -> PgServer {
        PgServer::start_full(tag, fsync, None, None)
    }

    /// A server that accepts only TLS over TCP, with `certs`' server certificate.
    pub fn start_tls(tag: &str, certs: &super::certs::Certs) -> PgServer {
        PgServer::start_full(tag, false, None, Some(certs))
    }

    /// A server inside network namespace `netns`, for a pinger that sweeps inside it. Use [`query`](Self::query)
    /// (psql run inside the namespace); [`client`](Self::client) cannot reach it.
    pub fn start_in(tag: &str, netns: &str) -> PgServer {
        PgServer::start_full(tag, false, Some(netns.to_string()), None)
    }

    fn start_full(tag: &str, fsync: bool, netns: Option<String>, tls: Option<&super::certs::Certs>) -> PgServer {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!("pinger-pg-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pg dir");
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PG_PASSWORD).expect("pw file");
        if let Some(c) = tls {
            std::fs::copy(&c.server_cert, dir.join("server.pem")).expect("server cert");
            std::fs::copy(&c.server_key, dir.join("server.key")).expect("server key");
        }
        check(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir), "chown pg dir");
        check(
            as_postgres(&bin, "initdb")
                .args(["-D"])
                .arg(dir.join("data"))
                .args(["-U", "postgres", "-A", "scram-sha-256", "--no-sync", "--pwfile"])
                .arg(&pwfile),
            "initdb",
        );
        if tls.is_some() {
            let hba = "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n\
                       hostssl all all 127.0.0.2/32 scram-sha-256\n";
            std::fs::write(dir.join("data/pg_hba.conf"), hba).expect("pg_hba.conf");
        }
        if netns.is_some() {
            // Inside its own namespace the server listens on every address there, so that other namespaces reach
            // it over veth links (198.18.0.0/15, the test range); nothing outside the namespace can.
            let hba = std::fs::read_to_string(dir.join("data/pg_hba.conf")).expect("pg_hba.conf");
            std::fs::write(dir.join("data/pg_hba.conf"), hba + "host all all 198.18.0.0/15 scram-sha-256\n")
                .expect("pg_hba.conf");
        }
        let pg = PgServer { dir, bin, port: free_port(), fsync, netns, tls: tls.is_some() };
        pg.start_again();
        check(&mut pg.psql("postgres", "CREATE DATABASE pinger"), "create database");
        pg
    }

    pub fn start_again(&self) {
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses={} -c fsync={}",
            self.port,
            self.dir.display(),
            if self.netns.is_some() { "'*'" } else { "127.0.0.1" },
            if self.fsync { "on" } else { "off" }
        );
        if self.tls {
            let d = self.dir.display();
            opts += &format!(
                " -c listen_addresses=127.0.0.1,127.0.0.2 -c ssl=on -c ssl_cert_file={d}/server.pem \
                 -c ssl_key_file={d}/server.key -c log_connections=on"
            );
        }
        check(
            as_postgres_in(self.netns.as_deref(), &self.bin, "pg_ctl")
                .args(["-D"])
                .arg(self.dir.join("data"))
                .args(["-o", &opts, "-w", "-t", "60", "-l"])
                .arg(self.dir.join("log"))
                .arg("start"),
            "pg_ctl start",
        );
    }

    pub fn stop(&self) {
        check(
            as_postgres(&self.bin, "pg_ctl").args(["-D"]).arg(self.dir.join("data")).args(["-m", "fast", "-w", "stop"]),
            "pg_ctl stop",
        );
    }

    /// The connection URL pinger is given (tests pass it through the environment, never argv).
    pub fn url(&self) -> String {
        self.url_at("127.0.0.1")
    }

    /// The URL by another address of the server's namespace (one end of a veth link).
    pub fn url_at(&self, addr: &str) -> String {
        format!("postgres://postgres:{PG_PASSWORD}@{addr}:{}/pinger", self.port)
    }

    /// The server and all its backends.
    pub fn pids(&self) -> Vec<i32> {
        let pidfile = std::fs::read_to_string(self.dir.join("data/postmaster.pid")).expect("postmaster.pid");
        let pid: i32 = pidfile.lines().next().and_then(|l| l.trim().parse().ok()).expect("postmaster pid");
        let children = Command::new("pgrep").args(["-P", &pid.to_string()]).output().expect("pgrep");
        let mut pids: Vec<i32> =
            String::from_utf8_lossy(&children.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect();
        pids.push(pid);
        pids
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server and all its backends: a store that accepts connections
    /// and then never answers.
    pub fn signal_all(&self, sig: i32) {
        signal(&self.pids(), sig);
    }

    /// Freezes the server until the guard is dropped (even when the test fails), or [`Frozen::thaw`].
    pub fn freeze(&self) -> Frozen {
        let pids = self.pids();
        signal(&pids, libc::SIGSTOP);
        Frozen { pids }
    }

    pub fn psql(&self, db: &str, sql: &str) -> Command {
        let mut c = match &self.netns {
            None => Command::new(self.bin.join("psql")),
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(self.bin.join("psql"));
                c
            }
        };
        c.args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
            .env("PGPASSWORD", PG_PASSWORD);
        c
    }

    /// Applies a SQL file of the repository (`schema.sql`, a fixture) to database `pinger`; it must succeed.
    pub fn apply(&self, file: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let out = self.psql("pinger", "").arg("-f").arg(&path).output().expect("psql");
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Runs SQL in database `pinger` and returns its unaligned output.
    pub fn query(&self, sql: &str) -> String {
        check(&mut self.psql("pinger", sql), sql).trim().to_string()
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).expect("connect to the test Postgres")
    }
}

/// Sends `sig` to each of `pids`.
pub fn signal(pids: &[i32], sig: i32) {
    for &pid in pids {
        // SAFETY: kill(2) on process ids of our own test server.
        unsafe { libc::kill(pid, sig) };
    }
}

/// A Postgres frozen by SIGSTOP; thawed (SIGCONT) on drop, so that a failing test never leaves it stopped.
pub struct Frozen {
    pids: Vec<i32>,
}

impl Frozen {
    /// Thaws it now, with the process ids taken when it froze (no `pgrep` in between: as fast as two signals).
    pub fn thaw(&self) {
        signal(&self.pids, libc::SIGCONT);
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.thaw();
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin, "pg_ctl")
            .args(["-D"])
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct RedisServer {
    child: Child,
    pub port: u16,
    /// TLS only, with a certificate this CA signed.
    tls_ca: Option<PathBuf>,
    /// The network namespace the server runs in (its 127.0.0.1 is the namespace's own).
    netns: Option<String>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_full(None, None)
    }

    /// A server that speaks only TLS (`--tls-port`), with `certs`' server certificate.
    pub fn start_tls(certs: &super::certs::Certs) -> RedisServer {
        RedisServer::start_full(Some(certs), None)
    }

    /// A server inside network namespace `netns` ([`cli`](Self::cli) runs redis-cli there too).
    pub fn start_in(netns: &str) -> RedisServer {
        RedisServer::start_full(None, Some(netns.to_string()))
    }

    /// `program` run inside the server's namespace, if it has one (`ip netns exec` execs it: same process).
    fn command(netns: Option<&str>, program: &str) -> Command {
        match netns {
            None => Command::new(program),
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, program]);
                c
            }
        }
    }

    fn start_full(tls: Option<&super::certs::Certs>, netns: Option<String>) -> RedisServer {
        let port = free_port().to_string();
        let mut c = RedisServer::command(netns.as_deref(), "redis-server");
        // In a namespace of its own, reachable from other namespaces over veth links (as the Postgres above).
        match netns {
            Some(_) => c.args(["--bind", "*", "--protected-mode", "no"]),
            None => c.args(["--bind", "127.0.0.1"]),
        };
        c.args(["--save", "", "--appendonly", "no"]);
        match tls {
            None => c.args(["--port", &port]),
            Some(t) => c
                .args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no", "--tls-cert-file"])
                .arg(&t.server_cert)
                .arg("--tls-key-file")
                .arg(&t.server_key)
                .arg("--tls-ca-cert-file")
                .arg(&t.ca),
        };
        let child = c.stdout(Stdio::null()).spawn();
        need(child.is_ok(), "redis-server is not installed");
        let server = RedisServer {
            child: child.expect("redis-server"),
            port: port.parse().unwrap_or_default(),
            tls_ca: tls.map(|t| t.ca.clone()),
            netns,
        };
        let t = Instant::now();
        while server.cli(&["PING"]) != "PONG" {
            assert!(t.elapsed() < Duration::from_secs(20), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        self.url_at("127.0.0.1")
    }

    /// The URL by another address of the server's namespace (one end of a veth link).
    pub fn url_at(&self, addr: &str) -> String {
        let scheme = if self.tls_ca.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://{addr}:{}/", self.port)
    }

    /// `redis-cli -p PORT ARGS...`, its output trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut c = RedisServer::command(self.netns.as_deref(), "redis-cli");
        if let Some(ca) = &self.tls_ca {
            c.arg("--tls").arg("--cacert").arg(ca);
        }
        c.args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
