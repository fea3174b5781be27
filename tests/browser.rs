//! Adminer in a real browser, the way a user reaches it: `scripts/services.sh adminer` (what `make adminer` runs)
//! started on a .env that points at a private Postgres holding one real loopback sweep, and the address it prints
//! opened in Debian's chromium, headless, by `tests/browser/adminer.mjs` (playwright-core from npm; `.ci/run`
//! installs both). Everything runs in a network namespace of the test's own where only loopback exists, so the
//! browser cannot reach beyond this machine whatever it tries (the script also turns off what calls home). What
//! is checked in the page is in that script; this file owns the servers, the processes and their cleanup.

mod common;

use common::browser::{browser_tools, run_browser_script, Group};
use common::stores::{PgServer, PG_PASSWORD};
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_browser_opens_the_address_make_adminer_prints_logs_in_and_sees_the_sweep() {
    need_root();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = browser_tools(&root.join("tests/browser"));
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));

    // One real sweep of six loopback hosts, into a private Postgres, all inside the namespace.
    let ns = Netns::new("browser");
    let pg = PgServer::start_in("browser", &ns.name);
    let out = run(ns
        .pinger()
        .args(["127.0.0.0/29", "--format", "none", "--no-progress", "--no-redis"])
        .env("DATABASE_URL", pg.url())
        .arg("--spool-dir")
        .arg(tmp.join("spool-browser")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let hosts: Vec<String> = (1..=6).map(|i| format!("127.0.0.{i}")).collect();
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data WHERE result").trim(), "6", "all six answered");
    let sweep = pg.query("SELECT id FROM sweeps").trim().to_string();

    // The script as `make adminer` runs it, in a copy of the checkout whose .env points at that Postgres (the
    // real checkout's .env is left alone); its temporary directory inside that copy too.
    let checkout = tmp.join("adminer-checkout");
    let _ = std::fs::remove_dir_all(&checkout);
    std::fs::create_dir_all(checkout.join("scripts")).unwrap();
    std::fs::create_dir_all(checkout.join("tmp")).unwrap();
    std::fs::copy(root.join("scripts/services.sh"), checkout.join("scripts/services.sh")).unwrap();
    // make adminer's default port: the namespace is the test's own, so it is free unless Postgres took it.
    let adminer_port = if pg.port == 8080 { 8081 } else { 8080 };
    std::fs::write(
        checkout.join(".env"),
        format!(
            "POSTGRES_HOST=127.0.0.1\nPOSTGRES_PORT={}\nPOSTGRES_USER=postgres\nPOSTGRES_PASSWORD={PG_PASSWORD}\n\
             POSTGRES_DB=pinger\nADMINER_PORT={adminer_port}\n",
            pg.port
        ),
    )
    .unwrap();
    let mut script = Command::new("ip");
    script
        .args(["netns", "exec", &ns.name])
        .arg(checkout.join("scripts/services.sh"))
        .arg("adminer")
        .env("TMPDIR", checkout.join("tmp"))
        .env_remove("ADMINER_PORT");
    for k in STORE_ENV {
        script.env_remove(k);
    }
    let log = std::fs::File::create(tmp.join("adminer-php.log")).unwrap();
    let mut adminer = Group::spawn(script.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log));

    // What it prints: the address to open, then where the password is.
    let mut lines = BufReader::new(adminer.0.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let url = loop {
        let line = lines.next().unwrap_or_else(|| panic!("services.sh adminer ended after printing {printed:?}"));
        let line = line.unwrap();
        printed.push(line.clone());
        if let Some(url) = line.strip_prefix("adminer: open ") {
            break url.to_string();
        }
    };
    let expected =
        format!("http://127.0.0.1:{adminer_port}/adminer.php?pgsql=127.0.0.1:{}&username=postgres&db=pinger", pg.port);
    assert_eq!(url, expected, "the printed address opens on PostgreSQL with server, user and database");
    let password_line = lines.next().expect("a line about the password").unwrap();
    assert!(
        password_line.contains("POSTGRES_PASSWORD")
            && password_line.contains(&checkout.join(".env").display().to_string()),
        "it says where the password is: {password_line}"
    );
    let _drain = std::thread::spawn(move || lines.for_each(drop));

    // php -S is up once it accepts a connection (in the namespace).
    let started = Instant::now();
    let probe = format!(": </dev/tcp/127.0.0.1/{adminer_port}");
    while !Command::new("ip")
        .args(["netns", "exec", &ns.name, "bash", "-c", &probe])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(started.elapsed() < Duration::from_secs(60), "Adminer never listened on {adminer_port}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let shots = tmp.join("adminer-browser");
    let _ = std::fs::remove_dir_all(&shots);
    let mut node = Command::new("ip");
    node.args(["netns", "exec", &ns.name, "node"])
        .arg(root.join("tests/browser/adminer.mjs"))
        .arg(&url)
        .arg(&shots)
        .args(&hosts)
        .env("ADMINER_PASSWORD", PG_PASSWORD)
        .env("SWEEP_ID", &sweep)
        .env("CHROMIUM", &chromium)
        .current_dir(root);
    run_browser_script(
        &mut node,
        &shots,
        "adminer",
        &["1-login-form", "2-logged-in", "3-pinger_data", "4-host_availability_24h"],
    );
}
