//! The probed addresses by host id: 4 bytes a host for IPv4, 20 and a bit for IPv6. The prober keeps them for the
//! whole sweep, so their size is per-host memory: as a `Vec<IpAddr>` (17 bytes a host) they were 285 MB of a
//! /8's peak; now 67 MB.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::HostId;

pub struct Addrs {
    /// The host's IPv4 address, or for an IPv6 host its index in `v6`.
    slots: Vec<u32>,
    /// One bit a host: set for IPv6.
    is_v6: Vec<u64>,
    v6: Vec<Ipv6Addr>,
}

impl Addrs {
    /// In the order given: host `i` is `list[i]`. The list has fewer than 2^32 hosts (the prober refuses more).
    pub fn new(list: Vec<IpAddr>) -> Addrs {
        let mut a =
            Addrs { slots: Vec::with_capacity(list.len()), is_v6: vec![0; list.len().div_ceil(64)], v6: Vec::new() };
        for (i, ip) in list.into_iter().enumerate() {
            match ip {
                IpAddr::V4(v4) => a.slots.push(v4.into()),
                IpAddr::V6(v6) => {
                    a.is_v6[i / 64] |= 1 << (i % 64);
                    a.slots.push(a.v6.len() as u32);
                    a.v6.push(v6);
                }
            }
        }
        a
    }

    pub fn get(&self, host: HostId) -> Option<IpAddr> {
        let i = host as usize;
        let slot = *self.slots.get(i)?;
        Some(match self.is_v6[i / 64] >> (i % 64) & 1 {
            0 => IpAddr::V4(Ipv4Addr::from(slot)),
            _ => IpAddr::V6(self.v6[slot as usize]),
        })
    }

    /// The address of a host the prober was built with (its ids come only from its own list).
    pub fn of(&self, host: HostId) -> IpAddr {
        self.get(host).expect("a host id of this sweep")
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn has_ipv6(&self) -> bool {
        !self.v6.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_gets_back_its_own_address_in_a_mixed_list() {
        let list: Vec<IpAddr> = (0..200u32)
            .map(|i| match i % 3 {
                0 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16)),
                _ => IpAddr::V4(Ipv4Addr::from(0x7f00_0000 + i)),
            })
            .collect();
        let a = Addrs::new(list.clone());
        assert_eq!(a.len(), 200);
        assert!(a.has_ipv6());
        for (i, ip) in list.iter().enumerate() {
            assert_eq!(a.get(i as HostId), Some(*ip));
        }
        assert_eq!(a.get(200), None);
        assert!(!Addrs::new(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]).has_ipv6());
    }
}
