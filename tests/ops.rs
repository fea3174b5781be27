//! Running pinger for real: continuous mode and signals, privileges, reports.

mod common;

use common::stores::PgServer;
use common::*;
use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn sigterm_in_the_middle_of_every_loses_no_row_that_was_printed() {
    need_root();
    let pg = PgServer::start("every");
    let spool = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("spool-every");
    // 2046 hosts at 1500/s: about 1.4 s a sweep, one started every second (so back to back).
    let mut child = pinger()
        .args(["127.0.0.0/21", "--every", "1s", "--rate", "1500", "--format", "json", "--no-progress"])
        .arg("--spool-dir")
        .arg(&spool)
        .env("DATABASE_URL", pg.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read what it prints as it prints it, as a terminal or a log collector would.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
        s
    });
    std::thread::sleep(Duration::from_millis(2000));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let printed_text = reader.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("interrupted by a signal"), "the signal came mid-sweep: {err}");
    let printed: Vec<(String, String)> = printed_text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["host"].as_str().unwrap().to_string(), v["at"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(printed.len() > 2046, "more than one sweep printed: {}", printed.len());
    let stored: HashSet<(String, String)> = pg
        .query(
            "SELECT host(host) || ' ' || to_char(ping_timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
             FROM pinger_data",
        )
        .lines()
        .map(|l| {
            let (h, t) = l.split_once(' ').unwrap();
            (h.to_string(), t.to_string())
        })
        .collect();
    for row in &printed {
        assert!(stored.contains(row), "printed but not stored: {row:?}");
    }
    assert_eq!(stored.len(), printed.len(), "stored rows that were never printed");
    assert_eq!(pg.query("SELECT count(*) FROM sweeps WHERE finished_at IS NULL"), "0");
    assert!(pg.query("SELECT count(*) FROM sweeps").parse::<u32>().unwrap() >= 2);
}

/// A copy of the binary, in `tag`, that only the capability makes able to open a raw socket, reachable by nobody.
fn binary_with_cap_net_raw(tag: &str) -> std::path::PathBuf {
    let need = std::process::Command::new("setcap").arg("-v").output();
    assert!(need.is_ok(), "setcap (libcap2-bin) is needed; CI installs it");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(tag);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("pinger");
    let _ = std::fs::remove_file(&bin);
    std::fs::copy(env!("CARGO_BIN_EXE_pinger"), &bin).unwrap();
    let ok = std::process::Command::new("setcap").arg("cap_net_raw+ep").arg(&bin).status().unwrap();
    assert!(ok.success(), "setcap failed");
    // SAFETY: chmod(2)-like permission change through std; the directory must be traversable by nobody.
    for d in [dir.as_path(), std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))] {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755));
    }
    bin
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn with_cap_net_raw_from_setcap_pinger_gives_it_up_once_its_socket_is_open() {
    use std::io::BufRead;
    need_root();
    let bin = binary_with_cap_net_raw("capbin-drop");
    let mut child = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(&bin)
        .args(["127.0.0.1", "--every", "1h", "--format", "none", "--no-progress"])
        .current_dir("/")
        .env("PINGER_ALLOW", ALLOW)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // setpriv execs pinger: the same process. Its first sweep's summary means the socket is open and in use.
    let pid = child.id();
    let mut seen = String::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap_or_default();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("pinger: wall") {
            break;
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    assert!(seen.contains("pinger: wall"), "the first sweep did not finish:\n{seen}");
    let set = |name: &str| {
        let hex = status.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("{name} in {status}"));
        u64::from_str_radix(hex.trim(), 16).unwrap()
    };
    const CAP_NET_RAW: u64 = 1 << 13;
    assert_eq!(set("CapEff:") & CAP_NET_RAW, 0, "CAP_NET_RAW still effective after the socket opened:\n{status}");
    assert_eq!(set("CapPrm:") & CAP_NET_RAW, 0, "CAP_NET_RAW still permitted after the socket opened:\n{status}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn the_binary_with_only_cap_net_raw_sweeps_loopback_without_root() {
    need_root();
    let bin = binary_with_cap_net_raw("capbin");
    let as_nobody = |path: &std::path::Path| {
        run(std::process::Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(path)
            .args(["127.0.0.1", "127.0.0.2", "--format", "json", "--no-store"])
            .current_dir("/")
            .env("PINGER_ALLOW", ALLOW))
    };
    let out = as_nobody(&bin);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let hosts = results_by_host(&out);
    assert!(hosts.values().all(|h| h["status"] == "alive") && hosts.len() == 2, "{}", stderr(&out));
    // The same user without the capability is refused with the documented code.
    let plain = as_nobody(std::path::Path::new(env!("CARGO_BIN_EXE_pinger")));
    assert_eq!(plain.status.code(), Some(4), "{}", stderr(&plain));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn pinger_report_gives_the_right_numbers_for_a_crafted_history() {
    need_root();
    let pg = PgServer::start("report");
    pg.apply("schema.sql");
    // .1: up, down, down, up, down (hours ago: 5..1); .2: always up; .3: down twice, 30 h ago (outside 24 h).
    let history = [(1, 5, true), (1, 4, false), (1, 3, false), (1, 2, true), (1, 1, false), (2, 5, true), (2, 1, true)];
    let mut values: Vec<String> =
        history.iter().map(|(h, ago, up)| format!("('127.0.0.{h}', now() - interval '{ago} hours', {up})")).collect();
    values.push("('127.0.0.3', now() - interval '30 hours', false)".into());
    pg.query(&format!("INSERT INTO pinger_data (host, ping_timestamp, result) VALUES {}", values.join(",")));
    let report = |args: &[&str]| {
        let out = run(pinger().arg("report").args(args).env("DATABASE_URL", pg.url()));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let least: Vec<serde_json::Value> =
        report(&["--since", "24h", "--format", "json"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(least.len(), 2, "the host seen only 30 h ago is outside the window");
    assert_eq!(
        (least[0]["host"].as_str(), least[0]["checks"].as_i64(), least[0]["failures"].as_i64()),
        (Some("127.0.0.1"), Some(5), Some(3))
    );
    assert_eq!(least[0]["availability_pct"].as_f64(), Some(40.0));
    assert_eq!((least[0]["up_now"].as_bool(), least[1]["availability_pct"].as_f64()), (Some(false), Some(100.0)));
    let one: serde_json::Value = serde_json::from_str(report(&["127.0.0.1", "--format", "json"]).trim()).unwrap();
    assert_eq!((one["checks"].as_i64(), one["failures"].as_i64()), (Some(5), Some(3)));
    assert_eq!(one["history"].as_array().unwrap().len(), 5);
    let outages = one["outages"].as_array().unwrap();
    assert_eq!(outages.len(), 2, "{one}");
    assert!(
        outages[0]["ended_at"].is_null() && outages[0]["failed_checks"] == 1,
        "the newest is still going on: {one}"
    );
    assert_eq!((outages[1]["failed_checks"].as_i64(), outages[1]["duration_s"].as_f64()), (Some(2), Some(7200.0)));
    // The table form names the host and its availability.
    let table = report(&["127.0.0.1"]);
    assert!(table.contains("5 checks, 3 failed, availability 40.00%"), "{table}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn pinger_report_prints_whatever_date_the_table_holds_even_1960_and_infinity() {
    need_root();
    let pg = PgServer::start("report-dates");
    pg.apply("schema.sql");
    // Rows another tool could write (the default partition takes any time): .7 down in 1960 and up at
    // 'infinity', an outage from one to the other; .8 down at '-infinity' and in 1960.
    pg.query(
        "INSERT INTO pinger_data (host, ping_timestamp, result) VALUES \
         ('127.0.0.7', '1960-01-01 00:00:00+00', false), ('127.0.0.7', 'infinity', true), \
         ('127.0.0.8', '-infinity', false), ('127.0.0.8', '1960-01-01 00:00:00+00', false)",
    );
    let report = |args: &[&str]| {
        let out = run(pinger().arg("report").args(args).env("DATABASE_URL", pg.url()));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let json = |text: String| -> Vec<serde_json::Value> {
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
    };
    // One host, over a century: its history and its outage, both ends printed.
    let one = &json(report(&["127.0.0.7", "--since", "100y", "--format", "json"]))[0];
    let at: Vec<&str> = one["history"].as_array().unwrap().iter().map(|h| h["at"].as_str().unwrap()).collect();
    assert_eq!(at, ["infinity", "1960-01-01T00:00:00Z"], "{one}");
    assert_eq!(one["last_alive"], "infinity", "{one}");
    let outage = &one["outages"][0];
    assert_eq!(
        (outage["started_at"].as_str(), outage["ended_at"].as_str()),
        (Some("1960-01-01T00:00:00Z"), Some("infinity"))
    );
    let table = report(&["127.0.0.7", "--since", "100y"]);
    assert!(table.contains("1960-01-01T00:00:00Z") && table.contains("infinity"), "{table}");
    let minus = report(&["127.0.0.8", "--since", "100y"]);
    assert!(minus.contains("1960-01-01T00:00:00Z"), "{minus}");
    // The least available hosts, in the default window (which 'infinity' is in) and over a century.
    let least = json(report(&["--format", "json"]));
    assert_eq!((least[0]["host"].as_str(), least[0]["last_alive"].as_str()), (Some("127.0.0.7"), Some("infinity")));
    let century = report(&["--since", "100y"]);
    assert!(
        century.contains("127.0.0.7") && century.contains("127.0.0.8") && century.contains("infinity"),
        "{century}"
    );
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn started_as_root_with_user_pinger_drops_to_that_user_once_its_socket_is_open() {
    need_root();
    let out = run(pinger().args(["127.0.0.1", "127.0.0.2", "--user", "nobody", "--format", "json", "--no-store"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("running as nobody (uid 65534"), "{err}");
    let hosts = results_by_host(&out);
    assert_eq!(hosts.len(), 2, "{err}");
    assert!(hosts.values().all(|h| h["status"] == "alive"), "{err}");
    let bad = run(pinger().args(["127.0.0.1", "--user", "no-such-user-here"]));
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("no such user"), "{}", stderr(&bad));
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn adminer_shows_the_rows_of_a_sweep_after_logging_in_over_http() {
    need_root();
    assert!(
        std::path::Path::new("/usr/share/adminer/adminer.php").exists(),
        "Debian's adminer package (with php-cli, php-pgsql) is needed; CI installs it"
    );
    let pg = PgServer::start("adminer");
    let out = run(pinger()
        .args(["127.0.0.0/28", "--format", "none"])
        .env("DATABASE_URL", pg.url())
        .arg("--spool-dir")
        .arg(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("spool-adminer")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sweep = pg.query("SELECT id FROM sweeps");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _php = KillOnDrop(
        std::process::Command::new("php")
            .args(["-S", &format!("127.0.0.1:{port}"), "-t", "/usr/share/adminer"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("php"),
    );
    let base = format!("http://127.0.0.1:{port}/adminer.php");
    let jar = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("adminer-cookies");
    let _ = std::fs::remove_file(&jar);
    let curl = |args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-s", "--retry", "20", "--retry-connrefused", "--retry-delay", "0", "-c"])
            .arg(&jar)
            .arg("-b")
            .arg(&jar)
            .args(args)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    curl(&[&base]);
    let login = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--data-urlencode",
        "auth[driver]=pgsql",
        "--data-urlencode",
        &format!("auth[server]=127.0.0.1:{}", pg.port),
        "--data-urlencode",
        "auth[username]=postgres",
        "--data-urlencode",
        &format!("auth[password]={}", common::stores::PG_PASSWORD),
        "--data-urlencode",
        "auth[db]=pinger",
        &base,
    ]);
    assert_eq!(login, "302", "a successful login redirects");
    let page = curl(&[&format!(
        "{base}?pgsql=127.0.0.1:{}&username=postgres&db=pinger&ns=public&select=pinger_data",
        pg.port
    )]);
    assert!(
        page.contains("127.0.0.5") && page.contains(&sweep),
        "the sweep's rows are on the page:\n{}",
        &page[..page.len().min(2000)]
    );
}
