//! The hash table of outstanding probes, keyed by [`Tag`].
//!
//! Starts small and grows with the probes in flight (see `Prober::new` for why). Tags are already keyed-random,
//! and the table only ever holds tags we chose, so a cheap multiplicative hash is enough: a hostile sender can
//! choose what it looks up, not what we stored.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::tag::Tag;
use crate::time::Time;

/// One echo we sent and have not yet settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flight {
    pub host: u32,
    pub probe: u16,
    pub sent_at: Time,
    /// The check value the echo carried: a reply to it proves itself by carrying it back, with no hash to make.
    pub mac: u64,
}

#[derive(Default)]
pub struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub struct Inflight {
    map: HashMap<Tag, Flight, BuildHasherDefault<TagHasher>>,
}

impl Inflight {
    pub fn with_capacity(n: usize) -> Inflight {
        Inflight { map: HashMap::with_capacity_and_hasher(n, Default::default()) }
    }

    /// Records a probe; false if the tag was already outstanding (which the tagging makes impossible).
    pub fn insert(&mut self, tag: Tag, flight: Flight) -> bool {
        self.map.insert(tag, flight).is_none()
    }

    pub fn get(&self, tag: Tag) -> Option<&Flight> {
        self.map.get(&tag)
    }

    pub fn remove(&mut self, tag: Tag) -> Option<Flight> {
        self.map.remove(&tag)
    }

    /// Removes and returns the probe of `tag` if `keep` says it is the one: one lookup where `get` and `remove`
    /// would take two.
    pub fn remove_if(&mut self, tag: Tag, keep: impl FnOnce(&Flight) -> bool) -> Option<Flight> {
        match self.map.entry(tag) {
            std::collections::hash_map::Entry::Occupied(e) if keep(e.get()) => Some(e.remove()),
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_started_small_holds_every_probe_of_a_slow_network() {
        // 100,000 probes out at once (100,000 a second into 1 s of round trip) in a table started at 4,096.
        let mut t = Inflight::with_capacity(4096);
        for i in 0..100_000u32 {
            assert!(t.insert(
                Tag(i.wrapping_mul(0x9E37_79B1)),
                Flight { host: i, probe: 0, sent_at: Time(u64::from(i)), mac: 0 }
            ));
        }
        assert_eq!(t.len(), 100_000);
        for i in 0..100_000u32 {
            assert_eq!(t.remove(Tag(i.wrapping_mul(0x9E37_79B1))).map(|f| f.host), Some(i));
        }
        assert_eq!(t.len(), 0);
    }
}
