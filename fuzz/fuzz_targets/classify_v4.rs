//! A received IPv4 packet (IPv4 header included, as a raw ICMP socket delivers it) through the core, with three
//! hosts' probes in flight. See `Packet` in `src/lib.rs` for what the bytes stand for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinger_fuzz::{v4, Flight};

fuzz_target!(|data: &[u8]| {
    Flight::new(vec![v4(127, 0, 0, 1), v4(127, 0, 0, 2), v4(198, 18, 0, 1)]).run(data, false);
});
