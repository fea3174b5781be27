//! Writer benchmark: rows/s into Postgres by binary COPY and keys/s into Redis by pipeline, at several batch
//! sizes, through pinger's own `Store` implementations, against private servers started here (root; Debian's
//! postgresql and redis-server, as in CI).
//!
//! Each measurement writes WRITER_ROWS rows (default 1,000,000) into an emptied table after a checkpoint, three
//! times; the median is reported. The Postgres server runs with its defaults (fsync on, 128 MB shared buffers).
//!
//! Run: `cargo bench --bench writer`.

#[path = "../tests/common/stores.rs"]
mod stores;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use pinger::outcome::{HostResult, Rtt, Status};
use pinger::store::postgres::Postgres;
use pinger::store::redis::Redis;
use pinger::store::{Record, Row, Store, SweepInfo};
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
    }
}

/// Writes `all` in batches of `batch` and returns rows per second.
fn measure(store: &mut dyn Store, all: &[Row], batch: usize) -> f64 {
    let s = sweep();
    store.write(&Record::Sweep(s.clone())).expect("sweep record");
    let records: Vec<Record> =
        all.chunks(batch).map(|c| Record::Rows { id: uuid::Uuid::new_v4(), sweep: s.id, rows: c.to_vec() }).collect();
    let t = Instant::now();
    for r in &records {
        store.write(r).expect("write batch");
    }
    all.len() as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("WRITER_ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let data = rows(n);
    let pg = stores::PgServer::start_with("bench", true);
    let redis = stores::RedisServer::start();
    let pg_cfg: postgres::Config = pg.url().parse().expect("url");
    let mut postgres = Postgres::connect(pg_cfg, Duration::from_secs(30)).expect("postgres");
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
                    measure(&mut postgres, &data, batch)
                })
                .collect(),
        );
        println!("| postgres COPY (binary; btree host+time, 2 BRIN) | {batch} | {n} | {m:.0} | {runs} |");
        assert_eq!(pg.query("SELECT count(*) FROM pinger_data"), n.to_string(), "every row landed");
        let (m, runs) = median((0..3).map(|_| measure(&mut cache, &data, batch)).collect());
        println!("| redis pipeline (SET key value EX ttl) | {batch} | {n} | {m:.0} | {runs} |");
    }
    assert_eq!(redis.cli(&["DBSIZE"]), n.to_string(), "every key landed");
    // Steady state: the same hosts again on top of earlier sweeps of them (the index holds their history).
    pg.query("TRUNCATE pinger_data, pinger_batches; CHECKPOINT");
    let mut runs = Vec::new();
    for _ in 0..6 {
        runs.push(measure(&mut postgres, &data, 50_000));
    }
    let (m, runs) = median(runs[3..].to_vec());
    println!(
        "| postgres COPY, 4th..6th sweep of the same hosts (history in the index) | 50000 | {n} | {m:.0} | {runs} |"
    );
}
