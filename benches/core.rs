//! Criterion micro-benchmarks of the parts that run per packet, with no socket and no root:
//! wire emit/parse, the whole sans-IO core (send, reply, verdict) as probes per second, and parsing a
//! 1,000,000-line host list.
//!
//! Run: `cargo bench --bench core` (or `make bench`).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pinger::probe::{Key, ProbeConfig, Prober};
use pinger::time::Time;
use pinger::wire::{self, EchoPayload, EchoRequest, ECHO_LEN};

fn request() -> Vec<u8> {
    let mut buf = [0u8; ECHO_LEN];
    let payload = EchoPayload { host: 7, probe: 0, sent_ns: 123_456_789, mac: 0x0123_4567_89ab_cdef };
    let n = EchoRequest { id: 0x1234, seq: 0x5678, payload }.emit_v4(&mut buf);
    buf[..n].to_vec()
}

fn bench_wire(c: &mut Criterion) {
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    let mut buf = [0u8; ECHO_LEN];
    let payload = EchoPayload { host: 7, probe: 0, sent_ns: 123_456_789, mac: 0x0123_4567_89ab_cdef };
    let echo = EchoRequest { id: 0x1234, seq: 0x5678, payload };
    g.bench_function("emit_echo_v4", |b| b.iter(|| echo.emit_v4(black_box(&mut buf))));
    let reply = wire::ipv4_packet(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, &[], &wire::echo_reply_for(&request()));
    g.bench_function("parse_v4_reply", |b| b.iter(|| wire::parse_v4(black_box(&reply)).is_ok()));
    let junk: Vec<u8> = (0..64u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    g.bench_function("parse_v4_junk", |b| b.iter(|| wire::parse_v4(black_box(&junk)).is_err()));
    g.finish();
}

const HOSTS: u32 = 100_000;

fn prober() -> Prober {
    let targets = (0..HOSTS).map(|i| IpAddr::V4(Ipv4Addr::from(0x7f00_0001 + i))).collect();
    let cfg = ProbeConfig { timeout: Duration::from_secs(1), probes: 1, interval: Duration::from_secs(1), rate: 0 };
    Prober::new(targets, cfg, Key::from_seed([7; 32]), Time::ZERO).expect("prober")
}

/// A whole sweep of 100,000 hosts through the core: every probe sent, answered and reported. Replies are built
/// outside the measurement (setup), so this is the core's own cost: tagging, MAC, in-flight table, wheel,
/// matching, verdicts.
fn bench_prober(c: &mut Criterion) {
    let mut g = c.benchmark_group("prober");
    g.throughput(Throughput::Elements(u64::from(HOSTS)));
    g.sample_size(20);
    g.bench_function("sweep_100k_hosts", |b| {
        b.iter_batched(
            || {
                // Learn the requests once with a twin prober (same key), then hand the real one the replies.
                let mut twin = prober();
                let mut buf = [0u8; ECHO_LEN];
                let replies: Vec<(IpAddr, Vec<u8>)> = std::iter::from_fn(|| {
                    let t = twin.poll_transmit(Time::ZERO, &mut buf)?;
                    let IpAddr::V4(dst) = t.dst else { return None };
                    let reply = wire::echo_reply_for(&buf[..t.len]);
                    Some((t.dst, wire::ipv4_packet(dst, Ipv4Addr::LOCALHOST, &[], &reply)))
                })
                .collect();
                (prober(), replies)
            },
            |(mut p, replies)| {
                let mut buf = [0u8; ECHO_LEN];
                for (from, pkt) in &replies {
                    p.poll_transmit(Time::ZERO, &mut buf);
                    p.handle_packet(Time(20_000), *from, pkt);
                }
                // The duplicate windows close; every host's verdict comes out.
                p.handle_timeout(Time(60_000_000));
                assert_eq!(std::iter::from_fn(|| p.poll_result()).count(), HOSTS as usize);
                p
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// Parsing a 1,000,000-line list (one address per line, as the fetched lists are), deduplicating, filtering, and
/// spreading the probe order: what happens before the first probe leaves.
fn bench_targets(c: &mut Criterion) {
    let first = u32::from(Ipv4Addr::new(127, 0, 0, 1));
    let text: String = (0..1_000_000u32).map(|i| format!("{}\n", Ipv4Addr::from(first + i))).collect();
    let mut g = c.benchmark_group("targets");
    g.throughput(Throughput::Elements(1_000_000));
    g.sample_size(10);
    g.bench_function("parse_1m_lines", |b| {
        b.iter(|| {
            let mut col = pinger::targets::Collector::new(pinger::targets::Filter::default(), None, usize::MAX);
            col.read("bench", text.as_bytes()).expect("read");
            let (hosts, report) = col.finish(Duration::ZERO).expect("under the limit");
            let hosts = pinger::targets::spread(hosts);
            assert_eq!((hosts.len(), report.invalid), (1_000_000, 0));
            hosts
        })
    });
    g.finish();
}

criterion_group!(benches, bench_wire, bench_prober, bench_targets);
criterion_main!(benches);
