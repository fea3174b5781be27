//! A received ICMPv6 message (no IPv6 header, as a raw ICMPv6 socket delivers it) through the core, with three
//! hosts' probes in flight. See `Packet` in `src/lib.rs` for what the bytes stand for.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use pinger_fuzz::Flight;

fuzz_target!(|data: &[u8]| {
    let db8 = |n| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n));
    Flight::new(vec![IpAddr::V6(Ipv6Addr::LOCALHOST), db8(1), db8(2)]).run(data, true);
});
