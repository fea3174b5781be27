//! Writer benchmark: rows/s into Postgres by binary COPY and keys/s into Redis by pipeline, at several batch
//! sizes, through pinger's own `Store` implementations, against private servers started here (root; Debian's
//! postgresql and redis-server, as in CI).
//!
//! Each measurement writes WRITER_ROWS rows (default 1,000,000) into an emptied table after a checkpoint, three
//! times; the median is reported. The Postgres server runs with its defaults (fsync on, 128 MB shared buffers).
//!
//! Run: `cargo bench --bench writer`.

// The stores can be started with TLS; their certificates come from here.
#[path = "../tests/common/certs.rs"]
mod certs;
#[path = "../tests/common/stores.rs"]
mod stores;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use pinger::outcome::{HostResult, Rtt, Status};
use pinger::store::postgres::Postgres;
use pinger::store::redis::Redis;
use pinger::store::{Record, Row, StoreError, SweepInfo};
use pinger::time::Time;
use redis::IntoConnectionInfo;

fn rows(n: usize) -> Vec<Row> {
    let now = pinger::store::unix_us(std::time::SystemTime::now());
    (0..n)
        .map(|i| {
            let rtt = Duration::from_micros(40 + (i % 300) as u64);
            let r = HostResult {
                host: IpAddr::V4(Ipv4Addr::from(0x7f00_0001 + i as u32)),
                status: if i % 10 == 0 { Status::Timeout } else { Status::Alive },
                sent: 1,
                refused: 0,
                received: u16::from(i % 10 != 0),
                duplicates: 0,
                late: 0,
                rtt: (i % 10 != 0).then_some(Rtt { avg: rtt, min: rtt, max: rtt }),
                error: None,
                finished_at: Time(i as u64),
            };
            Row::new(&r, now + i as i64)
        })
        .collect()
}

fn sweep() -> SweepInfo {
    SweepInfo {
        id: uuid::Uuid::now_v7(),
        started_us: pinger::store::unix_us(std::time::SystemTime::now()),
        finished_us: None,
        host_count: 0,
        alive: None,
        timeout: None,
        unreachable: None,
        source: "bench".into(),
        options: serde_json::json!({}),
        version: "bench".into(),
        vantage: "bench".into(),
    }
}

/// Writes `all` in batches of `batch` and returns rows per second.
fn measure(write: &mut dyn FnMut(&Record) -> Result<(), StoreError>, all: &[Row], batch: usize) -> f64 {
    let s = sweep();
    write(&Record::Sweep(s.clone())).expect("sweep record");
    let records: Vec<Record> = all
        .chunks(batch)
        .map(|c| Record::Rows { id: uuid::Uuid::new_v4(), sweep: s.id, rows: c.to_vec(), vantage: s.vantage.clone() })
        .collect();
    let t = Instant::now();
    for r in &records {
        write(r).expect("write batch");
    }
    all.len() as f64 / t.elapsed().as_secs_f64()
}

const ALLOW: &str = "127.0.0.0/8,::1/128,198.18.0.0/15,2001:db8::/32";

/// Runs the pinger binary on `list`; returns (wall s, the summary's own sweep time s, exit code).
fn pinger(list: &std::path::Path, stores: Option<(&str, &str)>, spool: &std::path::Path) -> (f64, f64, i32) {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pinger"));
    c.arg("--hosts-file").arg(list).args(["--count", "0", "--rate", "0", "--timeout", "1000", "--format", "none"]);
    c.args(["--no-progress", "--store-timeout", "10"]).arg("--spool-dir").arg(spool).env("PINGER_ALLOW", ALLOW);
    for k in ["DATABASE_URL", "REDIS_URL", "POSTGRES_HOST", "POSTGRES_DB", "POSTGRES_USER", "REDIS_HOST"] {
        c.env_remove(k);
    }
    match stores {
        Some((db, cache)) => c.env("DATABASE_URL", db).env("REDIS_URL", cache),
        None => c.arg("--no-store"),
    };
    let t = Instant::now();
    let out = c.output().expect("run pinger");
    let wall = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    let swept = err.split("(sweep ").nth(1).and_then(|s| s.split(' ').next()).and_then(|s| s.parse().ok());
    (wall, swept.unwrap_or(f64::NAN), out.status.code().unwrap_or(-1))
}

fn write_list(name: &str, n: u32) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let first = u32::from(Ipv4Addr::new(127, 0, 0, 1));
    let text: String = (0..n).map(|i| format!("{}\n", Ipv4Addr::from(first + i))).collect();
    std::fs::write(&path, text).expect("write list");
    path
}

/// Whole sweeps through the binary: stores on vs `--no-store`, side by side; a million hosts with both stores;
/// and a sweep while another session holds a lock on `pinger_data` (a slow store).
fn whole_sweeps(pg: &stores::PgServer, redis: &stores::RedisServer) {
    let spool = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("writer-bench-spool");
    let (db, cache) = (pg.url(), redis.url());
    let list = write_list("writer-bench-60000.txt", 60_000);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let w = pinger(&list, Some((&db, &cache)), &spool);
        assert_eq!(w.2, 0, "sweep with stores failed");
        with.push(w.0);
        without.push(pinger(&list, None, &spool).0);
    }
    let med = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (med(with.clone()), med(without.clone()));
    println!();
    println!("| 60,000 loopback hosts | median wall s | runs |");
    println!("|---|---|---|");
    let fmt = |v: &[f64]| v.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>().join(" ");
    println!("| --no-store | {b:.3} | {} |", fmt(&without));
    println!("| Redis + Postgres | {a:.3} | {} |", fmt(&with));
    println!("| ratio | {:.2}x | |", a / b);
    let last = pg.query("SELECT id FROM sweeps ORDER BY started_at DESC LIMIT 1");
    assert_eq!(pg.query(&format!("SELECT count(*) FROM pinger_data WHERE sweep_id = '{last}'")), "60000");

    redis.cli(&["FLUSHALL"]);
    let big = write_list("writer-bench-1000000.txt", 1_000_000);
    let (wall, swept, code) = pinger(&big, Some((&db, &cache)), &spool);
    let last = pg.query("SELECT id FROM sweeps ORDER BY started_at DESC LIMIT 1");
    let rows = pg.query(&format!("SELECT count(*) FROM pinger_data WHERE sweep_id = '{last}'"));
    println!();
    println!(
        "1,000,000 hosts with both stores: exit {code}, wall {wall:.3} s (sweep {swept:.3} s); \
         pinger_data rows of that sweep: {rows}; Redis keys: {}",
        redis.cli(&["DBSIZE"])
    );
    let (nwall, nswept, _) = pinger(&big, None, &spool);
    println!("1,000,000 hosts --no-store: wall {nwall:.3} s (sweep {nswept:.3} s)");

    // A slow store: another session holds pinger_data locked for 4 s while pinger sweeps.
    let mut locker = pg.client();
    let (tx, rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut t = locker.transaction().expect("begin");
        t.batch_execute("LOCK TABLE pinger_data IN ACCESS EXCLUSIVE MODE").expect("lock");
        tx.send(()).expect("signal");
        std::thread::sleep(Duration::from_secs(4));
        t.commit().expect("release");
    });
    rx.recv().expect("locked");
    let (lwall, lswept, lcode) = pinger(&list, Some((&db, &cache)), &spool);
    holder.join().expect("lock holder");
    let (_, free_swept, _) = pinger(&list, None, &spool);
    println!(
        "60,000 hosts while pinger_data is locked for 4 s: sweep {lswept:.3} s (--no-store right after: \
         {free_swept:.3} s), wall {lwall:.3} s, exit {lcode}"
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("WRITER_ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let data = rows(n);
    let pg = stores::PgServer::start_with("bench", true);
    let redis = stores::RedisServer::start();
    let pg_cfg = pinger::store::tls::PgConfig::parse(&pg.url()).expect("url");
    let mut postgres = Postgres::connect(
        pg_cfg,
        Duration::from_secs(30),
        pinger::store::history::Retention {
            raw: pinger::config::DEFAULT_KEEP_RAW,
            hourly: pinger::config::DEFAULT_KEEP_HOURLY,
            daily: None,
        },
    )
    .expect("postgres");
    let info = redis.url().into_connection_info().expect("redis url");
    let mut cache = Redis::connect(info, "", Some(86_400), Duration::from_secs(30)).expect("redis");
    println!("| store | batch rows | rows | median rows/s | runs |");
    println!("|---|---|---|---|---|");
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(" "))
    };
    for batch in [5_000, 20_000, 50_000] {
        let (m, runs) = median(
            (0..3)
                .map(|_| {
                    pg.query("TRUNCATE pinger_data, pinger_batches; CHECKPOINT");
                    measure(&mut |r| postgres.write(r), &data, batch)
                })
                .collect(),
        );
        println!("| postgres COPY (binary; btree host+time, 2 BRIN) | {batch} | {n} | {m:.0} | {runs} |");
        assert_eq!(pg.query("SELECT count(*) FROM pinger_data"), n.to_string(), "every row landed");
        let (m, runs) = median((0..3).map(|_| measure(&mut |r| cache.write(r), &data, batch)).collect());
        println!("| redis pipeline (SET key value EX ttl) | {batch} | {n} | {m:.0} | {runs} |");
    }
    assert_eq!(redis.cli(&["DBSIZE"]), n.to_string(), "every key landed");
    // Steady state: the same hosts again on top of earlier sweeps of them (the index holds their history).
    pg.query("TRUNCATE pinger_data, pinger_batches; CHECKPOINT");
    let mut runs = Vec::new();
    for _ in 0..6 {
        runs.push(measure(&mut |r| postgres.write(r), &data, 50_000));
    }
    let (m, runs) = median(runs[3..].to_vec());
    println!(
        "| postgres COPY, 4th..6th sweep of the same hosts (history in the index) | 50000 | {n} | {m:.0} | {runs} |"
    );
    whole_sweeps(&pg, &redis);
}
