//! The core driven the way the engine drives it, with a kernel that pushes back and a network that answers,
//! loses or duplicates, all drawn at random on a fake clock: every probe leaves exactly once, every host comes
//! out exactly once.

use super::*;

/// What the kernel and the network do with one echo request the core hands out.
#[derive(Clone, Copy, Debug)]
enum Fate {
    /// EAGAIN/ENOBUFS: it goes back to the core, with the rest of its batch.
    Deferred,
    /// The kernel refuses it for good (ENETUNREACH).
    Failed,
    Lost,
    /// The host answers after `rtt_us`; `twice`: the reply comes with a copy right behind it.
    Answered {
        rtt_us: u64,
        twice: bool,
    },
}

fn arb_fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        3 => Just(Fate::Deferred),
        1 => Just(Fate::Failed),
        2 => Just(Fate::Lost),
        4 => (0u64..1_500_000, any::<bool>()).prop_map(|(rtt_us, twice)| Fate::Answered { rtt_us, twice }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The core driven the way the engine drives it, on a fake clock: batches of sends, the kernel pushing back
    /// on some (the refused send and the rest of its batch go back, last first, as `engine::send` does), often
    /// several times in a row, refusing a few for good, and a network that answers, loses or duplicates. Every
    /// probe must leave exactly once, in order and an interval apart, and every host must come out exactly once.
    /// A host's verdict waits for all its probes (`finish_if_settled` wants `pending == 0`), so its `sent` falls
    /// short of `--probes` only by the sends the kernel refused for good.
    #[test]
    fn random_deferrals_never_duplicate_or_lose_a_probe(
        n in 1u32..=6,
        probes in 1u16..=5,
        interval_ms in 0u64..=300,
        timeout_ms in 1u64..=1500,
        rate in prop_oneof![Just(0u32), 100u32..=5000],
        batch in 1usize..=8,
        backoff_us in 0u64..=2000,
        fates in proptest::collection::vec(arb_fate(), 0..150),
    ) {
        use std::cmp::Reverse;
        use std::collections::{BinaryHeap, HashSet};

        let interval = Duration::from_millis(interval_ms);
        let timeout = Duration::from_millis(timeout_ms);
        let c = ProbeConfig { timeout, probes, interval, rate };
        let mut p = Prober::new((0..n).map(v4).collect(), c, Key::from_seed([7; 32]), Time::ZERO).unwrap();
        let hosts = n as usize;
        // Once the drawn fates run out, the kernel takes everything and the network loses it.
        let mut fates = fates.into_iter();
        let mut buf = [0u8; ECHO_LEN];
        let mut batch_sent: Vec<(Transmit, Vec<u8>)> = Vec::new();
        let mut arrivals: BinaryHeap<Reverse<(Time, IpAddr, Vec<u8>)>> = BinaryHeap::new();
        let mut left = HashSet::new();
        // Per host: the next probe to leave, when the last one left, refused for good, replies in time.
        let mut next_probe = vec![0u16; hosts];
        let mut last_left: Vec<Option<Time>> = vec![None; hosts];
        let mut failed = vec![0u16; hosts];
        let mut in_time = vec![0u16; hosts];
        let mut deferrals = 0u64;
        let mut results = Vec::new();
        let mut now = Time::ZERO;
        // Bounded in simulated time and in turns: a host that never finishes fails the case, it does not hang it.
        let end = Time::from_millis(30_000);
        for _ in 0..200_000 {
            if p.is_done() || now > end {
                break;
            }
            // As the engine: the socket first (kernel timestamps), then timers, then finished hosts, then sends.
            while arrivals.peek().is_some_and(|Reverse(a)| a.0 <= now) {
                let Reverse((rx, from, pkt)) = arrivals.pop().unwrap();
                p.handle_packet(rx, from, &pkt);
            }
            p.handle_timeout(now);
            results.extend(std::iter::from_fn(|| p.poll_result()));
            batch_sent.clear();
            while batch_sent.len() < batch {
                let Some(t) = p.poll_transmit(now, &mut buf) else { break };
                batch_sent.push((t, buf[..t.len].to_vec()));
            }
            let mut blocked = false;
            for (i, (t, req)) in batch_sent.iter().enumerate() {
                let h = t.host as usize;
                let fate = fates.next().unwrap_or(Fate::Lost);
                if let Fate::Deferred = fate {
                    for (t, _) in batch_sent[i..].iter().rev() {
                        p.defer(t.tag);
                        deferrals += 1;
                    }
                    blocked = true;
                    break;
                }
                // It left: it must be this host's next probe, never one already sent, an interval after the last.
                prop_assert!(next_probe[h] < probes, "host {} sent more than {} probes", h, probes);
                prop_assert_eq!(t.tag, p.tag_of(t.host, next_probe[h]), "host {} probe out of order", h);
                prop_assert!(left.insert(t.tag), "probe {} of host {} sent twice", next_probe[h], h);
                if let Some(last) = last_left[h] {
                    prop_assert!(now >= last + interval, "host {}: probes {:?} apart, interval {:?}",
                                 h, now - last, interval);
                }
                next_probe[h] += 1;
                last_left[h] = Some(now);
                match fate {
                    Fate::Deferred => unreachable!(),
                    Fate::Failed => {
                        p.send_failed(now, t.tag, libc::ENETUNREACH);
                        failed[h] += 1;
                    }
                    Fate::Lost => {}
                    Fate::Answered { rtt_us, twice } => {
                        let rx = now + Duration::from_micros(rtt_us);
                        let pkt = reply(t.dst, req);
                        if twice {
                            arrivals.push(Reverse((rx + Duration::from_micros(1), t.dst, pkt.clone())));
                        }
                        arrivals.push(Reverse((rx, t.dst, pkt)));
                        in_time[h] += u16::from(rx <= now + timeout);
                    }
                }
            }
            // Sleep until the next thing: a retry after a push-back, the core's next timer, or the next arrival.
            let wake = if blocked { Some(now + Duration::from_micros(backoff_us)) } else { p.poll_timeout() };
            let Some(next) = wake.into_iter().chain(arrivals.peek().map(|Reverse(a)| a.0)).min() else { break };
            now = now.max(next);
        }
        prop_assert!(p.is_done(), "not done at {:?}: {} of {} hosts final", now, p.finished(), n);
        results.extend(std::iter::from_fn(|| p.poll_result()));
        let mut seen: Vec<IpAddr> = results.iter().map(|r| r.host).collect();
        seen.sort();
        prop_assert_eq!(seen, (0..n).map(v4).collect::<Vec<_>>(), "each host final exactly once");
        for r in &results {
            let h = (u32::from(addr4(r.host)) - u32::from(addr4(v4(0)))) as usize;
            prop_assert_eq!(next_probe[h], probes, "host {} did not send all its probes", h);
            prop_assert_eq!((r.sent, r.refused), (probes, failed[h]), "refused sends count as sent and lost");
            prop_assert_eq!(r.received, in_time[h]);
            let status = match (r.received, failed[h]) {
                (0, 0) => Status::Timeout,
                (0, _) => Status::Unreachable,
                _ => Status::Alive,
            };
            prop_assert_eq!(r.status, status);
        }
        let s = p.stats();
        prop_assert_eq!(s.sent, results.iter().map(|r| u64::from(r.sent - r.refused)).sum::<u64>());
        prop_assert_eq!(s.send_deferred, deferrals);
        prop_assert_eq!(s.send_failed, failed.iter().map(|&f| u64::from(f)).sum::<u64>());
        prop_assert_eq!(s.rx_credited, in_time.iter().map(|&k| u64::from(k)).sum::<u64>());
        prop_assert_eq!(p.in_flight(), 0);
        prop_assert!(p.retried.is_empty(), "a finished sweep still tracks retries: {:?}", p.retried);
        prop_assert_eq!(p.hosts.len(), 0, "a finished sweep holds no host state");
        prop_assert!(p.errors.is_empty(), "a finished sweep still holds errors: {:?}", p.errors);
    }
}
