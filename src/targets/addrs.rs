//! The hosts of a sweep, by index: 4 bytes a host for IPv4, 20 and a bit for IPv6. The list is built in this
//! form, spread in it and probed from it, so its size is the per-host memory of every phase: as a `Vec<IpAddr>`
//! (17 bytes a host) a /8 held 285 MB of it, several times over while it was spread; now 67 MB.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Addrs {
    /// The host's IPv4 address, or for an IPv6 host its index in `v6`.
    slots: Vec<u32>,
    /// One bit a host: set for IPv6.
    is_v6: Vec<u64>,
    v6: Vec<Ipv6Addr>,
}

impl Addrs {
    /// Room for `n` hosts, reserved exactly (doubling held the old and the new vector at once); `None` when even
    /// that cannot be had.
    pub fn try_with_capacity(n: usize) -> Option<Addrs> {
        let mut a = Addrs::default();
        a.slots.try_reserve_exact(n).ok()?;
        a.is_v6.try_reserve_exact(n.div_ceil(64)).ok()?;
        Some(a)
    }

    /// IPv4 hosts, each at its place in `v4`, taken as they are (no copy).
    pub fn from_v4(v4: Vec<u32>) -> Addrs {
        let words = v4.len().div_ceil(64);
        Addrs { slots: v4, is_v6: vec![0; words], v6: Vec::new() }
    }

    /// Adds a host; it gets the next index. A list holds fewer than 2^32 hosts (`--max-hosts` and the prober
    /// refuse more).
    pub fn push(&mut self, ip: IpAddr) {
        let i = self.slots.len();
        if i % 64 == 0 {
            self.is_v6.push(0);
        }
        match ip {
            IpAddr::V4(v4) => self.slots.push(v4.into()),
            IpAddr::V6(v6) => {
                self.is_v6[i / 64] |= 1 << (i % 64);
                self.slots.push(self.v6.len() as u32);
                self.v6.push(v6);
            }
        }
    }

    pub fn get(&self, host: u32) -> Option<IpAddr> {
        let i = host as usize;
        let slot = *self.slots.get(i)?;
        Some(match self.is_v6[i / 64] >> (i % 64) & 1 {
            0 => IpAddr::V4(Ipv4Addr::from(slot)),
            _ => IpAddr::V6(self.v6[slot as usize]),
        })
    }

    /// The address of a host of this list (its indexes come only from this list).
    pub fn of(&self, host: u32) -> IpAddr {
        self.get(host).expect("a host of this list")
    }

    /// The same hosts in another order: host `i` moves to index `new_index[i]`, which must be a permutation of the
    /// indexes. Reads this list in order and writes the new one where each host goes; an IPv6 host's address
    /// stays where it is, only its slot moves.
    pub fn permuted(self, new_index: &[u32]) -> Addrs {
        assert_eq!(new_index.len(), self.slots.len(), "a new index for every host");
        let mut slots = vec![0u32; self.slots.len()];
        let mut is_v6 = vec![0u64; self.is_v6.len()];
        for (i, (&to, &slot)) in new_index.iter().zip(&self.slots).enumerate() {
            let to = to as usize;
            slots[to] = slot;
            is_v6[to / 64] |= (self.is_v6[i / 64] >> (i % 64) & 1) << (to % 64);
        }
        Addrs { slots, is_v6, v6: self.v6 }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = IpAddr> + '_ {
        (0..self.slots.len() as u32).map(|i| self.of(i))
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn has_ipv6(&self) -> bool {
        !self.v6.is_empty()
    }

    /// How many of the hosts are IPv6.
    pub fn v6_len(&self) -> usize {
        self.v6.len()
    }
}

impl FromIterator<IpAddr> for Addrs {
    fn from_iter<I: IntoIterator<Item = IpAddr>>(list: I) -> Addrs {
        let list = list.into_iter();
        let mut a = Addrs::try_with_capacity(list.size_hint().0).unwrap_or_default();
        list.for_each(|ip| a.push(ip));
        a
    }
}

impl From<Vec<IpAddr>> for Addrs {
    fn from(list: Vec<IpAddr>) -> Addrs {
        list.into_iter().collect()
    }
}

impl std::fmt::Debug for Addrs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
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
        let a = Addrs::from(list.clone());
        assert_eq!(a.len(), 200);
        assert!(a.has_ipv6());
        assert_eq!(a.v6_len(), 67);
        assert_eq!(a.iter().collect::<Vec<_>>(), list);
        for (i, ip) in list.iter().enumerate() {
            assert_eq!(a.get(i as u32), Some(*ip));
        }
        assert_eq!(a.get(200), None);
        assert!(!Addrs::from(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]).has_ipv6());
    }
}
