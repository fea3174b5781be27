//! Wire formats: the only user of etherparse.
//!
//! Emits a typed [`EchoRequest`] into a caller's buffer (by hand: eight bytes of header) and reads one back (emit
//! and parse mirror each other), and classifies whatever bytes a raw socket delivered into a typed [`Icmp`]
//! message or a [`Reject`] reason, with etherparse. It knows nothing of hosts, keys or time: deciding whether a
//! well-formed reply is *ours* is the core's job (`probe/`). Every length is checked here so that nothing past
//! this module can index out of bounds on hostile input.

use std::net::IpAddr;

use etherparse::{IcmpEchoHeader, Icmpv4Slice, Icmpv6Slice, IpNumber, Ipv4HeaderSlice, Ipv6HeaderSlice};

/// Bytes of echo data we send: magic, host index, probe number, send time and a keyed check value.
pub const PAYLOAD_LEN: usize = 32;
/// ICMP header plus our payload.
pub const ECHO_LEN: usize = 8 + PAYLOAD_LEN;
const MAGIC: [u8; 4] = *b"pngr";

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_TIME_EXCEEDED: u8 = 11;

/// What our echo data says. Only the keyed `mac` makes it trustworthy; the core checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoPayload {
    pub host: u32,
    pub probe: u16,
    pub sent_ns: u64,
    pub mac: u64,
}

impl EchoPayload {
    pub fn write(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&MAGIC);
        out[4..8].copy_from_slice(&self.host.to_be_bytes());
        out[8..10].copy_from_slice(&self.probe.to_be_bytes());
        out[10..12].copy_from_slice(&[0, 0]);
        out[12..20].copy_from_slice(&self.sent_ns.to_be_bytes());
        out[20..28].copy_from_slice(&self.mac.to_be_bytes());
        out[28..32].copy_from_slice(&[0; 4]);
    }

    /// Reads a payload; `None` when it is too short or not ours in shape.
    pub fn parse(bytes: &[u8]) -> Option<EchoPayload> {
        let b: &[u8; PAYLOAD_LEN] = bytes.get(..PAYLOAD_LEN)?.try_into().ok()?;
        // Padding must be as we wrote it, so that every byte we sent is either checked or keyed.
        if b[..4] != MAGIC || b[10..12] != [0, 0] || b[28..32] != [0; 4] {
            return None;
        }
        Some(EchoPayload {
            host: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            probe: u16::from_be_bytes([b[8], b[9]]),
            sent_ns: u64::from_be_bytes(b[12..20].try_into().ok()?),
            mac: u64::from_be_bytes(b[20..28].try_into().ok()?),
        })
    }
}

/// An echo request as the core means it: the tag as identifier and sequence, and our payload. The typed side of
/// what goes out, as [`Icmp`] is of what comes in: [`emit_v4`](Self::emit_v4) and [`emit_v6`](Self::emit_v6)
/// write it, [`parse_v4`](Self::parse_v4) and [`parse_v6`](Self::parse_v6) read the same bytes back into the
/// same value (what a host receives; its reply carries these fields back as [`Icmp::EchoReply`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoRequest {
    pub id: u16,
    pub seq: u16,
    pub payload: EchoPayload,
}

impl EchoRequest {
    /// Writes the ICMPv4 message (header with checksum, then payload) into `buf`; returns its length.
    /// `buf` must hold at least [`ECHO_LEN`] bytes.
    pub fn emit_v4(&self, buf: &mut [u8]) -> usize {
        let packet = self.emit(ICMP_ECHO_REQUEST, buf);
        let sum = checksum(packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
        ECHO_LEN
    }

    /// Writes the ICMPv6 message into `buf`; returns its length. The checksum is left zero: on a raw ICMPv6
    /// socket the kernel computes it (it needs the source address, which only the kernel knows).
    pub fn emit_v6(&self, buf: &mut [u8]) -> usize {
        self.emit(ICMP6_ECHO_REQUEST, buf);
        ECHO_LEN
    }

    /// The message of either family with a zero checksum: type, code 0, identifier, sequence, payload.
    fn emit<'b>(&self, icmp_type: u8, buf: &'b mut [u8]) -> &'b mut [u8] {
        let packet = &mut buf[..ECHO_LEN];
        packet[..4].copy_from_slice(&[icmp_type, 0, 0, 0]);
        packet[4..6].copy_from_slice(&self.id.to_be_bytes());
        packet[6..8].copy_from_slice(&self.seq.to_be_bytes());
        self.payload.write(&mut packet[8..]);
        packet
    }

    /// Reads an ICMPv4 echo request of ours (the message, no IPv4 header), checksum included.
    pub fn parse_v4(message: &[u8]) -> Result<EchoRequest, Reject> {
        let head = EchoRequest::head(message, ICMP_ECHO_REQUEST)?;
        if checksum(message) != 0 {
            return Err(Reject::BadChecksum);
        }
        Ok(head)
    }

    /// Reads an ICMPv6 echo request of ours (the checksum covers a pseudo-header: the kernel's to check).
    pub fn parse_v6(message: &[u8]) -> Result<EchoRequest, Reject> {
        EchoRequest::head(message, ICMP6_ECHO_REQUEST)
    }

    fn head(message: &[u8], echo_request: u8) -> Result<EchoRequest, Reject> {
        let head: &[u8; 8] = message.get(..8).and_then(|h| h.try_into().ok()).ok_or(Reject::Malformed)?;
        if head[0] != echo_request || head[1] != 0 {
            return Err(Reject::OtherType);
        }
        let payload = EchoPayload::parse(&message[8..]).ok_or(Reject::Malformed)?;
        Ok(EchoRequest {
            id: u16::from_be_bytes([head[4], head[5]]),
            seq: u16::from_be_bytes([head[6], head[7]]),
            payload,
        })
    }
}

const ICMP6_DEST_UNREACH: u8 = 1;
const ICMP6_PACKET_TOO_BIG: u8 = 2;
const ICMP6_TIME_EXCEEDED: u8 = 3;
const ICMP6_ECHO_REQUEST: u8 = 128;
const ICMP6_ECHO_REPLY: u8 = 129;

/// Classifies what a raw ICMPv6 socket delivered: the ICMPv6 message alone (Linux strips the IPv6 header and
/// has already verified the checksum, which covers a pseudo-header only the kernel sees).
pub fn parse_v6(message: &[u8]) -> Result<Parsed<'_>, Reject> {
    let icmp = Icmpv6Slice::from_slice(message).map_err(|_| Reject::Malformed)?;
    let body = &icmp.slice()[8..];
    let parsed = match icmp.type_u8() {
        ICMP6_ECHO_REPLY if icmp.code_u8() == 0 => {
            let echo = IcmpEchoHeader::from_bytes(icmp.bytes5to8());
            Icmp::EchoReply { id: echo.id, seq: echo.seq, payload: body }
        }
        t @ (ICMP6_DEST_UNREACH | ICMP6_PACKET_TOO_BIG | ICMP6_TIME_EXCEEDED) => {
            quoted_probe_v6(ErrorKind { icmp_type: t, code: icmp.code_u8() }, body)?
        }
        _ => return Err(Reject::OtherType),
    };
    Ok(Parsed { icmp: parsed, ip_options: false })
}

/// The IPv6 packet an ICMPv6 error quotes: it must be an echo request straight after the IPv6 header.
fn quoted_probe_v6(kind: ErrorKind, quote: &[u8]) -> Result<Icmp<'_>, Reject> {
    let ip = Ipv6HeaderSlice::from_slice(quote).map_err(|_| Reject::Malformed)?;
    if ip.next_header() != IpNumber::IPV6_ICMP {
        return Err(Reject::ForeignQuote);
    }
    let inner = &quote[40..];
    let head: &[u8; 8] = inner.get(..8).and_then(|h| h.try_into().ok()).ok_or(Reject::Malformed)?;
    if head[0] != ICMP6_ECHO_REQUEST || head[1] != 0 {
        return Err(Reject::ForeignQuote);
    }
    Ok(Icmp::Error {
        kind,
        probe_dst: IpAddr::V6(ip.destination_addr()),
        id: u16::from_be_bytes([head[4], head[5]]),
        seq: u16::from_be_bytes([head[6], head[7]]),
        quoted_payload: &inner[8..],
    })
}

/// The ICMP error kinds that make a host `unreachable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorKind {
    pub icmp_type: u8,
    pub code: u8,
}

/// A well-formed ICMP message that may concern one of our probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmp<'a> {
    EchoReply {
        id: u16,
        seq: u16,
        payload: &'a [u8],
    },
    /// An error quoting an echo request: `probe_dst` is the quoted destination, `quoted_payload` whatever of
    /// its data the router kept (often nothing).
    Error {
        kind: ErrorKind,
        probe_dst: IpAddr,
        id: u16,
        seq: u16,
        quoted_payload: &'a [u8],
    },
}

/// A message as read off the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub icmp: Icmp<'a>,
    /// The outer IPv4 header carried options (legal, but unusual enough to count).
    pub ip_options: bool,
}

/// Why received bytes were not an [`Icmp`] message worth the core's attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("truncated or malformed packet")]
    Malformed,
    #[error("bad ICMP checksum")]
    BadChecksum,
    #[error("ICMP type we do not use")]
    OtherType,
    #[error("ICMP error quoting something other than an echo request")]
    ForeignQuote,
}

/// Classifies a packet from a raw IPv4 ICMP socket (IPv4 header included, as Linux delivers it).
pub fn parse_v4(packet: &[u8]) -> Result<Parsed<'_>, Reject> {
    let ip = Ipv4HeaderSlice::from_slice(packet).map_err(|_| Reject::Malformed)?;
    if ip.protocol() != IpNumber::ICMP || ip.is_fragmenting_payload() {
        return Err(Reject::Malformed);
    }
    let header_len = ip.slice().len();
    let total = usize::from(ip.total_len());
    if total < header_len || total > packet.len() {
        return Err(Reject::Malformed);
    }
    let icmp_bytes = &packet[header_len..total];
    if icmp_bytes.len() < 8 {
        return Err(Reject::Malformed);
    }
    if checksum(icmp_bytes) != 0 {
        return Err(Reject::BadChecksum);
    }
    let icmp = Icmpv4Slice::from_slice(icmp_bytes).map_err(|_| Reject::Malformed)?;
    let ip_options = !ip.options().is_empty();
    let parsed = match icmp.type_u8() {
        ICMP_ECHO_REPLY if icmp.code_u8() == 0 => {
            let echo = IcmpEchoHeader::from_bytes(icmp.bytes5to8());
            Icmp::EchoReply { id: echo.id, seq: echo.seq, payload: icmp.payload() }
        }
        t @ (ICMP_DEST_UNREACH | ICMP_TIME_EXCEEDED) => {
            quoted_probe(ErrorKind { icmp_type: t, code: icmp.code_u8() }, icmp.payload())?
        }
        _ => return Err(Reject::OtherType),
    };
    Ok(Parsed { icmp: parsed, ip_options })
}

/// Reads the IPv4 header and first bytes of the datagram an ICMP error quotes; it must be an echo request.
fn quoted_probe(kind: ErrorKind, quote: &[u8]) -> Result<Icmp<'_>, Reject> {
    let ip = Ipv4HeaderSlice::from_slice(quote).map_err(|_| Reject::Malformed)?;
    if ip.protocol() != IpNumber::ICMP {
        return Err(Reject::ForeignQuote);
    }
    let inner = &quote[ip.slice().len()..];
    // Routers must quote at least 8 bytes of the datagram: the whole echo header.
    let head: &[u8; 8] = inner.get(..8).and_then(|h| h.try_into().ok()).ok_or(Reject::Malformed)?;
    if head[0] != ICMP_ECHO_REQUEST || head[1] != 0 {
        return Err(Reject::ForeignQuote);
    }
    let quoted_len = usize::from(ip.total_len()).saturating_sub(ip.slice().len());
    let quoted_payload = &inner[8..inner.len().min(quoted_len.max(8))];
    Ok(Icmp::Error {
        kind,
        probe_dst: IpAddr::V4(ip.destination_addr()),
        id: u16::from_be_bytes([head[4], head[5]]),
        seq: u16::from_be_bytes([head[6], head[7]]),
        quoted_payload,
    })
}

/// The Internet checksum (RFC 1071) of `bytes`; zero when `bytes` already carries a correct checksum.
pub fn checksum(bytes: &[u8]) -> u16 {
    // The ones' complement sum does not depend on byte order (RFC 1071, 2.B): sum 32-bit words in the machine's
    // order into 64 bits (no carry is lost below 2^32 words), fold, and read the 16 bits back as big-endian.
    let mut sum: u64 = 0;
    let mut words = bytes.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut rest = words.remainder();
    if let [a, b, tail @ ..] = rest {
        sum += u64::from(u16::from_ne_bytes([*a, *b]));
        rest = tail;
    }
    if let [last] = rest {
        sum += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::from_be_bytes((sum as u16).to_ne_bytes())
}

mod forge;
pub use forge::{echo_reply_for, echo_reply_v6_for, icmp_error_v4, ipv4_packet, ipv6_header};

#[cfg(test)]
mod tests;
