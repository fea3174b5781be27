//! The probe order: hosts interleaved across networks.

use std::collections::HashMap;
use std::net::IpAddr;

use super::Addrs;

/// Marks the end of a network's chain of hosts.
const END: u32 = u32::MAX;

/// Reorders hosts so that consecutive probes go to different /24 (IPv4) or /48 (IPv6) networks: round-robin
/// over the networks in the order each was first seen, each network's hosts in list order. A scan that is kind
/// to networks does not send 256 probes in a row into one of them.
///
/// Each host points to the next host of its network (4 bytes a host), and rounds walk the networks' chains: no
/// sort, and 12 bytes a host at the peak, the chains and the old and the new list (a /8: 201 MB, where sorting
/// 12-byte keys beside two 17-byte address vectors took 770 MB).
pub fn spread(hosts: Addrs) -> Addrs {
    let net = |ip: IpAddr| match ip {
        IpAddr::V4(a) => u64::from(u32::from(a) >> 8),
        // The /48's 48 bits, above the 24 an IPv4 network can use.
        IpAddr::V6(a) => (u128::from(a) >> 80) as u64 | 1 << 48,
    };
    // Per network, in the order first seen: (first host, last host so far) of its chain.
    let mut order: HashMap<u64, u32> = HashMap::new();
    let mut chains: Vec<(u32, u32)> = Vec::new();
    let mut next: Vec<u32> = vec![END; hosts.len()];
    // Lists and blocks are mostly in address order: a host of the same network as the one before needs no lookup.
    let mut last: Option<(u64, u32)> = None;
    for (i, ip) in hosts.iter().enumerate() {
        let i = i as u32;
        let fresh = chains.len() as u32;
        let key = net(ip);
        let n = match last {
            Some((k, n)) if k == key => n,
            _ => *order.entry(key).or_insert(fresh),
        };
        last = Some((key, n));
        if n == fresh {
            chains.push((i, i));
        } else {
            let last = &mut chains[n as usize].1;
            next[*last as usize] = i;
            *last = i;
        }
    }
    drop(order);
    // Each round takes the next host of every network that has one left, in the networks' order.
    let mut heads: Vec<u32> = chains.into_iter().map(|(first, _)| first).collect();
    let mut spread = Addrs::try_with_capacity(hosts.len()).unwrap_or_default();
    while !heads.is_empty() {
        heads.retain_mut(|h| {
            spread.push(hosts.of(*h));
            *h = next[*h as usize];
            *h != END
        });
    }
    spread
}
