//! The probe order: hosts interleaved across networks, so that a sweep is kind to each of them.

use std::collections::HashMap;
use std::net::IpAddr;

/// Reorders hosts so that consecutive probes go to different /24 (IPv4) or /48 (IPv6) networks: round-robin
/// over the networks, each network's hosts in list order. A scan that is kind to networks does not send 256
/// probes in a row into one of them.
pub fn spread(hosts: &mut Vec<IpAddr>) {
    let net = |ip: &IpAddr| match ip {
        IpAddr::V4(a) => u128::from(u32::from(*a) >> 8),
        IpAddr::V6(a) => (u128::from(*a) >> 80) | (1 << 100),
    };
    let mut seen: HashMap<u128, u32> = HashMap::new();
    let mut keyed: Vec<(u32, u32, IpAddr)> = Vec::with_capacity(hosts.len());
    let mut first_seen: HashMap<u128, u32> = HashMap::new();
    for ip in hosts.iter() {
        let n = net(ip);
        let order = first_seen.len() as u32;
        let group = *first_seen.entry(n).or_insert(order);
        let rank = seen.entry(n).or_insert(0);
        keyed.push((*rank, group, *ip));
        *rank += 1;
    }
    keyed.sort_unstable_by_key(|&(rank, group, _)| (rank, group));
    hosts.clear();
    hosts.extend(keyed.into_iter().map(|(_, _, ip)| ip));
}
