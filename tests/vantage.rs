//! Several vantage points, one history: three sites (network namespaces), each with its own pinger and its own
//! `--vantage`, write into one PostgreSQL and one Redis that run in a fourth namespace and are reached over veth
//! links. The hosts they probe are the same addresses at every site (each site's kernel answers them), and
//! nftables at a site makes a host silent from there only.

mod common;

use common::history::{assert_history_matches_raw, close_all_hours};
use common::stores::{PgServer, RedisServer};
use common::*;
use serde_json::Value;

/// The hosts: .1 answers every site, .2 is silent from site-1 only, .3 from every site (in the second sweep).
const HOSTS: [&str; 3] = ["198.19.0.1", "198.19.0.2", "198.19.0.3"];

struct World {
    // Sites first: dropped (deleted) before the namespace of the servers they reach.
    sites: Vec<Netns>,
    pg: PgServer,
    redis: RedisServer,
    db: Netns,
}

/// The servers' namespace, linked to three site namespaces: site k is 198.18.(200+k).2, the servers are
/// 198.18.(200+k).1 from there.
fn world(tag: &str) -> World {
    let db = Netns::new(&format!("{tag}db"));
    let pg = PgServer::start_in(&format!("vantage-{tag}"), &db.name);
    let redis = RedisServer::start_in(&db.name);
    let mut sites = Vec::new();
    for k in 1..=3 {
        let site = Netns::new(&format!("{tag}{k}"));
        let (a, b) = (format!("a{k}"), format!("b{k}"));
        db.ip_in(&["link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &site.name]);
        db.ip_in(&["addr", "add", &format!("198.18.{}.1/24", 200 + k), "dev", &a]);
        db.ip_in(&["link", "set", &a, "up"]);
        site.ip_in(&["addr", "add", &format!("198.18.{}.2/24", 200 + k), "dev", &b]);
        site.ip_in(&["link", "set", &b, "up"]);
        // The probed hosts: the site's own kernel answers them, as a real network would from that site.
        site.ip_in(&["route", "add", "local", "198.19.0.0/24", "dev", "lo"]);
        site.exec(&["nft", "add", "table", "inet", "v"]);
        site.exec(&["nft", "add", "chain", "inet", "v", "input", "{ type filter hook input priority 0; }"]);
        sites.push(site);
    }
    World { sites, pg, redis, db }
}

impl World {
    /// One sweep from site `k` (1-based) with `silent` hosts dropped there; returns its results by host.
    fn sweep(&self, k: usize, silent: &[&str]) -> std::collections::HashMap<String, Value> {
        let site = &self.sites[k - 1];
        site.exec(&["nft", "flush", "chain", "inet", "v", "input"]);
        for h in silent {
            site.exec(&[
                "nft",
                "add",
                "rule",
                "inet",
                "v",
                "input",
                "ip",
                "daddr",
                h,
                "icmp",
                "type",
                "echo-request",
                "drop",
            ]);
        }
        let server = format!("198.18.{}.1", 200 + k);
        let out = run(site
            .pinger()
            .args(HOSTS)
            // A reply counts up to 2 s late: on a loaded machine a tighter timeout made an answering host look silent.
            .args(["--vantage", &format!("site-{k}"), "--timeout", "2000", "--format", "json", "--no-progress"])
            .arg("--spool-dir")
            .arg(spool(&format!("vantage-{}-{k}", self.db.name)))
            .env("DATABASE_URL", self.pg.url_at(&server))
            .env("REDIS_URL", self.redis.url_at(&server)));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "site-{k}: {err}");
        assert!(err.contains("postgres 3 rows") && err.contains("redis 3 hosts"), "site-{k} stored nothing: {err}");
        results_by_host(&out)
    }

    /// `pinger report ARGS --format json` against the shared database, run beside it; one JSON value a line.
    fn report(&self, args: &[&str]) -> Vec<Value> {
        let out = run(self
            .db
            .pinger()
            .arg("report")
            .args(args)
            .args(["--format", "json"])
            .env("DATABASE_URL", self.pg.url()));
        assert_eq!(out.status.code(), Some(0), "report {args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
    }
}

fn spool(tag: &str) -> std::path::PathBuf {
    let d = workdir().join(format!("spool-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_host_silent_from_one_site_is_partly_down_and_from_every_site_down_everywhere() {
    need_root();
    let w = world("vp");
    // First sweep: every host answers every site. Second: .2 is silent from site-1, .3 from all three.
    for k in 1..=3 {
        let seen = w.sweep(k, &[]);
        assert!(HOSTS.iter().all(|h| seen[*h]["status"] == "alive"), "site-{k}: {seen:?}");
    }
    for k in 1..=3 {
        let silent: &[&str] = if k == 1 { &["198.19.0.2", "198.19.0.3"] } else { &["198.19.0.3"] };
        let seen = w.sweep(k, silent);
        for h in HOSTS {
            assert_eq!(seen[h]["status"], if silent.contains(&h) { "timeout" } else { "alive" }, "site-{k} {h}");
        }
    }

    // Every vantage point's checks together, per host.
    let all = w.report(&["--since", "1h"]);
    let by: std::collections::HashMap<&str, &Value> = all.iter().map(|v| (v["host"].as_str().unwrap(), v)).collect();
    let line = |h: &str| {
        let v = by[h];
        (
            v["checks"].as_i64(),
            v["failures"].as_i64(),
            v["vantages"].as_i64(),
            v["down_from"].as_i64(),
            v["state"].as_str(),
        )
    };
    assert_eq!(line("198.19.0.1"), (Some(6), Some(0), Some(3), Some(0), Some("up")), "{all:?}");
    assert_eq!(line("198.19.0.2"), (Some(6), Some(1), Some(3), Some(1), Some("partly down")), "{all:?}");
    assert_eq!(line("198.19.0.3"), (Some(6), Some(3), Some(3), Some(3), Some("down everywhere")), "{all:?}");

    // One host, by vantage point: exact availability from each, and the outage seen from site-1 only.
    let host = &w.report(&["198.19.0.2", "--since", "1h"])[0];
    assert_eq!(host["state"], "partly down", "{host}");
    let per: Vec<(String, i64, i64, f64, bool)> = host["vantages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["vantage"].as_str().unwrap().to_string(),
                v["checks"].as_i64().unwrap(),
                v["failures"].as_i64().unwrap(),
                v["availability_pct"].as_f64().unwrap(),
                v["up_now"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        per,
        [
            ("site-1".to_string(), 2, 1, 50.0, false),
            ("site-2".to_string(), 2, 0, 100.0, true),
            ("site-3".to_string(), 2, 0, 100.0, true)
        ]
    );
    let outages: Vec<(&str, Option<&str>)> = host["outages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["vantage"].as_str().unwrap(), o["ended_at"].as_str()))
        .collect();
    assert_eq!(outages, [("site-1", None)], "one outage, seen from site-1, going on: {host}");

    // One vantage point alone: site-1 saw .2 and .3 down half the time.
    let site1 = w.report(&["--since", "1h", "--vantage", "site-1"]);
    let pct: Vec<(&str, f64)> =
        site1.iter().map(|v| (v["host"].as_str().unwrap(), v["availability_pct"].as_f64().unwrap())).collect();
    assert_eq!(pct, [("198.19.0.2", 50.0), ("198.19.0.3", 50.0), ("198.19.0.1", 100.0)]);

    // A vantage point that has no checks (a typo) is said so, not printed as an empty list.
    let out = run(w.db.pinger().args(["report", "--vantage", "site-4"]).env("DATABASE_URL", w.pg.url()));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("vantage points with checks there: site-1, site-2, site-3"), "{}", stderr(&out));

    // Redis: the latest result per host from any site, and one per site under HOST@VANTAGE.
    let get = |k: &str| -> Value { serde_json::from_str(&w.redis.cli(&["GET", k])).unwrap_or(Value::Null) };
    assert_eq!(get("198.19.0.2@site-1")["status"], "timeout");
    assert_eq!(get("198.19.0.2@site-2")["status"], "alive");
    assert_eq!(get("198.19.0.2@site-3")["vantage"], "site-3");
    assert_eq!(get("198.19.0.3")["status"], "timeout");
    assert_eq!(get("198.19.0.1")["vantage"], "site-3", "the plain key holds the last site's result");

    // pinger serve, beside the servers, looked at from site-1 over its link: the state in the least available list,
    // each vantage point on the host page, who saw the outages going on now.
    let serve = common::serve::Serve::start(
        {
            let mut c = w.db.pinger();
            c.args(["serve", "--listen", "198.18.201.1:0"])
                .env("DATABASE_URL", w.pg.url())
                .env("REDIS_URL", w.redis.url());
            c
        },
        "vantage",
    );
    let fetch = |path: &str| {
        let out = run(std::process::Command::new("ip")
            .args(["netns", "exec", &w.sites[0].name, "curl", "-sf"])
            .arg(format!("http://198.18.201.1:{}{path}", serve.port)));
        assert!(out.status.success(), "GET {path}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let o: Value = serde_json::from_str(&fetch("/api/overview")).expect("JSON");
    let states: Vec<(&str, &str)> = o["least_available"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["host"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("198.19.0.3", "down everywhere"), ("198.19.0.2", "partly down"), ("198.19.0.1", "up")]);
    let mut seen: Vec<String> = o["outages_now"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| format!("{}@{}", x["host"].as_str().unwrap(), x["vantage"].as_str().unwrap()))
        .collect();
    seen.sort();
    assert_eq!(seen, ["198.19.0.2@site-1", "198.19.0.3@site-1", "198.19.0.3@site-2", "198.19.0.3@site-3"]);
    let page = fetch("/");
    assert!(page.contains("partly down (from 1 of 3 vantage points)") && page.contains("<th>seen from</th>"), "{page}");
    let page = fetch("/host/198.19.0.2");
    assert!(
        page.contains("By vantage point") && page.contains("<td>site-1</td><td class=\"num\">50.00%</td>"),
        "{page}"
    );

    // The sweeps record who swept.
    assert_eq!(
        w.pg.query("SELECT string_agg(vantage, ',' ORDER BY vantage) FROM sweeps"),
        "site-1,site-1,site-2,site-2,site-3,site-3"
    );
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn results_of_several_sites_for_the_same_host_in_the_same_minute_never_collide_in_rollups_or_outages() {
    need_root();
    let w = world("vc");
    // The schema first (several pingers starting at once on a new database can still deadlock there: see the note
    // of stop 19), then the three sites sweep at once, twice: the second time .3 is silent from site-2 and site-3.
    w.sweep(1, &[]);
    for silent in [&[][..], &["198.19.0.3"][..]] {
        std::thread::scope(|s| {
            for k in 1..=3 {
                let w = &w;
                s.spawn(move || {
                    let silent = if k == 1 { &[][..] } else { silent };
                    let seen = w.sweep(k, silent);
                    for h in HOSTS {
                        let want = if silent.contains(&h) { "timeout" } else { "alive" };
                        assert_eq!(seen[h]["status"], want, "site-{k} {h}");
                    }
                });
            }
        });
    }
    // The current hour rolled up as if it were over: one hourly row per host and site, each with its own checks.
    close_all_hours(&w.pg);
    assert_eq!(
        w.pg.query(
            "SELECT string_agg(vantage || ':' || checks || '/' || failures, ' ' ORDER BY vantage) \
             FROM pinger_hourly WHERE host = '198.19.0.3'"
        ),
        "site-1:3/0 site-2:2/1 site-3:2/1"
    );
    assert_eq!(
        w.pg.query(
            "SELECT string_agg(vantage || ':' || failed_checks || ':' || (ended_at IS NULL), ' ' ORDER BY vantage) \
             FROM pinger_outages WHERE host = '198.19.0.3'"
        ),
        "site-2:1:true site-3:1:true"
    );
    // And everything equals a recomputation from the raw rows, series by series.
    assert_history_matches_raw(&w.pg);
    let host = &w.report(&["198.19.0.3", "--since", "1h"])[0];
    assert_eq!(
        (host["checks"].as_i64(), host["failures"].as_i64(), host["state"].as_str()),
        (Some(7), Some(2), Some("partly down"))
    );
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_schema_4_history_is_upgraded_in_place_and_its_checks_stay_the_unnamed_vantage_point() {
    need_root();
    let w = world("vu");
    w.pg.apply("tests/fixtures/schema_v4.sql");
    // Version 4's history: .3 up then down (an outage going on), .1 up, a rolled-up hour among them.
    w.pg.query(
        "INSERT INTO pinger_data (host, ping_timestamp, result) VALUES \
         ('198.19.0.1', now() - interval '2 hours', true), ('198.19.0.3', now() - interval '2 hours', true), \
         ('198.19.0.1', now() - interval '1 minute', true), ('198.19.0.3', now() - interval '1 minute', false)",
    );
    w.pg.query("SELECT pinger_close_hours(now())");
    // A sweep from a named site upgrades the schema and stores beside the old rows, not into them.
    let seen = w.sweep(2, &["198.19.0.3"]);
    assert_eq!(seen["198.19.0.3"]["status"], "timeout");
    assert_eq!(
        w.pg.query("SELECT max(version) FROM pinger_schema"),
        pinger::store::postgres::SCHEMA_VERSION.to_string()
    );
    assert_eq!(
        w.pg.query(
            "SELECT string_agg(quote_literal(vantage) || '=' || n, ' ' ORDER BY vantage) FROM \
                    (SELECT vantage, count(*) AS n FROM pinger_data GROUP BY 1) c"
        ),
        "''=4 'site-2'=3"
    );
    // The old outage goes on as the unnamed vantage point's; site-2 has one of its own.
    assert_eq!(
        w.pg.query(
            "SELECT string_agg(quote_literal(vantage) || ':' || failed_checks, ' ' ORDER BY vantage) \
             FROM pinger_outages WHERE host = '198.19.0.3' AND ended_at IS NULL"
        ),
        "'':1 'site-2':1"
    );
    assert_history_matches_raw(&w.pg);
    close_all_hours(&w.pg);
    assert_history_matches_raw(&w.pg);
    let host = &w.report(&["198.19.0.3", "--since", "3h"])[0];
    assert_eq!(
        (host["checks"].as_i64(), host["failures"].as_i64(), host["state"].as_str()),
        (Some(3), Some(2), Some("down everywhere"))
    );
}
