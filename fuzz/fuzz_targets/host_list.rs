//! Bytes as a host list, through the reader the sweep uses (`Collector::read`, then `finish`), under the test
//! fence and a small `--max-hosts`: the first line is an `--allow` list (parsed as `PINGER_ALLOW` is), the rest
//! the list. With a fence, names are looked up in /etc/hosts only, so nothing here sends a packet or a DNS query.
//!
//! A list may be refused as too large, never allocated past `--max-hosts`: what comes out is at most that many
//! distinct addresses, every one inside the fence.
#![no_main]

use std::collections::HashSet;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pinger::targets::{parse_cidr_list, spread, Collector, Filter, TooManyHosts};

const FENCE: &str = "127.0.0.0/8,::1/128,198.18.0.0/15,2001:db8::/32";
const MAX_HOSTS: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let (allow, list) = match data.iter().position(|b| *b == b'\n') {
        Some(n) => (&data[..n], &data[n + 1..]),
        None => (&data[..0], data),
    };
    let mut filter = Filter { allow: vec![parse_cidr_list(FENCE).expect("the fence parses")] };
    if let Some(extra) = std::str::from_utf8(allow).ok().and_then(|s| parse_cidr_list(s).ok()) {
        if !extra.is_empty() {
            filter.allow.push(extra);
        }
    }
    // `--count`: none, one, or more than most inputs hold.
    let limit = [None, Some(1), Some(1000)][data.len() % 3];
    let mut c = Collector::new(filter.clone(), limit, MAX_HOSTS);
    c.read("fuzz", list).expect("reading from memory cannot fail");
    match c.finish(Duration::from_millis(10)) {
        Err(TooManyHosts { hosts, max, .. }) => assert!(hosts > max as u128, "refused {hosts} hosts under {max}"),
        Ok((hosts, report)) => {
            assert!(hosts.len() <= MAX_HOSTS.min(limit.unwrap_or(usize::MAX)), "{} hosts", hosts.len());
            assert!(report.names_from_hosts_file || report.unresolved == 0);
            let distinct: HashSet<_> = hosts.iter().collect();
            assert_eq!(distinct.len(), hosts.len(), "a host twice");
            for h in hosts.iter() {
                assert!(filter.check(h).is_ok(), "{h} is outside the fence");
            }
            let spread = spread(hosts);
            assert_eq!(spread.iter().collect::<HashSet<_>>(), distinct, "spread lost or made a host");
        }
    }
});
