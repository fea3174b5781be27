//! Reply matching: what the [`Prober`] does with a packet the socket delivered. The rules for crediting a reply
//! live here and nowhere else: right checksum (checked by `wire`), an echo reply, a payload whose keyed check
//! value binds it to this run, the tag we derive for that host and probe, from the address we probed,
//! outstanding, and before its deadline. An ICMP error counts only when it quotes an outstanding probe to the
//! address it was sent to; it makes the host `unreachable` unless a reply still comes (the deadline decides).

use std::net::IpAddr;
use std::time::Duration;

use super::{Hosts, Prober, Tag, Timer};
use crate::outcome::ProbeError;
use crate::time::Time;
use crate::wire::{self, EchoPayload, Icmp, Reject, PAYLOAD_LEN};

/// How long a host stays open after its last reply so that duplicates of it are counted on its own line: twice
/// that reply's round trip (duplicates travel the same path), at least [`SETTLE_MIN`], at most 50 ms and never
/// past the probe's deadline. The sweep ends that much later than its last reply, not a timeout later. A copy
/// that comes after the window still counts in the sweep's packets (`late`/`duplicate`).
fn settle_window(rtt: Duration, until_deadline: Duration) -> Duration {
    (rtt * 2).clamp(SETTLE_MIN, Duration::from_millis(50)).min(until_deadline)
}

/// The shortest duplicate window: 1 ms, four ticks of the timer wheel. The window is measured on the kernel's
/// receive times and timers run only as far as the socket has been read, so it needs no slack for scheduling;
/// the floor is for copies that a LAN host (round trips of tens of microseconds) sends a little apart. It was
/// 10 ms, then 2 ms (two ticks of the 1 ms wheel): every sweep waits it out after its last reply.
pub(super) const SETTLE_MIN: Duration = Duration::from_millis(1);

impl Prober {
    /// Any packet the socket delivered, with the time it arrived (kernel timestamp when there is one) and the
    /// address the kernel says it came from.
    pub fn handle_packet(&mut self, rx: Time, from: IpAddr, bytes: &[u8]) {
        self.stats.received += 1;
        let parsed = match if from.is_ipv6() { wire::parse_v6(bytes) } else { wire::parse_v4(bytes) } {
            Ok(p) => p,
            Err(Reject::BadChecksum) => return self.stats.rx_bad_checksum += 1,
            Err(Reject::Malformed) => return self.stats.rx_malformed += 1,
            Err(Reject::OtherType | Reject::ForeignQuote) => return self.stats.rx_foreign += 1,
        };
        self.stats.ip_options += u64::from(parsed.ip_options);
        match parsed.icmp {
            Icmp::EchoReply { id, seq, payload } => self.on_reply(rx, from, Tag::from_parts(id, seq), payload),
            Icmp::Error { kind, probe_dst, id, seq, quoted_payload } => {
                let error = ProbeError::Icmp { icmp_type: kind.icmp_type, code: kind.code, from };
                self.on_error(rx, error, probe_dst, Tag::from_parts(id, seq), quoted_payload)
            }
        }
    }

    fn on_reply(&mut self, rx: Time, from: IpAddr, tag: Tag, payload: &[u8]) {
        let Some(p) = EchoPayload::parse(payload) else {
            return self.stats.rx_foreign += 1;
        };
        let deadline = self.cfg.timeout;
        // The usual case first: the answer to an outstanding probe, from the address probed, within its deadline,
        // taken out of the table. It proves itself by carrying back the check value its probe carried (kept when
        // it was sent: the same proof as making it again, without the hash).
        let credited = match self.hosts.get(p.host) {
            Some(_) if self.targets.get(p.host) == Some(from) => self.inflight.remove_if(tag, |f| {
                (f.host, f.probe, f.sent_at.0, f.mac) == (p.host, p.probe, p.sent_ns, p.mac)
                    && rx <= f.sent_at + deadline
            }),
            _ => None,
        };
        if let Some(f) = credited {
            let st = self.hosts.get(p.host).expect("a host with a probe in flight is being probed");
            let rtt = rx.since(f.sent_at).as_nanos() as u64;
            st.rtt_min = if st.received == 0 { rtt } else { st.rtt_min.min(rtt) };
            st.rtt_max = st.rtt_max.max(rtt);
            st.rtt_sum += rtt;
            st.received += 1;
            st.outstanding -= 1;
            self.stats.rx_credited += 1;
            if st.pending == 0 && st.outstanding == 0 && !st.done && !st.settling {
                st.settling = true;
                let window = settle_window(Duration::from_nanos(rtt), (f.sent_at + deadline).since(rx));
                self.wheel.insert_or_merge(rx + window, Timer::Settle(Hosts::one(p.host)), Timer::absorb);
            }
            return;
        }
        // Not credited: why, with the check value made again (the probe may be gone from the table).
        if !self.proves(tag, &p) {
            return self.stats.rx_foreign += 1;
        }
        if from != self.targets.of(p.host) {
            return self.stats.rx_spoofed += 1;
        }
        // Ours, but its probe is past its deadline (the wheel will expire it) or already answered. `None` once the
        // host is finished: a late reply or a copy after its result went out counts in the sweep's packets only.
        let late = rx.0.saturating_sub(p.sent_ns) > deadline.as_nanos() as u64;
        let st = self.hosts.get(p.host);
        if late {
            if let Some(st) = st {
                st.late = st.late.saturating_add(1);
            }
            self.stats.rx_late += 1;
        } else {
            if let Some(st) = st {
                st.duplicates = st.duplicates.saturating_add(1);
            }
            self.stats.rx_duplicate += 1;
        }
    }

    fn on_error(&mut self, rx: Time, error: ProbeError, probe_dst: IpAddr, tag: Tag, quoted: &[u8]) {
        let Some(f) = self.inflight.get(tag).copied() else {
            return self.stats.rx_foreign += 1;
        };
        // Routers often quote only the 8-byte echo header; when they quote our payload, it must check out too.
        let quote_ok = quoted.len() < PAYLOAD_LEN || self.authentic(tag, quoted).is_some_and(|p| p.host == f.host);
        if probe_dst != self.targets.of(f.host) || !quote_ok {
            return self.stats.rx_foreign += 1;
        }
        if rx > f.sent_at + self.cfg.timeout {
            return self.stats.rx_late += 1;
        }
        self.errors.entry(f.host).or_insert(error);
        self.stats.rx_errors += 1;
    }

    /// The payload, if its check value proves this run sent it with this tag.
    fn authentic(&self, tag: Tag, payload: &[u8]) -> Option<EchoPayload> {
        EchoPayload::parse(payload).filter(|p| self.proves(tag, p))
    }

    /// Whether the check value of the parsed payload `p` proves this run sent it with this tag.
    fn proves(&self, tag: Tag, p: &EchoPayload) -> bool {
        self.targets.get(p.host).is_some_and(|dst| {
            p.probe < self.cfg.probes
                && self.tag_of(p.host, p.probe) == tag
                && self.key.mac(tag, p.host, p.probe, p.sent_ns, dst) == p.mac
        })
    }
}
