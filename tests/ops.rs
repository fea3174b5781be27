//! Running pinger for real: continuous mode and signals, privileges, reports.

mod common;

use common::stores::PgServer;
use common::*;
use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn sigterm_in_the_middle_of_every_loses_no_row_that_was_printed() {
    if !have_root() {
        return;
    }
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

#[test]
fn the_binary_with_only_cap_net_raw_sweeps_loopback_without_root() {
    if !have_root() {
        return;
    }
    let need = std::process::Command::new("setcap").arg("-v").output();
    assert!(need.is_ok(), "setcap (libcap2-bin) is needed; CI installs it");
    // A copy of the binary that only the capability makes able to open a raw socket.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("capbin");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("pinger");
    std::fs::copy(env!("CARGO_BIN_EXE_pinger"), &bin).unwrap();
    let ok = std::process::Command::new("setcap").arg("cap_net_raw+ep").arg(&bin).status().unwrap();
    assert!(ok.success(), "setcap failed");
    // SAFETY: chmod(2)-like permission change through std; the directory must be traversable by nobody.
    for d in [dir.as_path(), std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))] {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755));
    }
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
