//! The original tool's `.env` (no ports: the defaults it implied, 5432 and 6379) works with pinger's scripts as
//! it is: `scripts/services.sh up` starts the stores where pinger looks for them, a sweep stores into both, and
//! the clients the README and the demo print (`make psql`, `make redis-cli`, which call the script) reach them.
//! The checkout is a copy of the scripts in a directory of the test's, its servers' data in another (under /tmp).

mod common;

use common::stores::free_port;
use common::*;
use std::process::Command;

fn script(checkout: &std::path::Path, services: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut c = Command::new("bash");
    c.arg(checkout.join("scripts/services.sh")).args(args).env("PINGER_SERVICES_DIR", services);
    // Debian's packages as local processes even where a Docker engine answers (the checkout has no Compose file).
    c.env("PINGER_SERVICES_NO_DOCKER", "1");
    for k in STORE_ENV {
        c.env_remove(k);
    }
    c.output().expect("scripts/services.sh")
}

/// Stops the test's servers whatever happens to the test.
struct Down<'a>(&'a std::path::Path, &'a std::path::Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = script(self.0, self.1, &["down"]);
        let _ = std::fs::remove_dir_all(self.1);
    }
}

#[test]
#[cfg_attr(
    not(pinger_root),
    ignore = "needs root (raw sockets, servers run as user postgres): run as root, as CI does"
)]
fn the_original_tools_env_without_ports_works_with_the_scripts_and_the_sweep() {
    need_root();
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("original-env-{}", std::process::id()));
    let checkout = base.join("checkout");
    // The servers' data where their user reaches it (the checkout may be in a 0700 directory).
    let services = std::env::temp_dir().join(format!("pinger-original-env-{}", std::process::id()));
    std::fs::create_dir_all(checkout.join("scripts")).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["scripts/services.sh", ".env.example"] {
        std::fs::copy(repo.join(f), checkout.join(f)).unwrap();
    }
    // The original's settings: host, user, password, database; no port for either store.
    let env = "POSTGRES_HOST=127.0.0.1\nPOSTGRES_USER=pinger\nPOSTGRES_PASSWORD=orig-Secret-42\nPOSTGRES_DB=pinger\n\
               REDIS_HOST=127.0.0.1\n";
    std::fs::write(checkout.join(".env"), env).unwrap();
    // The original's defaults are the ports of a machine's own servers: this test starts its own there, and must
    // not meet (or, on the way down, stop) someone else's.
    for port in [5432, 6379] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "127.0.0.1:{port} is taken by another server: this test needs it free (CI has none running)"
        );
    }
    let _down = Down(&checkout, &services);
    let up = script(&checkout, &services, &["up"]);
    assert!(up.status.success(), "services.sh up: {}", String::from_utf8_lossy(&up.stderr));
    assert!(
        String::from_utf8_lossy(&up.stdout)
            .contains("postgres on 127.0.0.1:5432 (database pinger), redis on 127.0.0.1:6379"),
        "{}",
        String::from_utf8_lossy(&up.stdout)
    );

    // A sweep from the checkout reads the same .env and stores into both.
    let out = run(pinger()
        .current_dir(&checkout)
        .args(["127.0.0.1", "--format", "none", "--no-progress"])
        .arg("--spool-dir")
        .arg(base.join("spool")));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let rows = script(&checkout, &services, &["psql", "-Atc", "SELECT count(*) FROM pinger_data WHERE result"]);
    assert!(rows.status.success(), "{}", String::from_utf8_lossy(&rows.stderr));
    assert_eq!(String::from_utf8_lossy(&rows.stdout).trim(), "1");
    let key = script(&checkout, &services, &["redis-cli", "get", "127.0.0.1"]);
    assert!(key.status.success(), "{}", String::from_utf8_lossy(&key.stderr));
    assert_eq!(String::from_utf8_lossy(&key.stderr).trim(), "", "redis-cli said something on stderr");
    assert!(
        String::from_utf8_lossy(&key.stdout).contains("\"status\":\"alive\""),
        "{}",
        String::from_utf8_lossy(&key.stdout)
    );

    // A .env without a password says so, and starts nothing.
    std::fs::write(checkout.join(".env"), "POSTGRES_HOST=127.0.0.1\n").unwrap();
    let bare = script(&checkout, &services, &["up"]);
    assert_eq!(bare.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bare.stderr).contains("POSTGRES_PASSWORD"),
        "{}",
        String::from_utf8_lossy(&bare.stderr)
    );
    std::fs::write(checkout.join(".env"), env).unwrap();
}

/// A checkout whose stores' data outlives its `.env`: a new clone in the same place, or a deleted `.env`, writes a
/// new random password (and a user may change POSTGRES_USER). `up` sets `.env`'s user and password in the data it
/// keeps, instead of failing on "password authentication failed" as CI once did.
#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (servers run as user postgres): run as root, as CI does")]
fn kept_data_takes_the_user_and_password_of_a_new_env() {
    need_root();
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("new-env-{}", std::process::id()));
    let checkout = base.join("checkout");
    let services = std::env::temp_dir().join(format!("pinger-new-env-{}", std::process::id()));
    std::fs::create_dir_all(checkout.join("scripts")).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(repo.join("scripts/services.sh"), checkout.join("scripts/services.sh")).unwrap();
    let ports = format!("POSTGRES_PORT={}\nREDIS_PORT={}\n", free_port(), free_port());
    let env = |user: &str, password: &str| {
        std::fs::write(
            checkout.join(".env"),
            format!("{ports}POSTGRES_USER={user}\nPOSTGRES_PASSWORD={password}\nPOSTGRES_DB=pinger\n"),
        )
        .unwrap()
    };
    let _down = Down(&checkout, &services);
    let psql = |sql: &str| script(&checkout, &services, &["psql", "-Atc", sql]);

    env("pinger", "first-Secret-1");
    let up = script(&checkout, &services, &["up"]);
    assert!(up.status.success(), "services.sh up: {}", String::from_utf8_lossy(&up.stderr));
    assert!(psql("CREATE TABLE kept AS SELECT 42 AS answer").status.success());
    assert!(script(&checkout, &services, &["down"]).status.success());

    // A new password (with a quote, as a hand-written one may have), then a new user too.
    for (user, password) in [("pinger", "second-'Secret'-2"), ("someone", "third-Secret-3")] {
        env(user, password);
        let up = script(&checkout, &services, &["up"]);
        assert!(up.status.success(), "services.sh up: {}", String::from_utf8_lossy(&up.stderr));
        assert!(
            String::from_utf8_lossy(&up.stdout).contains("was made with another .env"),
            "{}",
            String::from_utf8_lossy(&up.stdout)
        );
        let kept = psql("SELECT answer FROM kept");
        assert!(kept.status.success(), "{}", String::from_utf8_lossy(&kept.stderr));
        assert_eq!(String::from_utf8_lossy(&kept.stdout).trim(), "42");
        // Nothing to set the second time.
        let again = script(&checkout, &services, &["up"]);
        assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
        assert!(!String::from_utf8_lossy(&again.stdout).contains("another .env"));
    }
    // The old password no longer opens it.
    env("pinger", "first-Secret-1");
    let old = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "pinger", "-d", "pinger", "-Atc", "SELECT 1"])
        .arg("-p")
        .arg(ports.lines().next().unwrap().trim_start_matches("POSTGRES_PORT="))
        .env("PGPASSWORD", "first-Secret-1")
        .output()
        .unwrap();
    assert!(!old.status.success());
    assert!(String::from_utf8_lossy(&old.stderr).contains("password authentication failed"));
}
