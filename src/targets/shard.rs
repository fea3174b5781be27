//! `--shard K/N`: this pinger's part of a list that N pingers sweep between them, as zmap's and masscan's
//! `--shard`.
//!
//! A host's shard depends on its address and N only: not on the list, its order, its length or the machine. So
//! N pingers given the same list (and the same `--count`) probe every host exactly once between them, and a host
//! stays in its shard when the list grows. The hash is written out here rather than taken from `std`, whose
//! hasher may change between Rust releases: pingers built by different compilers must agree.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Shard `index` (1-based) of `of`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    of: u32,
}

/// The most shards a list is split into.
pub const MAX_SHARDS: u32 = 65_535;

/// A `--shard` value that is not `K/N` with 1 <= K <= N <= [`MAX_SHARDS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--shard takes K/N, this pinger's part K of N pingers (1 <= K <= N <= {MAX_SHARDS}), like 1/3, not {0:?}")]
pub struct BadShard(pub String);

impl FromStr for Shard {
    type Err = BadShard;

    fn from_str(s: &str) -> Result<Shard, BadShard> {
        let bad = || BadShard(s.to_string());
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let (index, of): (u32, u32) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || index > of || of > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, of })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

impl Shard {
    /// True when `ip` is this shard's to probe.
    pub fn owns(&self, ip: IpAddr) -> bool {
        shard_of(ip, self.of) == self.index
    }
}

/// The shard (1..=n) that `ip` falls in: splitmix64's finaliser over the address (an IPv4 address as its 32-bit
/// number, an IPv6 address as its two 64-bit halves, mixed in turn), modulo n. Neighbouring addresses land in
/// unrelated shards, so each shard takes about 1/n of any block.
pub fn shard_of(ip: IpAddr, n: u32) -> u32 {
    let h = match ip {
        IpAddr::V4(a) => mix(u64::from(u32::from(a))),
        IpAddr::V6(a) => {
            let x = u128::from(a);
            mix(mix((x >> 64) as u64 ^ 0x6a09_e667_f3bc_c908) ^ x as u64)
        }
    };
    (h % u64::from(n.max(1))) as u32 + 1
}

/// splitmix64's output function: a bijection on u64 whose every output bit depends on every input bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn a_shard_is_k_of_n_and_anything_else_is_refused_with_the_form_it_takes() {
        assert_eq!("2/3".parse::<Shard>().unwrap().to_string(), "2/3");
        assert_eq!(" 1 / 1 ".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in ["", "3", "0/3", "4/3", "1/0", "a/3", "1/b", "-1/3", "1/3/4", "1/65536", "1.5/3"] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains("K/N") && e.contains("1/3"), "{bad}: {e}");
        }
    }

    #[test]
    fn every_host_falls_in_exactly_one_shard_and_the_shards_are_about_even() {
        let hosts: Vec<IpAddr> = (0..30_000u32)
            .map(|i| IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 1)) + i)))
            .chain((0..3_000u128).map(|i| IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | i))))
            .collect();
        for n in [1u32, 2, 3, 7, 16] {
            let shards: Vec<Shard> = (1..=n).map(|k| format!("{k}/{n}").parse().unwrap()).collect();
            let mut sizes = vec![0usize; n as usize];
            for &h in &hosts {
                let owners: Vec<usize> = (0..n as usize).filter(|&k| shards[k].owns(h)).collect();
                assert_eq!(owners.len(), 1, "{h} in shards {owners:?} of {n}");
                sizes[owners[0]] += 1;
            }
            let even = hosts.len() as f64 / f64::from(n);
            for s in &sizes {
                assert!((*s as f64 - even).abs() < even * 0.1, "{n} shards: sizes {sizes:?}");
            }
        }
    }

    #[test]
    fn a_hosts_shard_is_fixed_by_its_address_whatever_the_list() {
        // Pinned values: a change of the hash would move hosts between pingers of different versions.
        let v4 = |s: &str| IpAddr::V4(s.parse().unwrap());
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        let pinned: Vec<u32> = [v4("127.0.0.1"), v4("127.0.0.2"), v4("198.18.0.1"), v6("::1"), v6("2001:db8::1")]
            .map(|ip| shard_of(ip, 1000))
            .into();
        assert_eq!(pinned, PINNED);
    }

    const PINNED: [u32; 5] = [271, 861, 21, 175, 890];
}
