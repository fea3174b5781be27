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
/// Each host points to the next host of its network (4 bytes a host). Round `r` holds the `r`th host of every
/// network that has one, so its place in the new order is known from the networks' sizes: walking each network's
/// chain in turn writes its hosts into the rounds' places. The reads follow the list (a network's hosts are
/// mostly together in it) and the writes go out in one stream per round: no sort, and 12 bytes a host at the peak,
/// the chains and the old and the new list (16 when one network holds most hosts: a round's place each). Taking
/// the rounds one by one instead read one host of every network per step, a cache miss each once the networks
/// outgrow the cache: 0.5 s of a /8's sweep.
pub fn spread(hosts: Addrs) -> Addrs {
    let net = |ip: IpAddr| match ip {
        IpAddr::V4(a) => u64::from(u32::from(a) >> 8),
        // The /48's 48 bits, above the 24 an IPv4 network can use.
        IpAddr::V6(a) => (u128::from(a) >> 80) as u64 | 1 << 48,
    };
    // Per network, in the order first seen: the first host of its chain, the last so far, and how many.
    let mut order: HashMap<u64, u32> = HashMap::new();
    let mut chains: Vec<Chain> = Vec::new();
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
            chains.push(Chain { first: i, last: i, len: 1 });
        } else {
            let c = &mut chains[n as usize];
            next[c.last as usize] = i;
            c.last = i;
            c.len += 1;
        }
    }
    drop(order);
    // Where each round starts: round r holds one host of every network with more than r hosts.
    let rounds = chains.iter().map(|c| c.len as usize).max().unwrap_or(0);
    let mut place = vec![0u32; rounds + 1];
    for c in &chains {
        place[c.len as usize - 1] += 1;
    }
    // Now place[r] counts the networks of exactly r + 1 hosts; summed from the top, those of more than r.
    for r in (0..rounds.saturating_sub(1)).rev() {
        place[r] += place[r + 1];
    }
    let mut start = 0u32;
    for p in &mut place[..rounds] {
        (start, *p) = (start + *p, start);
    }
    // The chains become each host's new index, in place: a host's successor is read before it is overwritten.
    for c in &chains {
        let mut h = c.first;
        for p in &mut place[..c.len as usize] {
            let succ = next[h as usize];
            next[h as usize] = *p;
            *p += 1;
            h = succ;
        }
    }
    drop(chains);
    hosts.permuted(&next)
}

/// One network's hosts, in list order.
struct Chain {
    first: u32,
    last: u32,
    len: u32,
}
