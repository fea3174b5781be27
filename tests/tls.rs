//! TLS to the stores end to end: the real binary, a private Postgres that accepts only TLS over TCP and a
//! redis-server that speaks only TLS, both with a certificate from a CA the test makes (`common::certs`).

mod common;

use common::certs::Certs;
use common::stores::{PgServer, RedisServer, PG_PASSWORD};
use common::*;
use std::path::Path;
use std::process::Output;

/// A sweep of 127.0.0.1 that stores into `url` (given through the environment, never argv).
fn sweep(url: &str, spool: &Path) -> Output {
    run(pinger().args(["127.0.0.1", "--format", "none"]).arg("--spool-dir").arg(spool).env("DATABASE_URL", url))
}

/// `pg`'s URL on `host` with `params` as its query.
fn url(pg: &PgServer, host: &str, params: &str) -> String {
    format!("postgres://postgres:{PG_PASSWORD}@{host}:{}/pinger?{params}", pg.port)
}

fn rows_for_localhost(pg: &PgServer) -> String {
    pg.query("SELECT count(*) FROM pinger_data WHERE host = '127.0.0.1'")
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn with_sslmode_require_a_sweep_stores_its_row_over_tls_and_pinger_report_reads_it() {
    need_root();
    let certs = Certs::make("require");
    let pg = PgServer::start_tls("tls-require", &certs);
    let require = url(&pg, "127.0.0.1", "sslmode=require");
    let out = sweep(&require, &spool_dir("tls-require"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(rows_for_localhost(&pg), "1");
    // The server takes no plain TCP connection (hostssl only), and it logged pinger's as TLS.
    let log = pg.log();
    assert!(log.contains("application_name=pinger SSL enabled"), "no TLS connection from pinger in the log:\n{log}");
    let report = run(pinger().args(["report", "--format", "json"]).env("DATABASE_URL", &require));
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    assert!(String::from_utf8_lossy(&report.stdout).contains("127.0.0.1"), "{}", stderr(&report));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn without_sslmode_pinger_prefers_tls_and_with_sslmode_disable_it_sends_none() {
    need_root();
    let certs = Certs::make("prefer");
    let pg = PgServer::start_tls("tls-prefer", &certs);
    let plain = format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/pinger", pg.port);
    let out = sweep(&plain, &spool_dir("tls-prefer"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(rows_for_localhost(&pg), "1");
    // This server refuses connections without TLS: the reason, and exit code 6, before anything is probed.
    let off = sweep(&url(&pg, "127.0.0.1", "sslmode=disable"), &spool_dir("tls-disable"));
    assert_eq!(off.status.code(), Some(6), "{}", stderr(&off));
    assert!(stderr(&off).contains("no encryption"), "{}", stderr(&off));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn verify_full_with_the_servers_ca_connects_by_address_and_by_name() {
    need_root();
    let certs = Certs::make("full");
    let pg = PgServer::start_tls("tls-full", &certs);
    let ca = format!("sslmode=verify-full&sslrootcert={}", certs.ca.display());
    for host in ["127.0.0.1", "localhost"] {
        let out = sweep(&url(&pg, host, &ca), &spool_dir("tls-full"));
        assert_eq!(out.status.code(), Some(0), "{host}: {}", stderr(&out));
    }
    assert_eq!(rows_for_localhost(&pg), "2");
    // The key=value form takes the same parameters.
    let kv = format!(
        "host=127.0.0.1 port={} user=postgres password='{PG_PASSWORD}' dbname=pinger sslmode=verify-full \
         sslrootcert='{}'",
        pg.port,
        certs.ca.display()
    );
    let out = sweep(&kv, &spool_dir("tls-full-kv"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(rows_for_localhost(&pg), "3");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn verify_full_with_a_wrong_ca_says_why_and_spools_the_results_for_the_next_run() {
    need_root();
    let certs = Certs::make("wrong");
    let pg = PgServer::start_tls("tls-wrong", &certs);
    let spool = spool_dir("tls-wrong");
    let wrong = url(&pg, "127.0.0.1", &format!("sslmode=verify-full&sslrootcert={}", certs.other_ca.display()));
    let out = sweep(&wrong, &spool);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "swept, stored nowhere, spooled:\n{err}");
    assert!(err.contains("certificate not trusted (sslmode=verify-full)"), "{err}");
    assert!(err.contains(&certs.other_ca.display().to_string()), "names the CA file it used:\n{err}");
    assert!(!err.contains(PG_PASSWORD), "{err}");
    assert!(spooled_files(&spool) >= 3, "start, rows and finish records spooled");
    // With the right CA the next run stores what waited.
    let right = url(&pg, "127.0.0.1", &format!("sslmode=verify-full&sslrootcert={}", certs.ca.display()));
    let out = sweep(&right, &spool);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!((rows_for_localhost(&pg), spooled_files(&spool)), ("2".to_string(), 0));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn verify_ca_accepts_a_trusted_certificate_for_another_name_and_verify_full_does_not() {
    need_root();
    let certs = Certs::make("ca");
    let pg = PgServer::start_tls("tls-ca", &certs);
    let root = format!("sslrootcert={}", certs.ca.display());
    // 127.0.0.2 is the same server, but its certificate names only 127.0.0.1 and localhost.
    let out = sweep(&url(&pg, "127.0.0.2", &format!("sslmode=verify-ca&{root}")), &spool_dir("tls-ca"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let spool = spool_dir("tls-ca-full");
    let out = sweep(&url(&pg, "127.0.0.2", &format!("sslmode=verify-full&{root}")), &spool);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate is not for this host (sslmode=verify-full)"), "{}", stderr(&out));
    // As libpq: require with a root certificate checks the chain.
    let out =
        sweep(&url(&pg, "127.0.0.1", &format!("sslmode=require&sslrootcert={}", certs.other_ca.display())), &spool);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate not trusted (sslmode=require)"), "{}", stderr(&out));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_rediss_url_stores_the_key_over_tls_checked_against_redis_ca_cert() {
    need_root();
    let certs = Certs::make("redis");
    let redis = RedisServer::start_tls(&certs);
    let sweep = |ca: &Path| {
        run(pinger().args(["127.0.0.1", "--format", "none"]).env("REDIS_URL", redis.url()).env("REDIS_CA_CERT", ca))
    };
    let out = sweep(&certs.other_ca);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate not trusted (rediss://)"), "{}", stderr(&out));
    assert_eq!(redis.cli(&["EXISTS", "127.0.0.1"]), "0");
    let out = sweep(&certs.ca);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&redis.cli(&["GET", "127.0.0.1"])).expect("redis value");
    assert_eq!(v["status"], "alive", "{}", stderr(&out));
    // A plain redis:// URL with a CA file is a mistake worth a clear word (exit code 2).
    let plain = run(pinger()
        .args(["127.0.0.1", "--format", "none"])
        .env("REDIS_URL", redis.url().replace("rediss://", "redis://"))
        .env("REDIS_CA_CERT", &certs.ca));
    assert_eq!(plain.status.code(), Some(2), "{}", stderr(&plain));
    assert!(stderr(&plain).contains("not rediss://"), "{}", stderr(&plain));
}
