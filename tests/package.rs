//! The Debian package, as a user gets it: `make deb-package` packs the binary under test (cargo-deb, the man page
//! from help2man), `dpkg -i` installs it, an unprivileged user sweeps loopback with the installed binary (its
//! capability set by the package), the installed units pass `systemd-analyze verify`, and `dpkg --purge` takes
//! it all away again. CI installs cargo-deb and help2man (`.ci/run`).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", "pinger"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Purges the package whatever happens to the test.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "pinger"]).output();
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (dpkg -i, runuser): run as root, as CI does")]
fn the_package_installs_a_binary_an_unprivileged_user_can_sweep_with_and_purges_clean() {
    need_root();
    for (tool, package) in [("cargo-deb", "cargo install cargo-deb"), ("help2man", "apt-get install help2man")] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        assert!(found.status.success(), "{tool} is missing: {package} (.ci/run does)");
    }
    // The binary under test, packed as `make deb` packs a release build.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_pinger"));
    let profile = bin.parent().unwrap();
    let target = profile.parent().unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("deb-{}", std::process::id()));
    ok(Command::new("make")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--no-print-directory")
        .arg("deb-package")
        .arg(format!("TARGET_DIR={}", target.display()))
        .arg(format!("PROFILE={}", profile.file_name().unwrap().to_string_lossy()))
        .arg(format!("DEB_OUT={}", out.display())));
    let deb = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("a .deb");
    let version = env!("CARGO_PKG_VERSION");
    assert!(deb.file_name().unwrap().to_string_lossy().starts_with(&format!("pinger_{version}-")), "{deb:?}");

    // What is in it.
    let contents = ok(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for path in [
        "./usr/bin/pinger",
        "./usr/share/man/man1/pinger.1.gz",
        "./lib/systemd/system/pinger.service",
        "./lib/systemd/system/pinger.timer",
        "./lib/systemd/system/pinger-daemon.service",
        "./etc/pinger/pinger.env",
        "./usr/share/pinger/hosts",
        "./usr/share/pinger/schema.sql",
        "./usr/share/doc/pinger/copyright",
    ] {
        assert!(contents.lines().any(|l| l.ends_with(&format!(" {path}"))), "{path} not in the package:\n{contents}");
    }
    // The settings file holds passwords: only root reads it.
    let env_line = contents.lines().find(|l| l.ends_with(" ./etc/pinger/pinger.env")).unwrap();
    assert!(env_line.starts_with("-rw------- 0/0"), "{env_line}");

    assert!(
        !installed(),
        "a pinger package is installed here; this test installs and purges its own: dpkg --purge pinger"
    );
    // `make install` puts settings (with passwords) and the list there, which dpkg would take over and the purge
    // delete.
    for dir in ["/etc/pinger", "/usr/share/pinger"] {
        assert!(!Path::new(dir).exists(), "{dir} exists (make install?): this test would take it over; move it aside");
    }
    let _purge = Purge;
    ok(Command::new("dpkg").arg("-i").arg(&deb));
    assert!(installed());
    let caps = ok(Command::new("getcap").arg("/usr/bin/pinger"));
    assert!(caps.contains("cap_net_raw"), "the package did not give the binary cap_net_raw: {caps:?}");

    // The man page is the CLI's own help, with what --help does not say.
    let man = ok(Command::new("sh").args(["-c", "gzip -dc /usr/share/man/man1/pinger.1.gz"]));
    for part in
        [".SH OPTIONS", "\\-\\-count", ".SH \"EXIT STATUS\"", ".SS pinger report", ".SS pinger serve", ".SH FILES"]
    {
        assert!(man.contains(part), "the man page lacks {part:?}");
    }

    // An unprivileged user, from a directory with no .env, through the installed binary.
    let as_nobody = |args: &[&str]| {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--", "/usr/bin/pinger"]).args(args).current_dir("/");
        c
    };
    assert_eq!(ok(&mut as_nobody(&["--version"])).trim(), format!("pinger {version}"));
    let sweep = ok(as_nobody(&["127.0.0.1", "127.0.0.2", "--no-store", "--format", "json", "--no-progress"])
        .env("PINGER_ALLOW", "127.0.0.0/8"));
    let alive = sweep.lines().filter(|l| l.contains("\"status\":\"alive\"")).count();
    assert_eq!(alive, 2, "{sweep}");

    // The installed units, with the installed binary.
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(["pinger.service", "pinger.timer", "pinger-daemon.service"].map(|u| format!("/lib/systemd/system/{u}")))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    assert_eq!(String::from_utf8_lossy(&verify.stderr).trim(), "");

    // Purge leaves nothing of the package behind (the settings file included).
    ok(Command::new("dpkg").args(["--purge", "pinger"]));
    for gone in ["/usr/bin/pinger", "/etc/pinger/pinger.env", "/lib/systemd/system/pinger.service"] {
        assert!(!Path::new(gone).exists(), "{gone} left after purge");
    }
    let _ = std::fs::remove_dir_all(&out);
}
