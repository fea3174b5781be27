//! `--metrics-listen` scraped by a real Prometheus: Debian's `prometheus` server started on loopback with a
//! scrape config for a continuous pinger, asked through its query API after two sweeps; and `promtool check
//! metrics` (Prometheus' own linter) on the exposition itself, with the per-host series on.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::serve::{request, try_request};
use common::stores::free_port;
use common::*;

const HOSTS: u64 = 5;

/// A child killed on drop (even when the test fails).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn need_tool(name: &str) -> PathBuf {
    let path = PathBuf::from("/usr/bin").join(name);
    assert!(path.exists(), "{name} is missing: apt-get install prometheus (.ci/run installs it)");
    path
}

/// Debian's Prometheus on 127.0.0.1:`port`, scraping 127.0.0.1:`target` every second, data in `dir`.
fn prometheus(dir: &Path, port: u16, target: u16) -> Killed {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("prometheus dir");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: pinger\n    \
             static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        ),
    )
    .expect("prometheus.yml");
    let check = Command::new(need_tool("promtool")).args(["check", "config"]).arg(&config).output().expect("promtool");
    assert!(check.status.success(), "the scrape config: {}", String::from_utf8_lossy(&check.stdout));
    let log = std::fs::File::create(dir.join("log")).expect("log");
    Killed(
        Command::new(need_tool("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    )
}

/// The value of an instant query that answers one series, if it does.
fn query(port: u16, promql: &str) -> Option<f64> {
    let encoded: String = promql
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'_' { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let r = try_request(port, "GET", &format!("/api/v1/query?query={encoded}")).ok()?;
    if r.status != 200 {
        return None;
    }
    let v = r.json();
    let result = v["data"]["result"].as_array()?;
    if result.len() != 1 {
        return None;
    }
    result[0]["value"][1].as_str()?.parse().ok()
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets): run as root, as CI does")]
fn prometheus_scrapes_a_continuous_pinger_and_sees_every_host_alive_after_two_sweeps() {
    need_root();
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let (metrics_port, prom_port) = (free_port(), free_port());
    let mut sweeper = pinger();
    sweeper
        .args(["127.0.0.1-127.0.0.5", "--every", "2s", "--no-store", "--format", "none", "--no-progress"])
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{metrics_port}"))
        .arg("--metrics-per-host")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.join("metrics-pinger.stderr")).expect("stderr file"));
    let mut sweeper = Killed(sweeper.spawn().expect("start pinger"));
    let _prom = prometheus(&tmp.join("prometheus"), prom_port, metrics_port);

    // Two sweeps, as Prometheus saw them.
    let started = Instant::now();
    while query(prom_port, "pinger_sweeps_total").is_none_or(|n| n < 2.0) {
        let err = std::fs::read_to_string(tmp.join("metrics-pinger.stderr")).unwrap_or_default();
        assert!(sweeper.0.try_wait().expect("try_wait").is_none(), "pinger ended:\n{err}");
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "Prometheus did not see two sweeps in 90 s (up = {:?}); pinger said:\n{err}\nprometheus said:\n{}",
            query(prom_port, "up"),
            std::fs::read_to_string(tmp.join("prometheus/log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(query(prom_port, "up{job=\"pinger\"}"), Some(1.0));
    assert_eq!(query(prom_port, "pinger_hosts{status=\"alive\"}"), Some(HOSTS as f64), "every host answered");
    assert_eq!(query(prom_port, "pinger_hosts{status=\"timeout\"}"), Some(0.0));
    assert_eq!(query(prom_port, "count(pinger_host_up == 1)"), Some(HOSTS as f64), "a series per host, all up");
    let sent = query(prom_port, "pinger_packets_sent_total").unwrap_or(0.0);
    assert!(sent >= 2.0 * HOSTS as f64, "at least a probe per host and sweep: {sent}");
    let answered = query(prom_port, "pinger_check_rtt_seconds_count").unwrap_or(0.0);
    assert!(answered >= 2.0 * HOSTS as f64, "every answered check is in the RTT histogram: {answered}");

    // The exposition as Prometheus' linter reads it.
    let text = request(metrics_port, "GET", "/metrics");
    assert_eq!(text.status, 200);
    assert!(text.header("content-type").is_some_and(|c| c.starts_with("text/plain; version=0.0.4")));
    let file = tmp.join("metrics.txt");
    std::fs::write(&file, &text.body).expect("metrics.txt");
    let lint = Command::new(need_tool("promtool"))
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).expect("metrics.txt"))
        .output()
        .expect("promtool");
    assert!(
        lint.status.success() && lint.stdout.is_empty(),
        "promtool check metrics: {}{}\n{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr),
        text.body
    );
    assert_eq!(request(metrics_port, "GET", "/nope").status, 404);

    // SIGTERM ends the continuous run cleanly.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(sweeper.0.id() as i32, libc::SIGTERM) };
    let started = Instant::now();
    let status = loop {
        if let Some(s) = sweeper.0.try_wait().expect("try_wait") {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "pinger did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(tmp.join("metrics-pinger.stderr")).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_bad_metrics_address_is_refused_before_anything_is_probed() {
    let out = run(pinger().args(["127.0.0.1", "--metrics-listen", "9108"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--metrics-listen takes an address and port like 127.0.0.1:9108"),
        "{}",
        stderr(&out)
    );
    let out = run(pinger().args(["127.0.0.1", "--metrics-per-host"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--metrics-per-host needs --metrics-listen"), "{}", stderr(&out));
}
