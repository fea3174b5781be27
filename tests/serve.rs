//! `pinger serve` against a real Postgres and Redis holding a history with known outages (`common::serve`): the
//! JSON API and the answers to bad input over plain HTTP, and every page in Debian's chromium, headless, driven
//! by `tests/browser/serve.mjs` (playwright-core), inside a network namespace of the test's own as the Adminer
//! test does. What a person sees is checked in that script; this file owns the servers, the history and the
//! processes. Expected figures come from the raw rows, by SQL written here, never from the code under test.

mod common;

use std::path::Path;
use std::process::Command;

use common::browser::{browser_tools, run_browser_script};
use common::serve::{make_history, request, Serve, CHECKS, HOSTS, SOURCE};
use common::stores::{PgServer, RedisServer};
use common::*;

/// `pinger serve` on a free port of 127.0.0.1 (of the namespace `ns`, when given).
fn serve_cmd(ns: Option<&Netns>, pg: &PgServer, redis: &RedisServer) -> Command {
    let mut c = match ns {
        Some(ns) => ns.pinger(),
        None => pinger(),
    };
    c.args(["serve", "--listen", "127.0.0.1:0"]).env("DATABASE_URL", pg.url()).env("REDIS_URL", redis.url());
    c
}

/// Distinct hours with checks of `host` from Unix time `from` on, counted from the raw rows.
fn hours_with_checks(pg: &PgServer, host: &str, from: &str) -> usize {
    pg.query(&format!(
        "SELECT count(DISTINCT date_trunc('hour', ping_timestamp, 'UTC')) FROM pinger_data \
         WHERE host = '{host}' AND ping_timestamp >= {from}"
    ))
    .parse()
    .expect("a count")
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (servers run as user postgres): run as root, as CI does")]
fn the_api_answers_from_the_history_and_bad_input_gets_a_clear_error_not_a_panic() {
    need_root();
    let pg = PgServer::start("serve-api");
    let redis = RedisServer::start();
    make_history(&pg);
    redis.cli(&["SET", "127.0.0.1", r#"{"status":"alive","alive":true,"rtt_ms":0.042,"at":"2030-01-01T00:00:00Z"}"#]);
    let mut serve = Serve::start(serve_cmd(None, &pg, &redis), "api");
    let get = |path: &str| request(serve.port, "GET", path);

    // The overview: the least available host first, the outages going on now the longest first.
    let o = get("/api/overview");
    assert_eq!((o.status, o.header("content-type")), (200, Some("application/json")), "{}", o.body);
    let o = o.json();
    let least: Vec<&str> =
        o["least_available"].as_array().unwrap().iter().map(|a| a["host"].as_str().unwrap()).collect();
    assert_eq!(least.len(), HOSTS.len(), "{o}");
    assert_eq!(least[0], "127.0.0.4", "the least available host is listed first: {least:?}");
    assert_eq!(o["least_available"][0]["availability_pct"], 0.0);
    let now: Vec<&str> = o["outages_now"].as_array().unwrap().iter().map(|x| x["host"].as_str().unwrap()).collect();
    assert_eq!(now, ["127.0.0.4", "127.0.0.3"], "outages going on now, the longest first");
    assert_eq!(o["outages_now"][1]["failed_checks"], 2);
    assert_eq!(o["latest_sweep"]["host_count"], 5);
    assert_eq!(o["latest_sweep"]["source"], SOURCE);
    let heat = &o["heatmap"];
    assert_eq!(heat["rows"].as_array().unwrap().len(), HOSTS.len(), "a row per host: {heat}");
    assert_eq!(heat["rows"][0]["label"], "127.0.0.4");
    assert_eq!(heat["days"].as_array().unwrap().len(), 14);
    let days_with_checks = pg.query(
        "SELECT count(DISTINCT (ping_timestamp AT TIME ZONE 'UTC')::date) FROM pinger_data \
         WHERE ping_timestamp < date_trunc('day', now(), 'UTC')",
    );
    let cells = heat["rows"][0]["cells"].as_array().unwrap().iter().filter(|c| !c.is_null()).count();
    assert_eq!(cells.to_string(), days_with_checks, "a cell per finished day with checks");
    assert_eq!(get("/api/overview?since=7d").json()["since"], "7d");

    // A host: its ended outage, its windows, its chart's points, its status now from Redis.
    for (range, lookback) in [("1d", "23 hours"), ("7d", "167 hours"), ("30d", "719 hours")] {
        let h = get(&format!("/api/host/127.0.0.2?range={range}")).json();
        let outages = h["outages"].as_array().unwrap();
        assert_eq!(outages.len(), 1, "{h}");
        assert_eq!((outages[0]["failed_checks"].as_i64(), outages[0]["ended_at"].is_string()), (Some(3), true));
        let (from, to) = (h["from"].as_f64().unwrap(), h["to"].as_f64().unwrap());
        assert_eq!(from % 3600.0, 0.0, "the chart starts at an hour");
        let span = pg.query(&format!("SELECT extract(epoch FROM interval '{lookback}')"));
        assert!((to - from) >= span.parse::<f64>().unwrap(), "{range}: the chart spans {lookback} and the hour now");
        let points = h["points"].as_array().unwrap().len();
        assert_eq!(points, hours_with_checks(&pg, "127.0.0.2", &format!("to_timestamp({from})")), "{range}: {h}");
        assert_eq!(h["windows"][3]["checks"], CHECKS, "365d holds every check");
    }
    let year = get("/api/host/127.0.0.1?range=1y").json();
    let days = pg.query("SELECT count(DISTINCT (ping_timestamp AT TIME ZONE 'UTC')::date) FROM pinger_data");
    assert_eq!(year["points"].as_array().unwrap().len().to_string(), days, "a point per UTC day");
    let lossy = year["points"].as_array().unwrap().iter().filter(|p| p["loss_pct"].as_f64() > Some(0.0)).count();
    assert!(lossy > 0, "the lost probes show as loss: {year}");
    assert_eq!((year["now"]["status"].as_str(), year["now"]["rtt_ms"].as_f64()), (Some("alive"), Some(0.042)));
    let no_key = get("/api/host/127.0.0.2").json();
    assert!(no_key["now"]["note"].as_str().unwrap_or("").contains("no result"), "{no_key}");

    // Sweeps, newest first.
    let s = get("/api/sweeps?limit=10").json();
    let sweeps = s["sweeps"].as_array().unwrap();
    assert_eq!(sweeps.len(), 10);
    assert!(sweeps[0]["started_unix"].as_f64() > sweeps[9]["started_unix"].as_f64());

    // Pages: HTML, with the source escaped.
    for path in ["/", "/?since=30d", "/host/127.0.0.4", "/host/127.0.0.1?range=30d", "/sweeps"] {
        let r = get(path);
        assert_eq!((r.status, r.header("content-type")), (200, Some("text/html; charset=utf-8")), "{path}");
        assert!(!r.body.contains("<b>hosts</b>"), "{path}: markup from the data is escaped");
        assert!(r.header("content-security-policy").is_some_and(|c| c.contains("default-src 'none'")));
    }
    assert!(get("/sweeps").body.contains("file /etc/pinger/&lt;b&gt;hosts&lt;/b&gt;&amp;more"));

    // Bad input: the status and a message that says what is wrong; never a trace.
    let cases: [(&str, u16, &str); 9] = [
        ("/host/not-an-address", 400, "not an IP address"),
        ("/api/host/999.1.1.1", 400, "not an IP address"),
        ("/host/127.0.0.99", 404, "no check of 127.0.0.99 is stored"),
        ("/api/host/2001:db8::1", 404, "no check of 2001:db8::1"),
        ("/?since=99999999999999999999999d", 400, "since takes a duration"),
        ("/api/overview?since=4000d", 400, "since takes a duration"),
        ("/host/127.0.0.1?range=10y", 400, "range takes"),
        ("/sweeps?limit=0", 400, "limit takes"),
        ("/etc/passwd", 404, "no page at"),
    ];
    for (path, status, says) in cases {
        let r = get(path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        let message = if path.starts_with("/api/") { r.json()["error"].as_str().unwrap().to_string() } else { r.body };
        assert!(message.contains(says), "{path}: {message}");
        assert!(!message.contains("panicked") && !message.contains("src/"), "{path}: {message}");
    }
    assert_eq!(request(serve.port, "POST", "/").status, 405, "read-only");
    assert_eq!(request(serve.port, "HEAD", "/sweeps").status, 200);

    // The database goes away: a page that says so (503), then the view comes back with it.
    pg.stop();
    for path in ["/", "/host/127.0.0.1", "/api/sweeps"] {
        let r = get(path);
        assert_eq!(r.status, 503, "{path}: {}", r.body);
        assert!(r.body.contains("database does not answer"), "{path}: {}", r.body);
        assert!(!r.body.contains(common::stores::PG_PASSWORD), "{path}: the password is never shown");
    }
    pg.start_again();
    assert_eq!(get("/").status, 200, "the view reconnects once the database is back");
    serve.assert_healthy();
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_browser_sees_the_least_available_host_first_the_outage_on_its_page_and_every_chart_point() {
    need_root();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = browser_tools(&root.join("tests/browser"));
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));

    // The history, then two real sweeps of the same hosts in the namespace, with 127.0.0.3 and 127.0.0.4 still
    // down (their echo requests dropped).
    let ns = Netns::new("serve");
    let pg = PgServer::start_in("serve-browser", &ns.name);
    let redis = RedisServer::start_in(&ns.name);
    make_history(&pg);
    ns.exec(&["nft", "add", "table", "inet", "serve"]);
    ns.exec(&["nft", "add", "chain", "inet", "serve", "input", "{ type filter hook input priority 0; }"]);
    for host in ["127.0.0.3", "127.0.0.4"] {
        let rule = ["nft", "add", "rule", "inet", "serve", "input", "ip", "daddr", host, "icmp", "type"];
        ns.exec(&[&rule[..], &["echo-request", "drop"]].concat());
    }
    for _ in 0..2 {
        let out = run(ns
            .pinger()
            .args(HOSTS)
            .args(["--timeout", "300", "--format", "none", "--no-progress"])
            .arg("--spool-dir")
            .arg(tmp.join("serve-spool"))
            .env("DATABASE_URL", pg.url())
            .env("REDIS_URL", redis.url()));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(summary_number(&stderr(&out), "alive"), 3, "{}", stderr(&out));
    }
    let mut serve = Serve::start(serve_cmd(Some(&ns), &pg, &redis), "browser");
    let sweeps = pg.query("SELECT count(*) FROM sweeps");
    // The 7-day chart: every hour of the history is in it, whatever the minute.
    let points_7d = hours_with_checks(&pg, "127.0.0.2", "date_trunc('hour', now(), 'UTC') - interval '167 hours'");

    let shots = tmp.join("serve-browser");
    let _ = std::fs::remove_dir_all(&shots);
    let mut node = Command::new("ip");
    node.args(["netns", "exec", &ns.name, "node"])
        .arg(root.join("tests/browser/serve.mjs"))
        .arg(format!("http://127.0.0.1:{}/", serve.port))
        .arg(&shots)
        .env("EXPECT_LEAST", "127.0.0.4")
        .env("EXPECT_OUTAGES_NOW", "127.0.0.4,127.0.0.3")
        .env("EXPECT_OUTAGE_HOST", "127.0.0.2")
        .env("EXPECT_POINTS_7D", points_7d.to_string())
        .env("EXPECT_SWEEPS", &sweeps)
        .env("EXPECT_SOURCE", SOURCE)
        .env("CHROMIUM", &chromium)
        .current_dir(root);
    run_browser_script(
        &mut node,
        &shots,
        "serve",
        &["1-overview", "2-overview-7d", "3-host", "4-host-7d", "5-sweeps", "6-bad-address"],
    );
    serve.assert_healthy();
}

#[test]
fn serve_without_a_database_or_with_a_bad_address_says_what_to_do() {
    let no_db = run(pinger().arg("serve"));
    assert_eq!(no_db.status.code(), Some(2), "{}", stderr(&no_db));
    assert!(stderr(&no_db).contains("no database: set DATABASE_URL"), "{}", stderr(&no_db));
    let bad = run(pinger().args(["serve", "--listen", "localhost"]).env("DATABASE_URL", "postgres://u@127.0.0.1/x"));
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("--listen takes an address and port like 127.0.0.1:8089"), "{}", stderr(&bad));
    let typo = run(pinger().arg("serv"));
    assert!(stderr(&typo).contains("did you mean `pinger serve`"), "{}", stderr(&typo));
}
