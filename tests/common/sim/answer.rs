//! How the simulated network answers a probe, written once for both families: [`answers`] turns a host's
//! [`Behaviour`] into abstract answers (an echo reply, perhaps twisted; a router's error; junk), and
//! [`Probe::encode`] writes each as an IPv4 or IPv6 packet. What differs between the families (type numbers,
//! checksums, header options, who answers for a router, how much an error quotes) lives only in the encoding.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use pinger::wire;

use super::{chance, Behaviour, PINGER_ADDR, PINGER_ADDR6, ROUTER6};

/// What the network sends back to one probe, whatever its family.
#[derive(Clone, Debug)]
pub(super) enum Answer {
    /// An echo reply to the probe, from the probed host (`from: None`) or another address, changed by `twist`.
    Reply { from: Option<Ipv4Addr>, twist: Twist },
    /// A router's ICMP error quoting the probe.
    Error { router: Ipv4Addr, error: RouterError },
    /// A message of a type pinger does not use, carrying `noise`.
    UnknownType { noise: Vec<u8> },
    /// An echo reply with the probe's header and the first 32 bytes of `noise` for its payload.
    ForgedReply { noise: Vec<u8> },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Twist {
    None,
    /// The checksum damaged after it was computed.
    BadChecksum,
    /// The echo data cut short by 12 bytes (a middlebox that trims), lengths and checksums made consistent again:
    /// a packet the kernel delivers, whose payload no longer proves anything.
    CutShort,
    /// The identifier changed, checksum made right.
    ChangedId,
    /// IPv4 options on the reply (record route with one free slot); IPv6 has none to carry, the plain reply goes.
    IpOptions,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum RouterError {
    /// Destination unreachable with this code, quoting as little as routers may (IPv4: header and 8 bytes).
    Unreachable { code: u8 },
    /// Time exceeded, quoting the whole probe.
    TimeExceeded,
}

/// The answers to one probe, each with its delay: the scenario's behaviour for `key` (the destination, or an
/// IPv6 destination's last 32 bits), probe sequence number `seq`. `window` is the rate limiter's state.
pub(super) fn answers(
    behaviour: Behaviour,
    key: Ipv4Addr,
    seq: u16,
    window: &mut (Instant, u32),
    now: Instant,
) -> Vec<(Duration, Answer)> {
    let reply = |twist| Answer::Reply { from: None, twist };
    let at_once = |answer| vec![(Duration::ZERO, answer)];
    match behaviour {
        Behaviour::Answer { latency, jitter, loss } => {
            if chance(key, seq, 1) < loss {
                return vec![];
            }
            vec![(latency + jitter.mul_f64(chance(key, seq, 2)), reply(Twist::None))]
        }
        Behaviour::Dead => vec![],
        Behaviour::Duplicate { copies, gap } => (0..u32::from(copies)).map(|i| (gap * i, reply(Twist::None))).collect(),
        Behaviour::BadChecksum => at_once(reply(Twist::BadChecksum)),
        Behaviour::Spoofed { from } => at_once(Answer::Reply { from: Some(from), twist: Twist::None }),
        Behaviour::Unreachable { router, code } => {
            at_once(Answer::Error { router, error: RouterError::Unreachable { code } })
        }
        Behaviour::TimeExceeded { router } => at_once(Answer::Error { router, error: RouterError::TimeExceeded }),
        Behaviour::Truncated => at_once(reply(Twist::CutShort)),
        Behaviour::Late { after } => vec![(after, reply(Twist::None))],
        Behaviour::ChangedId => at_once(reply(Twist::ChangedId)),
        Behaviour::IpOptions => at_once(reply(Twist::IpOptions)),
        Behaviour::Reorder => {
            let delay = if seq % 2 == 0 { Duration::from_millis(30) } else { Duration::from_millis(1) };
            vec![(delay, reply(Twist::None))]
        }
        Behaviour::RateLimited { per_second } => {
            if now.duration_since(window.0) >= Duration::from_secs(1) {
                *window = (now, 0);
            }
            if window.1 >= per_second {
                return vec![];
            }
            window.1 += 1;
            at_once(reply(Twist::None))
        }
        Behaviour::Junk => {
            let noise: Vec<u8> = (0..40u16).map(|i| (chance(key, seq.wrapping_add(i), 3) * 256.0) as u8).collect();
            vec![
                (Duration::ZERO, Answer::UnknownType { noise: noise.clone() }),
                (Duration::ZERO, Answer::ForgedReply { noise }),
            ]
        }
    }
}

/// An echo request pinger sent into the simulated network: the whole packet, its ICMP part and its destination.
pub(super) struct Probe<'a> {
    dst: Addr,
    packet: &'a [u8],
    icmp: &'a [u8],
}

#[derive(Clone, Copy)]
enum Addr {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl<'a> Probe<'a> {
    /// The echo request in `pkt`, if it is one (IPv4 type 8, or ICMPv6 type 128 straight after the IPv6 header).
    pub(super) fn read(pkt: &'a [u8]) -> Option<Probe<'a>> {
        if pkt.len() >= 48 && pkt[0] >> 4 == 6 && pkt[6] == 58 && pkt[40] == 128 {
            let dst: [u8; 16] = pkt[24..40].try_into().ok()?;
            return Some(Probe { dst: Addr::V6(dst.into()), packet: pkt, icmp: &pkt[40..] });
        }
        if pkt.len() < 28 || pkt[0] >> 4 != 4 || pkt[9] != 1 {
            return None;
        }
        let icmp = pkt.get(usize::from(pkt[0] & 15) * 4..)?;
        let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
        (icmp.first() == Some(&8)).then_some(Probe { dst: Addr::V4(dst), packet: pkt, icmp })
    }

    /// The scenario's key for the destination: an IPv4 address itself, an IPv6 address its last 32 bits.
    pub(super) fn key(&self) -> Ipv4Addr {
        match self.dst {
            Addr::V4(a) => a,
            Addr::V6(a) => Ipv4Addr::from(u128::from(a) as u32),
        }
    }

    pub(super) fn seq(&self) -> u16 {
        u16::from_be_bytes([self.icmp[6], self.icmp[7]])
    }

    /// `answer` as a packet of the probe's family, addressed to pinger.
    pub(super) fn encode(&self, answer: &Answer) -> Vec<u8> {
        let v6 = matches!(self.dst, Addr::V6(_));
        // ICMP type numbers: echo reply, a type pinger does not use, destination unreachable, time exceeded.
        let [reply, unknown, unreachable, time_exceeded] = if v6 { [129, 200, 1, 3] } else { [0, 42, 3, 11] };
        let header = |t: u8, code: u8| vec![t, code, 0, 0, 0, 0, 0, 0];
        match answer {
            Answer::Reply { from, twist } => {
                let mut m = self.icmp.to_vec();
                m[0] = reply;
                match twist {
                    Twist::CutShort => m.truncate(m.len() - 12),
                    Twist::ChangedId => m[4] ^= 1,
                    _ => {}
                }
                let options: &[u8] = if *twist == Twist::IpOptions { &[7, 7, 4, 0, 0, 0, 0, 1] } else { &[] };
                let mut p = self.wrap(from.map_or(self.dst, |f| self.other(f)), options, &m);
                if *twist == Twist::BadChecksum {
                    let at = p.len() - m.len() + 2;
                    p[at] ^= 0x5a;
                }
                p
            }
            Answer::Error { router, error } => {
                let mut m = match error {
                    RouterError::Unreachable { code } => header(unreachable, *code),
                    RouterError::TimeExceeded => header(time_exceeded, 0),
                };
                // An IPv6 router quotes as much as fits in the minimum MTU (RFC 4443); an IPv4 one, at least the
                // header and 8 bytes (RFC 792).
                let quote = match (v6, error) {
                    (true, _) => self.packet.len().min(1232),
                    (false, RouterError::Unreachable { .. }) => self.packet.len().min(20 + 8),
                    (false, RouterError::TimeExceeded) => self.packet.len(),
                };
                m.extend_from_slice(&self.packet[..quote]);
                self.wrap(self.other(*router), &[], &m)
            }
            Answer::UnknownType { noise } => {
                let mut m = header(unknown, 0);
                m.extend_from_slice(noise);
                self.wrap(self.dst, &[], &m)
            }
            Answer::ForgedReply { noise } => {
                let mut m = self.icmp[..8].to_vec();
                m[0] = reply;
                m.extend_from_slice(&noise[..32]);
                self.wrap(self.dst, &[], &m)
            }
        }
    }

    /// Another address than the probed one, of the probe's family: as given for IPv4, [`ROUTER6`] for IPv6.
    fn other(&self, v4: Ipv4Addr) -> Addr {
        match self.dst {
            Addr::V4(_) => Addr::V4(v4),
            Addr::V6(_) => Addr::V6(ROUTER6),
        }
    }

    /// The ICMP message `m` with its checksum set, in an IP packet from `src` to pinger (IPv4 `options` only).
    fn wrap(&self, src: Addr, options: &[u8], m: &[u8]) -> Vec<u8> {
        let mut m = m.to_vec();
        m[2..4].copy_from_slice(&[0, 0]);
        match src {
            Addr::V4(src) => {
                let sum = wire::checksum(&m);
                m[2..4].copy_from_slice(&sum.to_be_bytes());
                wire::ipv4_packet(src, PINGER_ADDR, options, &m)
            }
            Addr::V6(src) => {
                // The ICMPv6 checksum covers a pseudo-header: addresses, length and next header.
                let mut pseudo = Vec::with_capacity(40 + m.len());
                pseudo.extend_from_slice(&src.octets());
                pseudo.extend_from_slice(&PINGER_ADDR6.octets());
                pseudo.extend_from_slice(&(m.len() as u32).to_be_bytes());
                pseudo.extend_from_slice(&[0, 0, 0, 58]);
                pseudo.extend_from_slice(&m);
                let sum = wire::checksum(&pseudo);
                m[2..4].copy_from_slice(&sum.to_be_bytes());
                let mut p = wire::ipv6_header(src, PINGER_ADDR6, m.len() as u16);
                p.extend_from_slice(&m);
                p
            }
        }
    }
}
