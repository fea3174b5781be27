//! Storage end to end: the real binary, a real Postgres and a real Redis (private servers per test), and the
//! faults users meet: a store that is down, one that dies mid-write, a wrong password.

mod common;

use common::history::{assert_history_matches_raw, close_all_hours};
use common::http::{HttpServer, Reply};
use common::stores::{check, PgServer, RedisServer, PG_PASSWORD};
use common::*;
use std::collections::HashMap;

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn what_json_printed_is_exactly_what_landed_in_postgres_and_redis() {
    need_root();
    let (pg, redis) = (PgServer::start("exact"), RedisServer::start());
    let out = run(pinger()
        .args(["127.0.0.0/22", "127.255.255.255", "--format", "json", "--rate", "0"])
        .arg("--spool-dir")
        .arg(spool_dir("exact"))
        .env("DATABASE_URL", pg.url())
        .env("REDIS_URL", redis.url()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = results_by_host(&out);
    assert_eq!(printed.len(), 1023);
    let sweep = pg.query("SELECT id FROM sweeps");
    assert_eq!(pg.query("SELECT host_count || ' ' || alive || ' ' || unreachable FROM sweeps"), "1023 1022 1");
    let mut db = pg.client();
    let rows = db
        .query(
            "SELECT host::text, status, result, rtt_ms, rtt_min_ms, rtt_max_ms, sent, received, duplicates, late, \
             error, to_char(ping_timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), sweep_id::text \
             FROM pinger_data",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 1023);
    let mut stored: HashMap<String, postgres::Row> = HashMap::new();
    for r in rows {
        let host: String = r.get(0);
        let host = host.trim_end_matches("/32").to_string();
        assert!(stored.insert(host.clone(), r).is_none(), "{host} stored twice");
    }
    for (host, j) in &printed {
        let r = &stored[host];
        let f = |i: usize| r.get::<_, Option<f64>>(i);
        let n = |i: usize| i64::from(r.get::<_, i32>(i));
        assert_eq!(j["status"].as_str(), Some(r.get::<_, &str>(1)), "{host}");
        assert_eq!(j["status"] == "alive", r.get::<_, bool>(2), "{host}");
        assert_eq!((j["rtt_ms"].as_f64(), j["rtt_min_ms"].as_f64(), j["rtt_max_ms"].as_f64()), (f(3), f(4), f(5)));
        assert_eq!((j["sent"].as_i64(), j["received"].as_i64()), (Some(n(6)), Some(n(7))), "{host}");
        assert_eq!((j["duplicates"].as_i64(), j["late"].as_i64()), (Some(n(8)), Some(n(9))), "{host}");
        assert_eq!(j["error"]["message"].as_str(), r.get::<_, Option<&str>>(10), "{host}");
        assert_eq!(j["at"].as_str(), Some(r.get::<_, &str>(11)), "{host}");
        assert_eq!(r.get::<_, &str>(12), sweep);
        // Redis: the bare address is the key, the value agrees with the line printed.
        let v: serde_json::Value = serde_json::from_str(&redis.cli(&["GET", host])).expect("redis value");
        assert_eq!((&v["status"], &v["rtt_ms"], &v["at"]), (&j["status"], &j["rtt_ms"], &j["at"]), "{host}");
        assert_eq!((v["alive"].as_bool(), v["sweep"].as_str()), (Some(j["status"] == "alive"), Some(sweep.as_str())));
    }
    let ttl: i64 = redis.cli(&["TTL", "127.0.0.1"]).parse().unwrap();
    assert!((86_000..=86_400).contains(&ttl), "default TTL is a day, got {ttl}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_sweep_while_postgres_is_down_is_stored_by_the_next_run_exactly_once() {
    need_root();
    let pg = PgServer::start("down");
    let spool = spool_dir("down");
    let sweep = |cidr: &str| {
        run(pinger().args([cidr, "--format", "none"]).arg("--spool-dir").arg(&spool).env("DATABASE_URL", pg.url()))
    };
    // Applies the schema, so that the next run meets a known database when it comes back.
    assert_eq!(sweep("127.0.3.0/24").status.code(), Some(0));
    pg.stop();
    let down = sweep("127.0.1.0/24");
    assert_eq!(down.status.code(), Some(5), "swept but not stored must say so:\n{}", stderr(&down));
    assert!(stderr(&down).contains("spool"), "{}", stderr(&down));
    assert!(spooled_files(&spool) >= 3, "start, rows and finish records spooled");
    pg.start_again();
    let up = sweep("127.0.2.0/24");
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    assert_eq!(spooled_files(&spool), 0);
    assert_eq!(pg.query("SELECT count(*) FROM sweeps WHERE finished_at IS NOT NULL"), "3");
    assert_eq!(pg.query("SELECT count(*), count(DISTINCT (sweep_id, host)) FROM pinger_data"), "762|762");
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data WHERE host << '127.0.1.0/24'"), "254");
    // The spooled sweep went in before the new one's rows.
    assert_eq!(
        pg.query(
            "SELECT bool_and(b1.stored_at <= b2.stored_at) FROM pinger_batches b1, pinger_batches b2, \
             pinger_data d1, pinger_data d2 WHERE d1.sweep_id = b1.sweep_id AND d2.sweep_id = b2.sweep_id \
             AND d1.host = '127.0.1.1' AND d2.host = '127.0.2.1'"
        ),
        "t"
    );
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn postgres_killed_in_the_middle_of_a_copy_loses_nothing_and_doubles_nothing() {
    need_root();
    let pg = PgServer::start("kill");
    let spool = spool_dir("kill");
    let n = 400_000u32;
    // The list ends with an address the kernel refuses (a failed check, so an outage), and the current hour is
    // already rolled up, so that every part COPYed also updates the rollups and the outage log: the killed part
    // and its replay must count nothing twice there either.
    let list = list_file("kill-list.txt", loopback(n).chain(["127.255.255.255".to_string()]));
    pg.apply("schema.sql");
    close_all_hours(&pg);
    let mut child = pinger()
        .arg("--hosts-file")
        .arg(&list)
        .args(["--count", "0", "--rate", "0", "--format", "none", "--no-progress"])
        .arg("--spool-dir")
        .arg(&spool)
        .env("DATABASE_URL", pg.url())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Watch for pinger's COPY and kill its backend while the COPY runs.
    let mut watcher = pg.client();
    let started = std::time::Instant::now();
    let killed = loop {
        let rows = watcher
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'pinger' AND state = 'active' \
                 AND query LIKE 'COPY pinger_data%'",
                &[],
            )
            .unwrap();
        if let Some(r) = rows.first() {
            let pid: i32 = r.get(0);
            // SAFETY: kill(2) on a process id; the worst outcome is an error return.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            break true;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            break false;
        }
    };
    let out = child.wait_with_output().unwrap();
    assert!(killed, "never saw pinger's COPY running; the test proved nothing\n{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    // The server restarts itself after a backend is killed; wait until it takes connections again.
    let t = std::time::Instant::now();
    while pg.psql("pinger", "SELECT 1").output().map(|o| !o.status.success()).unwrap_or(true) {
        assert!(t.elapsed() < std::time::Duration::from_secs(60), "postgres did not recover");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let next = run(pinger()
        .args(["127.255.0.0/24", "--format", "none"])
        .arg("--spool-dir")
        .arg(&spool)
        .env("DATABASE_URL", pg.url()));
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    assert_eq!(spooled_files(&spool), 0);
    let expected = u64::from(n) + 1 + 254;
    assert_eq!(
        pg.query("SELECT count(*) || ' ' || count(DISTINCT (sweep_id, host)) FROM pinger_data"),
        format!("{expected} {expected}")
    );
    assert_eq!(pg.query("SELECT count(*) FROM sweeps WHERE host_count = alive + unreachable"), "2");
    assert_eq!(pg.query("SELECT sum(checks) FROM pinger_hourly"), expected.to_string(), "every check rolled up once");
    assert_eq!(pg.query("SELECT host || ' ' || failed_checks FROM pinger_outages"), "127.255.255.255/32 1");
    assert_history_matches_raw(&pg);
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_postgres_that_stops_answering_mid_sweep_never_hangs_the_run_and_loses_nothing() {
    need_root();
    let pg = PgServer::start("frozen");
    let spool = spool_dir("frozen");
    // 4094 hosts at 2000/s: a two-second sweep; the server freezes half a second in.
    let child = pinger()
        .args(["127.0.0.0/20", "--rate", "2000", "--format", "json", "--no-progress", "--store-timeout", "1"])
        .arg("--spool-dir")
        .arg(&spool)
        .env("DATABASE_URL", pg.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    pg.signal_all(libc::SIGSTOP);
    let out = child.wait_with_output().unwrap();
    pg.signal_all(libc::SIGCONT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("did not finish") && err.contains("postgres timed out"), "{err}");
    assert_eq!(results_by_host(&out).len(), 4094, "every host printed");
    // Once the server answers again, the next run stores everything, once.
    let next = run(pinger()
        .args(["127.0.16.0/24", "--format", "none"])
        .arg("--spool-dir")
        .arg(&spool)
        .env("DATABASE_URL", pg.url()));
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    assert_eq!(spooled_files(&spool), 0);
    assert_eq!(pg.query("SELECT count(*) || ' ' || count(DISTINCT (sweep_id, host)) FROM pinger_data"), "4348 4348");
    assert_eq!(pg.query("SELECT count(*) FROM sweeps WHERE finished_at IS NOT NULL"), "2");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn schema_applies_twice_and_the_views_report_a_crafted_history_right() {
    need_root();
    let pg = PgServer::start("views");
    for _ in 0..2 {
        pg.apply("schema.sql");
    }
    // Host .1: up, down, down, up, down (still down). Host .2: always up. Times are hours ago.
    let history = [(1, 5, true), (1, 4, false), (1, 3, false), (1, 2, true), (1, 1, false), (2, 5, true), (2, 1, true)];
    let values: Vec<String> =
        history.iter().map(|(h, ago, up)| format!("('127.0.0.{h}', now() - interval '{ago} hours', {up})")).collect();
    pg.query(&format!("INSERT INTO pinger_data (host, ping_timestamp, result) VALUES {}", values.join(",")));
    assert_eq!(
        pg.query(
            "SELECT host, checks, failures, availability_pct, \
             round(extract(epoch from now() - last_alive) / 3600), round(extract(epoch from now() - last_status_change) / 3600), \
             last_result FROM host_availability_24h ORDER BY host"
        ),
        "127.0.0.1|5|3|40.00|2|1|f\n127.0.0.2|2|0|100.00|1||t"
    );
    assert_eq!(pg.query("SELECT count(*) FROM host_availability(now() - interval '150 minutes')"), "2");
    assert_eq!(
        pg.query(
            "SELECT host, failed_checks, round(extract(epoch from now() - started_at) / 3600), \
             coalesce(round(extract(epoch from duration) / 3600)::text, 'ongoing') FROM host_outages ORDER BY started_at"
        ),
        "127.0.0.1|2|4|2\n127.0.0.1|1|1|ongoing"
    );
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_wrong_password_is_a_clear_error_that_never_shows_the_password() {
    need_root();
    let pg = PgServer::start("auth");
    let wrong = "Wr0ng-Pass-Zq9";
    let url = pg.url().replace(PG_PASSWORD, wrong);
    let out = run(pinger().args(["127.0.0.1", "--format", "json"]).env("DATABASE_URL", url));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("127.0.0.1") && err.contains("\"pinger\"") && err.contains("password"), "{err}");
    let all = format!("{err}{}", String::from_utf8_lossy(&out.stdout));
    assert!(!all.contains(wrong) && !all.contains(PG_PASSWORD), "a password leaked:\n{all}");
    // Nothing was probed: the run stopped before the sweep.
    assert!(out.stdout.is_empty());
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn with_redis_down_the_sweep_goes_on_and_postgres_gets_everything() {
    need_root();
    let pg = PgServer::start("noredis");
    let closed = format!(
        "redis://127.0.0.1:{}/",
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    );
    let out = run(pinger()
        .args(["127.0.0.0/24", "--format", "json"])
        .arg("--spool-dir")
        .arg(spool_dir("noredis"))
        .env("DATABASE_URL", pg.url())
        .env("REDIS_URL", closed));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("without Redis"), "{err}");
    assert_eq!(results_by_host(&out).len(), 254);
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data"), "254");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_redis_that_refuses_writes_is_named_and_left_out_and_postgres_gets_everything() {
    need_root();
    let (pg, redis) = (PgServer::start("oomredis"), RedisServer::start());
    // Full, and told to refuse writes rather than evict: every SET is answered with an OOM error.
    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    redis.cli(&["CONFIG", "SET", "maxmemory", "1"]);
    let out = run(pinger()
        .args(["127.0.0.0/24", "--format", "json"])
        .arg("--spool-dir")
        .arg(spool_dir("oomredis"))
        .env("DATABASE_URL", pg.url())
        .env("REDIS_URL", redis.url()));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("without Redis") && err.contains("OOM"), "the refusal is named: {err}");
    assert_eq!(redis.cli(&["DBSIZE"]), "0", "{err}");
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data"), "254");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn the_original_tools_dotenv_configures_both_stores() {
    need_root();
    let (pg, redis) = (PgServer::start("dotenv"), RedisServer::start());
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dotenv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".env"),
        format!(
            "POSTGRES_USER=postgres\nPOSTGRES_PASSWORD={PG_PASSWORD}\nPOSTGRES_HOST=127.0.0.1\nPOSTGRES_PORT={}\n\
             POSTGRES_DB=pinger\nREDIS_HOST=127.0.0.1\nREDIS_PORT={}\n",
            pg.port, redis.port
        ),
    )
    .unwrap();
    let out = run(pinger()
        .current_dir(&dir)
        .args(["127.0.0.0/28", "--format", "none"])
        .arg("--spool-dir")
        .arg(spool_dir("dotenv")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data"), "14");
    assert!(redis.cli(&["GET", "127.0.0.14"]).contains("\"alive\":true"));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_password_or_token_in_the_list_url_never_reaches_the_sweeps_table() {
    need_root();
    let pg = PgServer::start("secret-url");
    let srv = HttpServer::start(|_| Reply::Full(200, vec![], b"127.0.0.1\n127.0.0.2\n".to_vec()));
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("secret-url");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("fallback"), "127.0.0.3\n").unwrap();
    let url = format!("http://pinger:s3cret@127.0.0.1:{}/list?token=abc123", srv.port);
    let out = run(pinger()
        .args(["--hosts-url", &url, "--format", "none", "--no-redis"])
        .arg("--hosts-cache")
        .arg(dir.join("cache"))
        .arg("--fallback-hosts")
        .arg(dir.join("fallback"))
        .arg("--spool-dir")
        .arg(spool_dir("secret-url"))
        .env("DATABASE_URL", pg.url()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let source = pg.query("SELECT source FROM sweeps");
    assert_eq!(source, format!("http://***@127.0.0.1:{}/list?token=*** (fetched now)", srv.port));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn six_pingers_starting_at_once_on_a_new_database_store_everything_without_a_warning() {
    need_root();
    // Six sites of a cron job that starts them in the same second, on a database nobody has used yet: one
    // applies the schema, all make the day's partitions and run their maintenance at the same time. Each round
    // is a new database. Before: one pinger in one round out of five to ten met "deadlock detected" (the schema
    // applied a second time beside a third's retention; two of them making the partitions in opposite order).
    let pg = PgServer::start("six");
    for round in 0..20 {
        let db = format!("six{round}");
        check(&mut pg.psql("postgres", &format!("CREATE DATABASE {db}")), "create database");
        let url = pg.url().replace("/pinger", &format!("/{db}"));
        let children: Vec<_> = (1..=6)
            .map(|k| {
                pinger()
                    .args([&format!("127.0.{k}.0/30"), "--format", "none", "--no-redis", "--vantage"])
                    .arg(format!("site{k}"))
                    .arg("--spool-dir")
                    .arg(spool_dir(&format!("six-{round}-{k}")))
                    .env("DATABASE_URL", &url)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn pinger")
            })
            .collect();
        for (k, child) in children.into_iter().enumerate() {
            let out = child.wait_with_output().expect("wait for pinger");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "round {round}, site {}: {err}", k + 1);
            assert!(!err.contains("warning"), "round {round}, site {}: {err}", k + 1);
        }
        let stored = check(
            &mut pg.psql(&db, "SELECT count(*) || ' ' || count(DISTINCT vantage) FROM pinger_data"),
            "count rows",
        );
        assert_eq!(stored.trim(), "12 6", "round {round}: two hosts from each of six sites");
    }
    assert!(!pg.log().contains("deadlock"), "{}", pg.log());
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn retention_finds_the_hours_past_keep_hourly_without_reading_every_hour() {
    need_root();
    // Every run's retention deletes the hourly rows older than --keep-hourly, almost always none. On a table of
    // hours rewritten all day a BRIN index summarises nothing, and that delete read all of pinger_hours before
    // any row of the sweep was stored (120 ms at 1,000,000 host-hours, every minute).
    let pg = PgServer::start("retention-plan");
    pg.apply("schema.sql");
    pg.query(
        "INSERT INTO pinger_hours (host, hour, checks, failures, sent, received, duplicates, rtt_count, rtt_sum_ms, \
         rtt_hist, last_at) SELECT ('127.0.0.1'::inet + (i % 20000)), date_trunc('hour', now()) - (i / 20000) * \
         interval '1 hour', 60, 0, 60, 60, 0, 60, 6.0, '{}', now() FROM generate_series(0, 99999) i; \
         ANALYZE pinger_hours",
    );
    let cut = "(SELECT date_trunc('day', now() - interval '400 days', 'UTC'))";
    let plan = pg.query(&format!("EXPLAIN DELETE FROM pinger_hours WHERE hour < {cut}"));
    assert!(plan.contains("Index Scan using pinger_hours_hour on"), "{plan}");
    assert_eq!(pg.query("SELECT pinger_retention(interval '7 days', interval '400 days', NULL)"), "0");
    assert_eq!(pg.query("SELECT count(*) FROM pinger_hours"), "100000");
}
