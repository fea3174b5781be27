//! Emit and parse against each other, and every cut and quote a network can deliver.

use std::net::Ipv4Addr;

use super::*;

#[test]
fn icmpv6_replies_and_errors_quoting_a_probe_are_read() {
    let mut buf = [0u8; ECHO_LEN];
    let p = EchoPayload { host: 3, probe: 0, sent_ns: 5, mac: 9 };
    let n = EchoRequest { id: 0xabcd, seq: 0x0102, payload: p }.emit_v6(&mut buf);
    let req = buf[..n].to_vec();
    let reply = echo_reply_v6_for(&req);
    let Ok(Parsed { icmp: Icmp::EchoReply { id, seq, payload }, .. }) = parse_v6(&reply) else { panic!("not a reply") };
    assert_eq!((id, seq, EchoPayload::parse(payload).unwrap().host), (0xabcd, 0x0102, 3));
    let dst: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
    let mut err = vec![1, 3, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&ipv6_header("2001:db8::1".parse().unwrap(), dst, n as u16));
    err.extend_from_slice(&req);
    let Ok(Parsed { icmp: Icmp::Error { kind, probe_dst, id, .. }, .. }) = parse_v6(&err) else {
        panic!("not an error")
    };
    assert_eq!((kind.icmp_type, kind.code, probe_dst, id), (1, 3, IpAddr::V6(dst), 0xabcd));
    for cut in 0..err.len() {
        let _ = parse_v6(&err[..cut]);
    }
    assert_eq!(parse_v6(&[135, 0, 0, 0, 0, 0, 0, 0]), Err(Reject::OtherType));
}

fn request() -> Vec<u8> {
    let mut buf = [0u8; ECHO_LEN];
    let p = EchoPayload { host: 7, probe: 1, sent_ns: 99, mac: 0xdead_beef };
    let n = EchoRequest { id: 0x1234, seq: 0x5678, payload: p }.emit_v4(&mut buf);
    buf[..n].to_vec()
}

#[test]
fn an_emitted_request_has_a_valid_checksum_and_round_trips() {
    let req = request();
    assert_eq!(checksum(&req), 0);
    let reply = echo_reply_for(&req);
    let pkt = ipv4_packet(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, &[], &reply);
    let parsed = parse_v4(&pkt).unwrap();
    let Icmp::EchoReply { id, seq, payload } = parsed.icmp else { panic!("not a reply") };
    assert_eq!((id, seq), (0x1234, 0x5678));
    assert_eq!(EchoPayload::parse(payload).unwrap().host, 7);
    assert!(!parsed.ip_options);
}

#[test]
fn a_reply_with_ip_options_is_parsed_past_them() {
    let reply = echo_reply_for(&request());
    let options = [7, 7, 4, 0, 0, 0, 0, 0]; // record route with room for one address, then padding
    let pkt = ipv4_packet(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, &options, &reply);
    let parsed = parse_v4(&pkt).unwrap();
    assert!(parsed.ip_options);
    assert!(matches!(parsed.icmp, Icmp::EchoReply { id: 0x1234, .. }));
}

#[test]
fn every_truncation_is_rejected_without_panic() {
    let pkt = ipv4_packet(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, &[], &echo_reply_for(&request()));
    for n in 0..pkt.len() {
        assert!(parse_v4(&pkt[..n]).is_err(), "accepted a packet cut at {n}");
    }
}

#[test]
fn an_error_quoting_a_udp_datagram_is_foreign() {
    let mut udp = ipv4_packet(Ipv4Addr::LOCALHOST, Ipv4Addr::new(127, 0, 0, 9), &[], &[0; 8]);
    udp[9] = 17;
    let kind = ErrorKind { icmp_type: 3, code: 3 };
    let pkt = ipv4_packet(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, &[], &icmp_error_v4(kind, &udp));
    assert_eq!(parse_v4(&pkt), Err(Reject::ForeignQuote));
}

fn golden() -> EchoRequest {
    let payload =
        EchoPayload { host: 0x0102_0304, probe: 0x0506, sent_ns: 0x1122_3344_5566_7788, mac: 0x99aa_bbcc_ddee_ff00 };
    EchoRequest { id: 0xabcd, seq: 0x0102, payload }
}

/// The bytes on the wire, as they were before the request had a type (the positional emitters).
#[test]
fn an_echo_request_is_written_byte_for_byte_as_before() {
    let payload = [
        112, 110, 103, 114, 1, 2, 3, 4, 5, 6, 0, 0, 17, 34, 51, 68, 85, 102, 119, 136, 153, 170, 187, 204, 221, 238,
        255, 0, 0, 0, 0, 0,
    ];
    let mut buf = [0u8; ECHO_LEN];
    assert_eq!(golden().emit_v4(&mut buf), ECHO_LEN);
    assert_eq!(buf[..8], [8, 0, 38, 135, 171, 205, 1, 2]);
    assert_eq!(buf[8..], payload);
    assert_eq!(golden().emit_v6(&mut buf), ECHO_LEN);
    assert_eq!(buf[..8], [128, 0, 0, 0, 171, 205, 1, 2]);
    assert_eq!(buf[8..], payload);
}

#[test]
fn an_emitted_request_parses_back_into_the_same_value() {
    let mut buf = [0u8; ECHO_LEN];
    let n = golden().emit_v4(&mut buf);
    assert_eq!(EchoRequest::parse_v4(&buf[..n]), Ok(golden()));
    assert_eq!(EchoRequest::parse_v6(&buf[..n]), Err(Reject::OtherType), "families do not mix");
    buf[30] ^= 1;
    assert_eq!(EchoRequest::parse_v4(&buf[..n]), Err(Reject::BadChecksum));
    let n = golden().emit_v6(&mut buf);
    assert_eq!(EchoRequest::parse_v6(&buf[..n]), Ok(golden()));
    for cut in 0..n {
        assert!(EchoRequest::parse_v6(&buf[..cut]).is_err(), "accepted a request cut at {cut}");
    }
}

/// RFC 1071 as written: 16-bit big-endian words, an odd byte padded with zero, end-around carry.
fn checksum_by_the_book(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]));
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

proptest::proptest! {
    #[test]
    fn the_checksum_is_rfc_1071s_for_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        proptest::prop_assert_eq!(checksum(&bytes), checksum_by_the_book(&bytes));
    }
}

#[test]
fn the_checksum_carries_around_on_all_ones() {
    // 0xffff words sum to 0xffff however many there are, so the checksum is 0 (and of nothing, 0xffff).
    assert_eq!(checksum(&[0xff; 1500]), 0);
    assert_eq!(checksum(&[0xff; 1501]), checksum_by_the_book(&[0xff; 1501]));
    assert_eq!(checksum(&[]), 0xffff);
}
