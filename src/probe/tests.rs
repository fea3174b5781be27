//! The core against every way a packet can misbehave: hand-made bytes, a fake clock, no socket.

use super::*;
use crate::wire::{self, echo_reply_for, icmp_error_v4, ipv4_packet, ErrorKind, ECHO_LEN};
use proptest::prelude::*;
use std::net::Ipv4Addr;

const MS: u64 = 1_000_000;

fn v4(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x7f00_0001 + i))
}

fn addr4(a: IpAddr) -> Ipv4Addr {
    match a {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => unreachable!(),
    }
}

fn cfg(probes: u16) -> ProbeConfig {
    ProbeConfig { timeout: Duration::from_millis(1000), probes, interval: Duration::from_millis(100), rate: 0 }
}

fn prober(n: u32, probes: u16) -> Prober {
    Prober::new((0..n).map(v4).collect(), cfg(probes), Key::from_seed([7; 32]), Time::ZERO).unwrap()
}

/// Sends one probe at `now` and returns it with the bytes of the request.
fn send(p: &mut Prober, now: Time) -> (Transmit, Vec<u8>) {
    let mut buf = [0u8; ECHO_LEN];
    let t = p.poll_transmit(now, &mut buf).expect("a probe to send");
    (t, buf[..t.len].to_vec())
}

/// The IPv4 packet a host at `from` would answer `req` with.
fn reply(from: IpAddr, req: &[u8]) -> Vec<u8> {
    ipv4_packet(addr4(from), Ipv4Addr::LOCALHOST, &[], &echo_reply_for(req))
}

/// Lets the duplicate window after the last reply at `last_rx` pass.
fn settle(p: &mut Prober, last_rx: Time) {
    p.handle_timeout(last_rx + Duration::from_millis(51));
}

fn all_results(p: &mut Prober) -> Vec<HostResult> {
    std::iter::from_fn(|| p.poll_result()).collect()
}

fn unreachable_quoting(router: Ipv4Addr, probe_dst: Ipv4Addr, req: &[u8], quote_len: usize) -> Vec<u8> {
    let quoted = ipv4_packet(Ipv4Addr::LOCALHOST, probe_dst, &[], &req[..quote_len]);
    let err = icmp_error_v4(ErrorKind { icmp_type: 3, code: 1 }, &quoted);
    ipv4_packet(router, Ipv4Addr::LOCALHOST, &[], &err)
}

#[test]
fn a_valid_reply_makes_the_host_alive_with_its_rtt() {
    let mut p = prober(1, 1);
    let (t, req) = send(&mut p, Time(10 * MS));
    p.handle_packet(Time(10 * MS + 41_000), t.dst, &reply(t.dst, &req));
    assert!(!p.is_done(), "a duplicate of the reply may still come");
    // The window is twice the round trip, at least 1 ms: over at the next wheel tick (a quarter ms) after that.
    p.handle_timeout(Time(11 * MS + 40_000));
    assert!(!p.is_done());
    p.handle_timeout(Time(11 * MS + 41_000 + MS / 4));
    let r = all_results(&mut p);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].status, r[0].sent, r[0].received), (Status::Alive, 1, 1));
    assert_eq!(r[0].rtt.unwrap().avg, Duration::from_micros(41));
    assert!(p.is_done(), "the sweep must end when every host answered, not at the timeout");
}

#[test]
fn a_reply_with_a_bad_checksum_is_not_credited() {
    let mut p = prober(1, 1);
    let (t, req) = send(&mut p, Time::ZERO);
    let mut pkt = reply(t.dst, &req);
    let last = pkt.len() - 1;
    pkt[last] ^= 0x01;
    p.handle_packet(Time(MS), t.dst, &pkt);
    assert_eq!(p.stats().rx_bad_checksum, 1);
    assert!(!p.is_done());
}

#[test]
fn a_reply_with_the_right_tag_from_another_address_is_not_credited() {
    let mut p = prober(2, 1);
    let (t, req) = send(&mut p, Time::ZERO);
    let other = v4(1);
    p.handle_packet(Time(MS), other, &reply(other, &req));
    assert_eq!(p.stats().rx_spoofed, 1);
    assert_eq!(p.stats().rx_credited, 0);
    // The real answer still counts afterwards.
    p.handle_packet(Time(2 * MS), t.dst, &reply(t.dst, &req));
    assert_eq!(p.stats().rx_credited, 1);
}

#[test]
fn a_reply_with_a_changed_identifier_or_sequence_is_not_credited() {
    let mut p = prober(1, 1);
    let (t, req) = send(&mut p, Time::ZERO);
    for byte in [4, 5, 6, 7] {
        let mut r = echo_reply_for(&req);
        r[byte] ^= 0x40;
        r[2..4].copy_from_slice(&[0, 0]);
        let sum = wire::checksum(&r);
        r[2..4].copy_from_slice(&sum.to_be_bytes());
        p.handle_packet(Time(MS), t.dst, &ipv4_packet(addr4(t.dst), Ipv4Addr::LOCALHOST, &[], &r));
    }
    assert_eq!((p.stats().rx_foreign, p.stats().rx_credited), (4, 0));
}

#[test]
fn a_reply_to_an_earlier_run_is_not_credited() {
    // The earlier run probed the same host with the same index, under another key.
    let mut earlier = Prober::new(vec![v4(0)].into(), cfg(1), Key::from_seed([1; 32]), Time::ZERO).unwrap();
    let (_, old_req) = send(&mut earlier, Time::ZERO);
    let mut p = prober(1, 1);
    let (t, _) = send(&mut p, Time::ZERO);
    p.handle_packet(Time(MS), t.dst, &reply(t.dst, &old_req));
    assert_eq!((p.stats().rx_foreign, p.stats().rx_credited), (1, 0));
}

#[test]
fn truncated_replies_are_counted_and_ignored() {
    let mut p = prober(1, 1);
    let (t, req) = send(&mut p, Time::ZERO);
    let full = reply(t.dst, &req);
    for n in 0..full.len() {
        p.handle_packet(Time(MS), t.dst, &full[..n]);
    }
    assert_eq!(p.stats().rx_credited, 0);
    assert_eq!(p.stats().ignored(), full.len() as u64);
}

#[test]
fn a_duplicate_reply_is_counted_and_never_credited_twice() {
    let mut p = prober(1, 2);
    let (t, req) = send(&mut p, Time::ZERO);
    let pkt = reply(t.dst, &req);
    p.handle_packet(Time(MS), t.dst, &pkt);
    p.handle_packet(Time(2 * MS), t.dst, &pkt);
    p.handle_packet(Time(3 * MS), t.dst, &pkt);
    p.handle_timeout(Time(100 * MS));
    let (_, req2) = send(&mut p, Time(100 * MS));
    p.handle_packet(Time(101 * MS), t.dst, &reply(t.dst, &req2));
    // A duplicate of the last reply, right behind it: still on the host's line.
    p.handle_packet(Time(101 * MS + 300_000), t.dst, &reply(t.dst, &req2));
    settle(&mut p, Time(101 * MS));
    let r = all_results(&mut p);
    assert_eq!((r[0].sent, r[0].received, r[0].duplicates), (2, 2, 3));
    assert_eq!(p.stats().rx_duplicate, 3);
}

#[test]
fn a_reply_after_the_deadline_is_late_not_alive() {
    let mut p = prober(1, 1);
    let (t, req) = send(&mut p, Time::ZERO);
    // Arrives after the deadline but before the driver got round to expiring it.
    p.handle_packet(Time(1001 * MS), t.dst, &reply(t.dst, &req));
    p.handle_timeout(Time(1002 * MS));
    // And once more after it was expired: the host's result was made when it finished, so this one counts in
    // the sweep's packets only (the engine prints a result the turn it is made; no later packet can reach it).
    p.handle_packet(Time(1500 * MS), t.dst, &reply(t.dst, &req));
    let r = all_results(&mut p);
    assert_eq!((r[0].status, r[0].received, r[0].late), (Status::Timeout, 0, 1));
    assert_eq!(p.stats().rx_late, 2);
}

#[test]
fn an_unreachable_quoting_our_probe_makes_the_host_unreachable() {
    let mut p = prober(1, 1);
    let (t, req) = send(&mut p, Time::ZERO);
    let router = Ipv4Addr::new(127, 9, 9, 9);
    p.handle_packet(Time(MS), IpAddr::V4(router), &unreachable_quoting(router, addr4(t.dst), &req, 8));
    assert!(!p.is_done(), "an echo reply may still arrive until the deadline");
    p.handle_timeout(Time(1001 * MS));
    let r = all_results(&mut p);
    assert_eq!(r[0].status, Status::Unreachable);
    assert_eq!(r[0].error, Some(ProbeError::Icmp { icmp_type: 3, code: 1, from: IpAddr::V4(router) }));
}

#[test]
fn an_echo_reply_wins_over_an_earlier_unreachable() {
    let mut p = prober(1, 1);
    let (t, req) = send(&mut p, Time::ZERO);
    let router = Ipv4Addr::new(127, 9, 9, 9);
    p.handle_packet(Time(MS), IpAddr::V4(router), &unreachable_quoting(router, addr4(t.dst), &req, req.len()));
    p.handle_packet(Time(2 * MS), t.dst, &reply(t.dst, &req));
    settle(&mut p, Time(2 * MS));
    let r = all_results(&mut p);
    assert_eq!((r[0].status, r[0].error), (Status::Alive, None));
}

#[test]
fn an_unreachable_quoting_someone_elses_probe_is_ignored() {
    let mut p = prober(2, 1);
    let (t, req) = send(&mut p, Time::ZERO);
    let router = Ipv4Addr::new(127, 9, 9, 9);
    // Our tag, but quoted as sent to an address we did not probe with it.
    p.handle_packet(Time(MS), IpAddr::V4(router), &unreachable_quoting(router, addr4(v4(1)), &req, 8));
    // A probe we never sent (another pinger's).
    let mut other = Prober::new(vec![t.dst].into(), cfg(1), Key::from_seed([3; 32]), Time::ZERO).unwrap();
    let (_, their_req) = send(&mut other, Time::ZERO);
    p.handle_packet(Time(MS), IpAddr::V4(router), &unreachable_quoting(router, addr4(t.dst), &their_req, 8));
    assert_eq!((p.stats().rx_foreign, p.stats().rx_errors), (2, 0));
    p.handle_timeout(Time(1001 * MS));
    p.handle_timeout(Time(1002 * MS));
    assert!(all_results(&mut p).iter().all(|r| r.status == Status::Timeout));
}

#[test]
fn a_reply_carrying_ip_options_is_credited_and_counted() {
    let mut p = prober(1, 1);
    let (t, req) = send(&mut p, Time::ZERO);
    let options = [7, 7, 4, 0, 0, 0, 0, 0];
    p.handle_packet(Time(MS), t.dst, &ipv4_packet(addr4(t.dst), Ipv4Addr::LOCALHOST, &options, &echo_reply_for(&req)));
    assert_eq!((p.stats().rx_credited, p.stats().ip_options), (1, 1));
}

#[test]
fn random_junk_is_counted_and_ignored() {
    let mut p = prober(1, 1);
    let (t, _) = send(&mut p, Time::ZERO);
    let mut x: u32 = 12345;
    for len in 0..400 {
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        p.handle_packet(Time(MS), t.dst, &junk);
    }
    assert_eq!(p.stats().rx_credited, 0);
    assert_eq!(p.stats().ignored(), 400);
}

#[test]
fn tags_are_never_reused_and_never_cross_credited_across_70000_hosts() {
    let n = 70_000;
    let mut p = prober(n, 1);
    let mut seen = std::collections::HashSet::new();
    let reqs: Vec<_> = (0..n).map(|_| send(&mut p, Time::ZERO)).collect();
    for (t, _) in &reqs {
        assert!(seen.insert(t.tag), "tag reused at host {}", t.host);
    }
    // Host i's reply arriving from host i+65536 (same 16-bit sequence position) must not count.
    for (i, (_, req)) in reqs.iter().enumerate().take((n - 65_536) as usize) {
        let wrong = v4(i as u32 + 65_536);
        p.handle_packet(Time(MS), wrong, &reply(wrong, req));
    }
    assert_eq!(p.stats().rx_credited, 0);
    for (t, req) in &reqs {
        p.handle_packet(Time(MS), t.dst, &reply(t.dst, req));
    }
    settle(&mut p, Time(MS));
    let r = all_results(&mut p);
    assert_eq!(r.len(), n as usize);
    assert!(r.iter().all(|r| r.status == Status::Alive && r.received == 1));
}

#[test]
fn a_host_that_never_answers_times_out_after_its_last_probe() {
    let mut p = prober(1, 3);
    let mut now = Time::ZERO;
    let mut sent = 0;
    while !p.is_done() {
        p.handle_timeout(now);
        let mut buf = [0u8; ECHO_LEN];
        sent += usize::from(p.poll_transmit(now, &mut buf).is_some());
        let Some(next) = p.poll_timeout() else { break };
        now = next.max(now + Duration::from_nanos(1));
    }
    let r = all_results(&mut p);
    assert_eq!((sent, r[0].status, r[0].sent), (3, Status::Timeout, 3));
    // Third probe at 200 ms, its deadline 1 s later, fired within one wheel tick.
    assert!((1200 * MS..=1200 * MS + MS / 4).contains(&r[0].finished_at.0), "{:?}", r[0].finished_at);
}

#[test]
fn a_batch_sent_at_once_shares_timer_entries_and_every_host_finishes_on_time() {
    // 600 hosts in one send time, the middle 100 answered together: the wheel holds 3 deadline entries (255 + 255
    // + 90 hosts), not 600, and one for the 100 duplicate windows; the answered hosts finish when their window
    // ends, exactly the 500 silent ones time out, at their deadline.
    let mut p = prober(600, 1);
    let sent: Vec<_> = (0..600).map(|_| send(&mut p, Time::ZERO)).collect();
    assert_eq!(p.wheel.len(), 3);
    for (t, req) in &sent[200..300] {
        p.handle_packet(Time(MS / 10), t.dst, &reply(t.dst, req));
    }
    assert_eq!(p.wheel.len(), 4);
    p.handle_timeout(Time(MS / 10 + reply::SETTLE_MIN.as_nanos() as u64 - 1));
    assert_eq!(all_results(&mut p).len(), 0, "no host is final inside its duplicate window");
    settle(&mut p, Time(MS / 10));
    p.handle_timeout(Time(1000 * MS - 1));
    assert_eq!(all_results(&mut p).len(), 100, "only the answered hosts are final before the deadline");
    p.handle_timeout(Time(1000 * MS));
    let r = all_results(&mut p);
    assert!(p.is_done());
    assert_eq!(r.len(), 500);
    assert!(r.iter().all(|r| r.status == Status::Timeout && r.finished_at == Time(1000 * MS)));
    assert_eq!(p.in_flight(), 0);
}

#[test]
fn a_deferred_send_is_retried_not_lost() {
    let mut p = prober(2, 1);
    let (t0, _) = send(&mut p, Time::ZERO);
    p.defer(t0.tag);
    let (again, req) = send(&mut p, Time(MS));
    assert_eq!(again.host, t0.host);
    // The first attempt's deadline (1000 ms) must not expire the retry (sent at 1 ms, due at 1001 ms).
    p.handle_timeout(Time(1000 * MS + MS / 2));
    p.handle_packet(Time(1000 * MS + MS / 2), again.dst, &reply(again.dst, &req));
    assert_eq!(p.stats().rx_credited, 1);
    assert_eq!(p.stats().send_deferred, 1);
}

#[test]
fn a_deferred_send_with_several_probes_sends_each_probe_once_and_finishes() {
    let mut p = prober(1, 2);
    let (t0, _) = send(&mut p, Time::ZERO);
    p.defer(t0.tag);
    // The retry leaves 1 ms later; nobody answers. Drive the core for 20 s, a tick at a time.
    let mut buf = [0u8; ECHO_LEN];
    let mut sends = Vec::new();
    for ms in 1..20_000 {
        let now = Time(ms * MS);
        p.handle_timeout(now);
        while let Some(t) = p.poll_transmit(now, &mut buf) {
            sends.push((now, t.tag));
        }
    }
    let probe1 = p.tag_of(0, 1);
    assert_eq!(sends, [(Time(MS), t0.tag), (Time(101 * MS), probe1)], "the interval counts from the retry");
    assert!(p.is_done());
    let r = all_results(&mut p);
    assert_eq!((r.len(), r[0].sent, r[0].status), (1, 2, Status::Timeout));
    assert_eq!((p.stats().sent, p.stats().send_deferred), (2, 1));
}

#[test]
fn the_rate_limits_how_many_probes_go_out() {
    let c = ProbeConfig { rate: 1000, ..cfg(1) };
    let mut p = Prober::new((0..5000).map(v4).collect(), c, Key::from_seed([7; 32]), Time::ZERO).unwrap();
    let mut buf = [0u8; ECHO_LEN];
    let mut sent = 0;
    for ms in 0..1000u64 {
        while p.poll_transmit(Time(ms * MS), &mut buf).is_some() {
            sent += 1;
        }
    }
    assert!((995..=1005).contains(&sent), "{sent} probes in one second at --rate 1000");
}

#[test]
fn a_long_sweep_keeps_state_only_for_the_hosts_in_flight() {
    // 100,000 hosts, 64 sends a millisecond, every one answered a millisecond later (a /8 on loopback, scaled
    // down): the per-host state is the hosts of the last few milliseconds, not the list.
    let n = 100_000;
    let mut p = prober(n, 1);
    let mut buf = [0u8; ECHO_LEN];
    let (mut held, mut results) = (0, 0);
    let mut answers: Vec<(IpAddr, Vec<u8>)> = Vec::new();
    for ms in 1..10_000u64 {
        let now = Time(ms * MS);
        for (from, req) in answers.drain(..) {
            p.handle_packet(now, from, &reply(from, &req));
        }
        p.handle_timeout(now);
        results += std::iter::from_fn(|| p.poll_result()).count();
        for _ in 0..64 {
            let Some(t) = p.poll_transmit(now, &mut buf) else { break };
            answers.push((t.dst, buf[..t.len].to_vec()));
        }
        held = held.max(p.hosts.len());
        if p.is_done() {
            break;
        }
    }
    assert_eq!(results, n as usize);
    // Sent over 2 ms before their duplicate window (1 ms, at 1 ms steps here) closes: 64 x 3, never the 100,000.
    assert!(held <= 64 * 3, "{held} host states held at once");
    assert_eq!(p.hosts.len(), 0, "a finished sweep holds no host state");
}

fn arb_ip() -> impl Strategy<Value = IpAddr> {
    (0u32..4).prop_map(v4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic_and_never_credit(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                                 from in arb_ip()) {
        let mut p = prober(4, 1);
        for _ in 0..4 { send(&mut p, Time::ZERO); }
        p.handle_packet(Time(MS), from, &bytes);
        prop_assert_eq!(p.stats().rx_credited + p.stats().rx_errors, 0);
    }

    /// Valid-looking replies built from a real request with fields flipped: credit only when untouched
    /// and from the right address.
    #[test]
    fn mutated_replies_are_credited_only_when_genuine(host in 0usize..4, from in arb_ip(),
                                                      flip in proptest::option::of((8usize..ECHO_LEN, 1u8..=255)),
                                                      delay_ms in 0u64..2000) {
        let mut p = prober(4, 1);
        let reqs: Vec<_> = (0..4).map(|_| send(&mut p, Time::ZERO)).collect();
        let (t, req) = &reqs[host];
        let mut icmp = echo_reply_for(req);
        if let Some((at, x)) = flip {
            icmp[at] ^= x;
            icmp[2..4].copy_from_slice(&[0, 0]);
            let sum = wire::checksum(&icmp);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        let pkt = ipv4_packet(addr4(from), Ipv4Addr::LOCALHOST, &[], &icmp);
        p.handle_packet(Time(delay_ms * MS), from, &pkt);
        let genuine = flip.is_none() && from == t.dst && delay_ms <= 1000;
        prop_assert_eq!(p.stats().rx_credited, u64::from(genuine));
        prop_assert_eq!(p.stats().received, 1);
    }
}

mod driven;
