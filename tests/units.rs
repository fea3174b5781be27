//! The systemd units of `dist/systemd`, as `make install` installs them: `systemd-analyze verify` finds no
//! error and no warning (an unknown or misspelt directive is only a warning there), the hardening is what the
//! README promises, and the command line they run is one pinger accepts.

mod common;

use common::*;
use std::process::Command;

const UNITS: [&str; 3] = ["pinger.service", "pinger.timer", "pinger-daemon.service"];

/// The units in a directory of their own (one per test: tests run in parallel), their ExecStart pointed at the
/// binary under test.
fn installed(tag: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("units-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("unit dir");
    for unit in UNITS {
        let text =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/systemd").join(unit))
                .expect("unit file");
        std::fs::write(dir.join(unit), text.replace("/usr/local/bin/pinger", env!("CARGO_BIN_EXE_pinger")))
            .expect("write unit");
    }
    dir
}

fn directive<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines().filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('='))).collect()
}

#[test]
fn systemd_analyze_verify_finds_nothing_to_say_about_the_units() {
    let dir = installed("verify");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(UNITS.iter().map(|u| dir.join(u)))
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed:\n{said}");
    assert_eq!(said.trim(), "", "systemd-analyze verify warned");
}

#[test]
fn the_services_run_as_their_own_user_with_only_the_raw_socket_capability() {
    let dir = installed("hardening");
    for unit in ["pinger.service", "pinger-daemon.service"] {
        let text = std::fs::read_to_string(dir.join(unit)).unwrap();
        for (key, want) in [
            ("User", "pinger"),
            ("DynamicUser", "yes"),
            ("AmbientCapabilities", "CAP_NET_RAW"),
            ("CapabilityBoundingSet", "CAP_NET_RAW"),
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("StateDirectory", "pinger"),
            ("CacheDirectory", "pinger"),
            ("EnvironmentFile", "-/etc/pinger/pinger.env"),
        ] {
            assert_eq!(directive(&text, key), vec![want], "{unit}: {key}");
        }
        // systemd's own exposure score (0 best, 10 worst); 3.4 when written. Above 5 is "MEDIUM" or worse.
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(dir.join(unit))
            .output()
            .expect("systemd-analyze security");
        let said = String::from_utf8_lossy(&out.stdout);
        let score: f64 = said
            .lines()
            .find_map(|l| l.split("exposure level for ").nth(1))
            .and_then(|r| r.split(": ").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level in:\n{said}"));
        assert!(score <= 5.0, "{unit}: exposure {score}:\n{said}");
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets): run as root, as CI does")]
fn the_command_line_of_the_units_is_one_pinger_accepts() {
    need_root();
    let dir = installed("command");
    let text = std::fs::read_to_string(dir.join("pinger.service")).unwrap();
    let exec = directive(&text, "ExecStart");
    assert_eq!(exec.len(), 1);
    let state = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("units-state-{}", std::process::id()));
    std::fs::create_dir_all(&state).unwrap();
    // The unit's variables as systemd would set them, and one loopback target so that no list is read.
    let line = exec[0]
        .replace("${PINGER_COUNT}", "1000")
        .replace("${STATE_DIRECTORY}", state.to_str().unwrap())
        .replace("${CACHE_DIRECTORY}", state.to_str().unwrap());
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some(env!("CARGO_BIN_EXE_pinger")));
    let args: Vec<&str> = words.collect();
    let out = run(pinger().args(&args).args(["--no-store", "127.0.0.1"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // The daemon runs the same sweep, every PINGER_EVERY.
    let daemon = std::fs::read_to_string(dir.join("pinger-daemon.service")).unwrap();
    assert_eq!(
        directive(&daemon, "ExecStart"),
        vec![exec[0].replace(" --count", " --every ${PINGER_EVERY} --count").as_str()]
    );
}
