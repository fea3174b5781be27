//! History that lasts: partitions, rollups, the outage log, retention and migrations, with the real binary and a
//! real PostgreSQL. Every rollup and outage is checked against a recomputation from the raw rows
//! (`common::history`), so the ingest path can never drift from the truth.

mod common;

use common::history::{assert_history_matches_raw, close_all_hours};
use common::stores::PgServer;
use common::*;
use serde_json::Value;

fn spool(tag: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hist-spool-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Which host is down in which of the twelve sweeps (1 = its echo requests are dropped).
const PATTERN: [(&str, [u8; 12]); 5] = [
    ("127.0.0.1", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    ("127.0.0.2", [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]),
    ("127.0.0.3", [0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1]),
    ("127.0.0.4", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
    ("127.0.0.5", [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
];

/// What a careful person expects of one host over sweeps `from..12`: checks, failures, availability, up now.
fn expected(down: &[u8; 12], from: usize) -> (i64, i64, f64, bool) {
    let part = &down[from..];
    let failures = part.iter().filter(|&&d| d == 1).count() as i64;
    let checks = part.len() as i64;
    let pct = ((10_000.0 * (checks - failures) as f64 / checks as f64).round()) / 100.0;
    (checks, failures, pct, part[part.len() - 1] == 0)
}

/// The outages `pinger report HOST` lists for a window from sweep `from` on: those still going on or ended inside
/// it (so one that began before the window is listed whole), newest first, as (failed checks, going on).
fn listed_outages(down: &[u8; 12], from: usize) -> Vec<(i64, bool)> {
    let mut listed = Vec::new();
    let mut run = 0;
    for (k, &d) in down.iter().enumerate() {
        if d == 1 {
            run += 1;
        } else if run > 0 {
            if k >= from {
                listed.push((run, false));
            }
            run = 0;
        }
    }
    if run > 0 {
        listed.push((run, true));
    }
    listed.reverse();
    listed
}

/// Checks `pinger report` (the least available hosts, then each host alone) against the pattern over sweeps
/// `from..12`, for a window of `since`.
fn assert_report(ns: &Netns, pg: &PgServer, since: &str, from: usize) {
    let report = |args: &[&str]| {
        let out = run(ns.pinger().arg("report").args(args).args(["--format", "json"]).env("DATABASE_URL", pg.url()));
        assert_eq!(out.status.code(), Some(0), "report {args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let least: Vec<Value> =
        report(&["--since", since]).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(least.len(), PATTERN.len(), "{least:?}");
    assert_eq!(least[0]["host"], "127.0.0.4", "the least available host comes first");
    for (host, down) in &PATTERN {
        let (checks, failures, pct, up) = expected(down, from);
        let row = least.iter().find(|v| v["host"] == *host).unwrap_or_else(|| panic!("{host} missing"));
        let got = (row["checks"].as_i64(), row["failures"].as_i64(), row["availability_pct"].as_f64());
        assert_eq!(got, (Some(checks), Some(failures), Some(pct)), "{host} since {since}");
        assert_eq!(row["up_now"].as_bool(), Some(up), "{host}");
        let one: Value = serde_json::from_str(report(&[host, "--since", since]).trim()).expect("host JSON");
        assert_eq!((one["checks"].as_i64(), one["failures"].as_i64()), (Some(checks), Some(failures)), "{one}");
        assert_eq!((one["availability_pct"].as_f64(), one["up_now"].as_bool()), (Some(pct), Some(up)), "{one}");
        let got: Vec<(i64, bool)> = one["outages"]
            .as_array()
            .expect("outages")
            .iter()
            .map(|o| (o["failed_checks"].as_i64().unwrap_or(-1), o["ended_at"].is_null()))
            .collect();
        assert_eq!(got, listed_outages(down, from), "{host} outages since {since}");
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn twelve_sweeps_of_a_scripted_up_down_pattern_are_reported_exactly_from_raw_rows_hours_and_days() {
    need_root();
    let ns = Netns::new("hist");
    ns.exec(&["nft", "add", "table", "inet", "hist"]);
    ns.exec(&["nft", "add", "chain", "inet", "hist", "input", "{ type filter hook input priority 0; }"]);
    let pg = PgServer::start_in("hist", &ns.name);
    let hosts: Vec<&str> = PATTERN.iter().map(|(h, _)| *h).collect();
    for k in 0..12 {
        ns.exec(&["nft", "flush", "chain", "inet", "hist", "input"]);
        for (host, down) in &PATTERN {
            if down[k] == 1 {
                ns.exec(&[
                    "nft",
                    "add",
                    "rule",
                    "inet",
                    "hist",
                    "input",
                    "ip",
                    "daddr",
                    host,
                    "icmp",
                    "type",
                    "echo-request",
                    "drop",
                ]);
            }
        }
        let out = run(ns
            .pinger()
            .args(&hosts)
            .args(["--timeout", "300", "--format", "json", "--no-progress"])
            .arg("--spool-dir")
            .arg(spool("hist"))
            .env("DATABASE_URL", pg.url()));
        assert_eq!(out.status.code(), Some(0), "sweep {k}: {}", stderr(&out));
        let printed = results_by_host(&out);
        for (host, down) in &PATTERN {
            let want = if down[k] == 1 { "timeout" } else { "alive" };
            assert_eq!(printed[*host]["status"], want, "sweep {k}, {host}");
        }
    }
    // Now: everything in the current hour, answered from raw rows.
    assert_report(&ns, &pg, "1h", 0);
    assert_history_matches_raw(&pg);

    // The same sweeps as if they had run every 3 hours over two days, the first at 05:20 UTC the day before
    // yesterday: inserted again a sweep at a time (as ingest does), then hours and days rolled up by the
    // binary.
    pg.query(
        "CREATE TABLE saved AS SELECT d.*, dense_rank() OVER (ORDER BY s.started_at) AS k, s.started_at \
         FROM pinger_data d JOIN sweeps s ON s.id = d.sweep_id; \
         TRUNCATE pinger_data, pinger_hours, pinger_hours_packed, pinger_daily, pinger_outages; \
         UPDATE pinger_rollup_state SET rolled_until = date_trunc('day', now(), 'UTC') - interval '3 days'",
    );
    for k in 1..=12 {
        pg.query(&format!(
            "INSERT INTO pinger_data SELECT host, date_trunc('day', now(), 'UTC') - interval '2 days' \
             + interval '1 hour 20 minutes' + {k} * interval '3 hours' + (ping_timestamp - started_at), result, \
             sweep_id, status, rtt_ms, rtt_min_ms, rtt_max_ms, sent, received, duplicates, late, icmp_type, \
             icmp_code, icmp_from, error FROM saved WHERE k = {k}"
        ));
    }
    let migrate = run(ns.pinger().arg("migrate").env("DATABASE_URL", pg.url()));
    assert_eq!(migrate.status.code(), Some(0), "{}", stderr(&migrate));
    assert_eq!(
        pg.query(
            "SELECT count(DISTINCT day) FROM pinger_daily WHERE day >= (now() AT TIME ZONE 'UTC')::date - 2 \
             AND day < (now() AT TIME ZONE 'UTC')::date"
        ),
        "2",
        "both days are rolled up"
    );
    assert_history_matches_raw(&pg);
    assert_report(&ns, &pg, "365d", 0);
    // A window that starts at 16:10 UTC the day before yesterday, in the middle of an hour: sweeps 5 (16:20) to
    // 12, from raw rows (16:10-17:00), hourly rollups (17:00-24:00) and a daily one (yesterday).
    let secs = pg.query(
        "SELECT extract(epoch FROM now() - (date_trunc('day', now(), 'UTC') - interval '2 days' \
         + interval '16 hours 10 minutes'))::bigint",
    );
    assert_report(&ns, &pg, &format!("{secs}s"), 4);
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn rows_for_a_day_without_a_partition_are_kept_then_moved_into_their_day() {
    need_root();
    let pg = PgServer::start("partition");
    let sweep = |tag: &str| {
        let out = run(pinger()
            .args(["127.0.0.0/26", "--format", "none", "--no-progress"])
            .arg("--spool-dir")
            .arg(spool(tag))
            .env("DATABASE_URL", pg.url()));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    pg.apply("schema.sql");
    // Checks written by another tool on both sides of a midnight no partition was made for (schema.sql makes
    // none; pinger makes them ahead): nothing may be refused.
    pg.query(
        "INSERT INTO pinger_data (host, ping_timestamp, result) VALUES \
         ('127.0.0.1', '2030-01-01 23:59:59.999999+00', true), ('127.0.0.1', '2030-01-02 00:00:00+00', false)",
    );
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data_default"), "2");
    sweep("p1");
    sweep("p2");
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data"), (62 * 2 + 2).to_string(), "every row is kept");
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data_default"), "0", "every row is in its day's partition");
    assert_eq!(
        pg.query(
            "SELECT string_agg(tableoid::regclass::text, ' ' ORDER BY ping_timestamp) FROM pinger_data \
             WHERE ping_timestamp >= '2030-01-01'"
        ),
        "pinger_data_p20300101 pinger_data_p20300102"
    );
    let ahead =
        "SELECT to_regclass('pinger_data_p' || to_char(now() AT TIME ZONE 'UTC' + interval '2 days', 'YYYYMMDD'))";
    assert_ne!(pg.query(ahead), "", "partitions are made ahead");
    close_all_hours(&pg);
    assert_history_matches_raw(&pg);
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn retention_drops_old_raw_days_whole_and_the_report_still_counts_them_from_rollups() {
    need_root();
    let pg = PgServer::start("retention");
    let sweep = |extra: &[&str]| {
        let out = run(pinger()
            .args(["127.0.0.1", "127.0.0.2", "--format", "none", "--no-progress"])
            .args(extra)
            .arg("--spool-dir")
            .arg(spool("retention"))
            .env("DATABASE_URL", pg.url()));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    sweep(&[]);
    // Checks of .2 ten and nine days ago (down, then up) and 500 days ago (down), written late.
    pg.query(
        "INSERT INTO pinger_data (host, ping_timestamp, result) VALUES \
         ('127.0.0.2', now() - interval '10 days', false), ('127.0.0.2', now() - interval '9 days', true), \
         ('127.0.0.2', now() - interval '500 days', false)",
    );
    sweep(&[]);
    assert_eq!(
        pg.query("SELECT count(*) FROM pinger_data WHERE ping_timestamp < now() - interval '8 days'"),
        "0",
        "raw rows older than --keep-raw (7d) are gone"
    );
    assert_eq!(
        pg.query(
            "SELECT count(*) FROM pg_class WHERE relname ~ '^pinger_data_p' AND relkind = 'r' \
             AND to_date(substr(relname, 14, 8), 'YYYYMMDD') < (now() AT TIME ZONE 'UTC')::date - 8"
        ),
        "0",
        "dropped as whole partitions"
    );
    assert_eq!(pg.query("SELECT count(*) FROM pinger_hourly WHERE hour < now() - interval '400 days'"), "0");
    let report = |args: &[&str]| -> Value {
        let out = run(pinger().arg("report").args(args).args(["--format", "json"]).env("DATABASE_URL", pg.url()));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("JSON")
    };
    let two_weeks = report(&["127.0.0.2", "--since", "15d"]);
    assert_eq!((two_weeks["checks"].as_i64(), two_weeks["failures"].as_i64()), (Some(4), Some(1)), "{two_weeks}");
    let two_years = report(&["127.0.0.2", "--since", "730d"]);
    assert_eq!((two_years["checks"].as_i64(), two_years["failures"].as_i64()), (Some(5), Some(2)), "{two_years}");
    // A shorter raw retention takes today's partition's elders too, never today's rows.
    sweep(&["--keep-raw", "1d"]);
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data WHERE host = '127.0.0.1'"), "3");
}

/// The original tool's table, with `hosts` hosts checked every 15 minutes for `days` days (each host down at
/// its own times), plus rows that are not checks.
fn original_table(pg: &PgServer, hosts: i32, days: i32) -> i64 {
    pg.query(&format!(
        "CREATE TABLE pinger_data (host varchar(255), ping_timestamp timestamp, result boolean); \
         INSERT INTO pinger_data SELECT '127.2.' || (h / 250) || '.' || (h % 250 + 1), \
         date_trunc('hour', now()) - interval '{days} days' + m * interval '15 minutes', (h * 7 + m) % 11 <> 0 \
         FROM generate_series(0, {hosts} - 1) h, generate_series(0, {days} * 96 - 1) m; \
         INSERT INTO pinger_data VALUES ('not-an-address', now(), true), ('127.2.0.1', NULL, true)"
    ));
    i64::from(hosts) * i64::from(days) * 96
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn the_original_tools_table_is_migrated_without_losing_a_row() {
    need_root();
    let pg = PgServer::start("migrate-orig");
    let checks = original_table(&pg, 40, 3);
    let out = run(pinger().arg("migrate").env("DATABASE_URL", pg.url()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("migrated {checks} rows")) && said.contains("2 rows"), "{said}");
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data"), checks.to_string());
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data_unmigrated"), "2");
    assert_eq!(pg.query("SELECT to_regclass('pinger_data_old') IS NULL"), "t");
    assert_history_matches_raw(&pg);
    close_all_hours(&pg);
    assert_history_matches_raw(&pg);
    let failures = pg.query(&format!(
        "SELECT count(*) FROM generate_series(0, 3 * 96 - 1) m WHERE (7 + m) % 11 = 0 AND {checks} > 0"
    ));
    let out =
        run(pinger().args(["report", "127.2.0.2", "--since", "30d", "--format", "json"]).env("DATABASE_URL", pg.url()));
    let one: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("JSON");
    assert_eq!(one["checks"].as_i64(), Some(3 * 96), "{one}");
    assert_eq!(one["failures"].as_i64().map(|f| f.to_string()), Some(failures), "{one}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_version_1_database_is_migrated_and_a_killed_migration_resumes_without_a_row_twice() {
    need_root();
    let pg = PgServer::start("migrate-v1");
    pg.apply("tests/fixtures/schema_v1.sql");
    // 300 hosts every 2 minutes for 2 days: 432,000 checks, enough for the migration to be caught mid-way.
    pg.query(
        "INSERT INTO pinger_data (host, ping_timestamp, result, status, rtt_ms, rtt_min_ms, rtt_max_ms, sent, \
         received, duplicates, late) SELECT ('127.1.0.0'::inet + h), date_trunc('hour', now()) - interval '2 days' \
         + m * interval '2 minutes', (h + m) % 13 <> 0, CASE WHEN (h + m) % 13 <> 0 THEN 'alive' ELSE 'timeout' END, \
         CASE WHEN (h + m) % 13 <> 0 THEN 0.5 + (h % 40) * 3.3 END, CASE WHEN (h + m) % 13 <> 0 THEN 0.4 END, \
         CASE WHEN (h + m) % 13 <> 0 THEN 0.6 + (h % 40) * 3.3 END, 1, CASE WHEN (h + m) % 13 <> 0 THEN 1 ELSE 0 END, \
         0, 0 FROM generate_series(0, 299) h, generate_series(0, 2 * 720 - 1) m",
    );
    let early = run(pinger().arg("report").env("DATABASE_URL", pg.url()));
    assert_eq!(early.status.code(), Some(1), "{}", stderr(&early));
    assert!(
        stderr(&early).contains("run `pinger migrate`"),
        "a report on version 1 says what to do: {}",
        stderr(&early)
    );
    let mut child = pinger()
        .args(["migrate", "--no-progress"])
        .env("DATABASE_URL", pg.url())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("pinger migrate");
    let start = std::time::Instant::now();
    loop {
        let started = pg.query("SELECT to_regclass('pinger_migration') IS NOT NULL") == "t";
        let done = if started {
            pg.query("SELECT coalesce(done_until::text, '') FROM pinger_migration")
        } else {
            String::new()
        };
        if !done.is_empty() && !done.contains("infinity") {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("pinger migrate ended ({status}) before it could be interrupted");
        }
        assert!(start.elapsed().as_secs() < 120, "the migration never got going");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill");
    let _ = child.wait();
    assert_eq!(pg.query("SELECT to_regclass('pinger_data_old') IS NOT NULL"), "t", "killed before the end");
    // The server ends the killed client's session once its statement is over (its hour rolls back).
    let start = std::time::Instant::now();
    while pg.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pinger migrate'") != "0" {
        assert!(start.elapsed().as_secs() < 60, "the killed migration's session never ended");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The next sweep finds the half-done migration and finishes it, then stores its own rows.
    let out = run(pinger()
        .args(["127.0.0.1", "--format", "none", "--no-progress"])
        .arg("--spool-dir")
        .arg(spool("v1"))
        .env("DATABASE_URL", pg.url()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("migrated"), "{}", stderr(&out));
    assert_eq!(pg.query("SELECT to_regclass('pinger_data_old') IS NULL"), "t");
    assert_eq!(pg.query("SELECT count(*), count(DISTINCT (host, ping_timestamp)) FROM pinger_data"), "432001|432001");
    assert_history_matches_raw(&pg);
    close_all_hours(&pg);
    assert_history_matches_raw(&pg);
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_version_2_database_keeps_every_rollup_when_its_hours_are_packed() {
    need_root();
    let pg = PgServer::start("migrate-v2");
    pg.apply("tests/fixtures/schema_v2.sql");
    // 50 hosts every 10 minutes for 3 days, rolled up by schema 2 into one row per host and hour.
    pg.query(
        "SELECT pinger_partition_for((now() AT TIME ZONE 'UTC')::date - k) FROM generate_series(-1, 4) k; \
         UPDATE pinger_rollup_state SET rolled_until = date_trunc('hour', now()) - interval '4 days'; \
         INSERT INTO pinger_data (host, ping_timestamp, result, rtt_ms, sent, received) \
         SELECT ('127.1.0.0'::inet + h), date_trunc('hour', now()) - interval '3 days' + m * interval '10 minutes', \
         (h * 3 + m) % 11 <> 0, CASE WHEN (h * 3 + m) % 11 <> 0 THEN 0.7 + h * 1.9 + m % 5 END, 1, \
         CASE WHEN (h * 3 + m) % 11 <> 0 THEN 1 ELSE 0 END FROM generate_series(0, 49) h, generate_series(0, 431) m; \
         SELECT pinger_close_hours(now());",
    );
    let hourly_rows = pg.query("SELECT count(*) FROM pinger_hourly");
    assert!(hourly_rows.parse::<i64>().unwrap() >= 50 * 48, "schema 2 rolled up hours: {hourly_rows}");
    let before = pg.query("SELECT sum(checks) || ' ' || sum(failures) || ' ' || sum(rtt_count) FROM pinger_hourly");
    let out = run(pinger().arg("migrate").env("DATABASE_URL", pg.url()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(pg.query("SELECT max(version) FROM pinger_schema"), pinger::store::postgres::SCHEMA_VERSION.to_string());
    assert_eq!(
        pg.query("SELECT sum(checks) || ' ' || sum(failures) || ' ' || sum(rtt_count) FROM pinger_hourly"),
        before,
        "the same hours, packed"
    );
    assert_eq!(
        pg.query(
            "SELECT count(*) FROM pinger_hours WHERE hour < date_trunc('day', (SELECT rolled_until \
             FROM pinger_rollup_state), 'UTC')"
        ),
        "0",
        "the hours of finished days are packed"
    );
    assert!(pg.query("SELECT count(*) FROM pinger_hours_packed").parse::<i64>().unwrap() >= 100);
    assert_history_matches_raw(&pg);
    close_all_hours(&pg);
    assert_history_matches_raw(&pg);
    let out =
        run(pinger().args(["report", "127.1.0.7", "--since", "5d", "--format", "json"]).env("DATABASE_URL", pg.url()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("JSON");
    let failures = (0..432).filter(|m| (7 * 3 + m) % 11 == 0).count() as i64;
    assert_eq!((report["checks"].as_i64(), report["failures"].as_i64()), (Some(432), Some(failures)), "{report}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn checks_that_arrive_out_of_order_give_the_outages_and_rollups_of_the_same_checks_in_order() {
    need_root();
    let pg = PgServer::start("order");
    pg.apply("schema.sql");
    // 4 hosts x 60 checks 71 minutes apart over the last 3 days, up or down by a fixed pseudo-random pattern
    // (runs of failures of every length), inserted in a shuffled order, 1 to 7 checks per statement; half of
    // them after the hours are rolled up, so that both the close and the trigger's late path count them (the
    // late path into the open day's hours and into packed days).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut checks: Vec<String> = Vec::new();
    for host in 1..=4 {
        for minute in 0..60 {
            let up = next() % 3 != 0;
            let rtt = if up { format!("{}.{}", next() % 300, next() % 1000) } else { "NULL".into() };
            checks.push(format!(
                "('127.0.0.{host}', date_trunc('hour', now()) - interval '3 days' + {} * interval '71 minutes', {up}, {rtt})",
                minute
            ));
        }
    }
    for i in (1..checks.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        checks.swap(i, j);
    }
    let half = checks.len() / 2;
    let mut at = 0;
    while at < checks.len() {
        if at >= half && at - half < 8 {
            close_all_hours(&pg);
        }
        let n = (1 + next() % 7) as usize;
        let batch = &checks[at..(at + n).min(checks.len())];
        pg.query(&format!(
            "INSERT INTO pinger_data (host, ping_timestamp, result, rtt_ms) VALUES {}",
            batch.join(", ")
        ));
        at += n;
    }
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data"), "240");
    assert_history_matches_raw(&pg);
    close_all_hours(&pg);
    assert_history_matches_raw(&pg);
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (servers run as user postgres): run as root, as CI does")]
fn a_report_on_a_host_never_swept_says_so_and_exits_3() {
    need_root();
    let pg = PgServer::start("nodata");
    pg.apply("schema.sql");
    pg.query("INSERT INTO pinger_data (host, ping_timestamp, result) VALUES ('127.0.0.5', now(), true)");
    let out = run(pinger().args(["report", "127.9.9.9"]).env("DATABASE_URL", pg.url()));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("127.9.9.9 has no checks in the last 24h"), "{}", stderr(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("NaN"));
    let one = run(pinger().args(["report", "127.0.0.5"]).env("DATABASE_URL", pg.url()));
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert!(String::from_utf8_lossy(&one.stdout).starts_with("127.0.0.5: 1 check, 0 failed, availability 100.00%"));
}

#[test]
#[cfg_attr(
    not(pinger_root),
    ignore = "needs root (raw sockets, servers run as user postgres): run as root, as CI does"
)]
fn a_database_url_without_the_password_is_a_configuration_error_not_an_outage() {
    need_root();
    let pg = PgServer::start("nopassword");
    let url = pg.url();
    let (user_part, host_part) = url.split_once('@').expect("url with a password");
    let without = format!("{}@{host_part}", user_part.rsplit_once(':').expect("user:password").0);
    let spool = spool("nopassword");
    let out = run(pinger()
        .args(["127.0.0.1", "--format", "none", "--no-progress", "--no-redis"])
        .arg("--spool-dir")
        .arg(&spool)
        .env("DATABASE_URL", &without));
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("asks for a password and none is set"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(common::stores::PG_PASSWORD));
    let report = run(pinger().arg("report").env("DATABASE_URL", &without));
    assert_eq!(report.status.code(), Some(6), "{}", stderr(&report));
}
