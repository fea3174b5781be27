//! What the fuzz targets share: a small sweep in flight, and the packets a fuzzer's bytes stand for.
//!
//! The classifier is fuzzed through `Prober::handle_packet`, the function the engine hands every received packet
//! to, not through `wire` alone: a packet that parses must also be judged (credited, duplicate, late, spoofed,
//! foreign) without a panic, and the sweep must still end with one verdict per host. Nothing here opens a socket
//! or reads a clock; time is a value, as everywhere in the core.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use pinger::outcome::Status;
use pinger::probe::{Key, ProbeConfig, Prober};
use pinger::time::Time;
use pinger::wire::{self, ErrorKind, ECHO_LEN};

const MS: u64 = 1_000_000;
/// The probes of every host have all left by then.
const SENT_BY: Time = Time(120 * MS);

/// A sweep of a few hosts, two probes each, every probe sent and none answered; `requests` are their bytes.
pub struct Flight {
    pub prober: Prober,
    pub targets: Vec<IpAddr>,
    pub requests: Vec<(IpAddr, Vec<u8>)>,
}

impl Flight {
    pub fn new(targets: Vec<IpAddr>) -> Flight {
        let cfg = ProbeConfig {
            timeout: Duration::from_millis(1000),
            probes: 2,
            interval: Duration::from_millis(100),
            rate: 0,
        };
        // A fixed key: the same input is the same packet on every run, so a crash replays.
        let mut prober = Prober::new(targets.clone().into(), cfg, Key::from_seed([7; 32]), Time::ZERO).expect("a valid sweep");
        let mut requests = Vec::new();
        let mut buf = [0u8; ECHO_LEN];
        for now in [Time(10 * MS), SENT_BY] {
            prober.handle_timeout(now);
            while let Some(t) = prober.poll_transmit(now, &mut buf) {
                requests.push((t.dst, buf[..t.len].to_vec()));
            }
        }
        assert_eq!(requests.len(), 2 * targets.len(), "every probe in flight");
        Flight { prober, targets, requests }
    }

    /// Feeds `input` as a received packet (see [`Packet`]), twice (the second is a duplicate), then lets every
    /// deadline pass: each host must come out exactly once, with a verdict its counts agree with.
    pub fn run(mut self, input: &[u8], v6: bool) {
        let Some(p) = Packet::read(input, &self, v6) else { return };
        self.prober.handle_packet(p.rx, p.from, &p.bytes);
        self.prober.handle_packet(p.rx + Duration::from_micros(1), p.from, &p.bytes);
        self.prober.handle_timeout(p.rx + Duration::from_secs(3));
        let mut seen = vec![false; self.targets.len()];
        while let Some(r) = self.prober.poll_result() {
            let i = self.targets.iter().position(|t| *t == r.host).expect("a result for a probed host");
            assert!(!std::mem::replace(&mut seen[i], true), "{} reported twice", r.host);
            assert!(r.received <= r.sent && r.sent <= 2, "{r:?}");
            assert_eq!(r.status == Status::Alive, r.received > 0, "{r:?}");
            assert_eq!(r.rtt.is_some(), r.received > 0, "{r:?}");
        }
        assert!(self.prober.is_done() && seen.iter().all(|s| *s), "a host never got its verdict");
    }
}

/// What a fuzzer's bytes stand for. Byte 0 picks the address the packet comes from (a target or a stranger),
/// byte 1 when it arrives (8 ms steps from the last send: early, on time, past the 1 s deadline), byte 2 how the
/// packet is made:
/// - mode 0: the rest of the input is the packet, as the socket would deliver it;
/// - mode 1: the genuine reply to probe `byte 3`, mode 2: an ICMP error quoting it (quoting `byte 4` bytes of
///   it); then the rest is edits, pairs (position, xor), so that the fuzzer works from packets that get past the
///   checks into the core's decisions;
/// - bit 2 (IPv4): the ICMP checksum is fixed up after the edits, so edits are not all rejected as bad checksums.
pub struct Packet {
    pub from: IpAddr,
    pub rx: Time,
    pub bytes: Vec<u8>,
}

impl Packet {
    fn read(input: &[u8], flight: &Flight, v6: bool) -> Option<Packet> {
        let [who, when, how, k, quote, rest @ ..] = input else { return None };
        let stranger =
            if v6 { IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99)) } else { v4(127, 9, 9, 9) };
        let from = *flight.targets.get(usize::from(*who) % (flight.targets.len() + 1)).unwrap_or(&stranger);
        let rx = SENT_BY + Duration::from_millis(u64::from(*when) * 8);
        let (dst, req) = &flight.requests[usize::from(*k) % flight.requests.len()];
        let cut = usize::from(*quote) % (req.len() + 1);
        let mut bytes = match (how & 3, v6) {
            (1, false) => wire::ipv4_packet(addr4(*dst), Ipv4Addr::LOCALHOST, &[], &wire::echo_reply_for(req)),
            (1, true) => wire::echo_reply_v6_for(req),
            (2, false) => {
                let quoted = wire::ipv4_packet(Ipv4Addr::LOCALHOST, addr4(*dst), &[], &req[..cut.max(8)]);
                let err = wire::icmp_error_v4(ErrorKind { icmp_type: 3, code: 1 }, &quoted);
                wire::ipv4_packet(addr4(from), Ipv4Addr::LOCALHOST, &[], &err)
            }
            (2, true) => {
                let mut m = vec![1, 3, 0, 0, 0, 0, 0, 0];
                m.extend_from_slice(&wire::ipv6_header(Ipv6Addr::LOCALHOST, addr6(*dst), req.len() as u16));
                m.extend_from_slice(&req[..cut.max(8)]);
                m
            }
            _ => return Some(Packet { from, rx, bytes: fix_checksum(rest.to_vec(), !v6 && how & 4 != 0) }),
        };
        for edit in rest.chunks_exact(2) {
            let at = usize::from(edit[0]) % bytes.len();
            bytes[at] ^= edit[1];
        }
        if rest.len() % 2 == 1 {
            // An odd last byte cuts the packet.
            bytes.truncate(usize::from(rest[rest.len() - 1]));
        }
        Some(Packet { from, rx, bytes: fix_checksum(bytes, !v6 && how & 4 != 0) })
    }
}

/// Rewrites the ICMP checksum of an IPv4 packet when its header says where the ICMP message is.
fn fix_checksum(mut p: Vec<u8>, fix: bool) -> Vec<u8> {
    let header = usize::from(p.first().copied().unwrap_or(0) & 0x0f) * 4;
    let total = p.get(2..4).map_or(0, |t| usize::from(u16::from_be_bytes([t[0], t[1]]))).min(p.len());
    if fix && header >= 20 && total >= header + 8 {
        p[header + 2..header + 4].fill(0);
        let sum = wire::checksum(&p[header..total]);
        p[header + 2..header + 4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

pub fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn addr4(a: IpAddr) -> Ipv4Addr {
    match a {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    }
}

fn addr6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}
