//! Packets as a host or a router would send them to pinger: echo replies, ICMP errors and the IP headers around
//! them. For the unit tests, the benchmarks, the fuzz targets and the simulated network; pinger itself only
//! reads such packets.

use std::net::Ipv4Addr;

use super::{checksum, ErrorKind, ICMP6_ECHO_REPLY, ICMP_ECHO_REPLY};

/// Builds a complete IPv4 packet around `icmp` (for tests, benches and the simulated network).
pub fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, options: &[u8], icmp: &[u8]) -> Vec<u8> {
    assert!(options.len() % 4 == 0 && options.len() <= 40, "IPv4 options come in words, at most 40 bytes");
    let header_len = 20 + options.len();
    let total = header_len + icmp.len();
    let mut p = Vec::with_capacity(total);
    p.push(0x40 | (header_len / 4) as u8);
    p.push(0);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 1, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(options);
    let sum = checksum(&p[..header_len]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(icmp);
    p
}

/// Turns an echo request into the echo reply a host would send (type 0, checksum fixed up).
pub fn echo_reply_for(request: &[u8]) -> Vec<u8> {
    let mut r = request.to_vec();
    r[0] = ICMP_ECHO_REPLY;
    r[2..4].copy_from_slice(&[0, 0]);
    let sum = checksum(&r);
    r[2..4].copy_from_slice(&sum.to_be_bytes());
    r
}

/// An ICMP error of `kind` quoting `quoted` (an IPv4 datagram, possibly cut), as a router would send it.
pub fn icmp_error_v4(kind: ErrorKind, quoted: &[u8]) -> Vec<u8> {
    let mut m = vec![kind.icmp_type, kind.code, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(quoted);
    let sum = checksum(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// Turns an ICMPv6 echo request into the reply a host would send (type 129; the checksum is the kernel's job).
pub fn echo_reply_v6_for(request: &[u8]) -> Vec<u8> {
    let mut r = request.to_vec();
    r[0] = ICMP6_ECHO_REPLY;
    r
}

/// An IPv6 header (40 bytes) for `payload_len` bytes of ICMPv6 from `src` to `dst` (for quotes in tests).
pub fn ipv6_header(src: std::net::Ipv6Addr, dst: std::net::Ipv6Addr, payload_len: u16) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&payload_len.to_be_bytes());
    h.extend_from_slice(&[58, 64]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h
}
