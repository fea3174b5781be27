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
    // Per network: the order it was first seen in, and how many of its hosts are placed so far.
    let mut nets: HashMap<u128, (u32, u32)> = HashMap::new();
    // (rank in its network, network's order, index in `hosts`): 12 bytes to sort rather than the address.
    let mut keyed: Vec<(u32, u32, u32)> = Vec::with_capacity(hosts.len());
    for (i, ip) in hosts.iter().enumerate() {
        let fresh = nets.len() as u32;
        let (group, placed) = nets.entry(net(ip)).or_insert((fresh, 0));
        keyed.push((*placed, *group, i as u32));
        *placed += 1;
    }
    drop(nets);
    // Each (rank, network) pair is one host's: the order is total, stability does not matter.
    keyed.sort_unstable();
    *hosts = keyed.into_iter().map(|(_, _, i)| hosts[i as usize]).collect();
}
