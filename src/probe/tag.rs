//! Tagging: which identifier/sequence pair and which check value each echo carries.
//!
//! A raw socket receives every echo reply on the machine: ours, an earlier run's still in flight, another pinger's,
//! `ping`'s. So the (identifier, sequence) pair is a keyed bijection of the probe's ordinal (host index times
//! probes per host plus probe number): unique within a run for up to 2^32 probes, unpredictable across runs. It
//! only finds the in-flight entry fast; what makes a reply ours is the keyed SipHash check value in the payload,
//! which covers the tag, host, probe, send time and destination address.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher13;

/// The 32 bits an echo carries in its identifier (high half) and sequence (low half).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

impl Tag {
    pub fn from_parts(id: u16, seq: u16) -> Tag {
        Tag((u32::from(id) << 16) | u32::from(seq))
    }
    pub fn id(self) -> u16 {
        (self.0 >> 16) as u16
    }
    pub fn seq(self) -> u16 {
        self.0 as u16
    }
}

/// The per-run secret. Random in a real run; fixed in tests that need to replay "an earlier run".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    mix: [u32; 3],
    mac: [u64; 2],
}

impl Key {
    pub fn from_seed(seed: [u8; 32]) -> Key {
        let word = |i: usize| u32::from_le_bytes([seed[i], seed[i + 1], seed[i + 2], seed[i + 3]]);
        let quad = |i: usize| u64::from(word(i)) | (u64::from(word(i + 4)) << 32);
        Key { mix: [word(0), word(4) | 1, word(8) | 1], mac: [quad(16), quad(24)] }
    }

    /// A fresh key from the operating system's random source.
    pub fn random() -> Result<Key, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(Key::from_seed(seed))
    }

    /// Keyed bijection on u32: every step (xor, odd multiply, xorshift, add) is invertible, so distinct
    /// ordinals never share a tag.
    pub fn tag(&self, ordinal: u32) -> Tag {
        let [a, b, c] = self.mix;
        let mut x = ordinal ^ a;
        x = x.wrapping_mul(b);
        x ^= x >> 16;
        x = x.wrapping_mul(c);
        x ^= x >> 15;
        Tag(x.wrapping_add(a.rotate_left(13)))
    }

    /// The check value carried in the payload.
    pub fn mac(&self, tag: Tag, host: u32, probe: u16, sent_ns: u64, dst: IpAddr) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.mac[0], self.mac[1]);
        h.write_u32(tag.0);
        h.write_u32(host);
        h.write_u16(probe);
        h.write_u64(sent_ns);
        match dst {
            IpAddr::V4(a) => h.write(&a.octets()),
            IpAddr::V6(a) => h.write(&a.octets()),
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tags_are_distinct_for_a_million_ordinals_and_differ_between_keys() {
        let k1 = Key::from_seed([1; 32]);
        let k2 = Key::from_seed([2; 32]);
        let mut seen = HashSet::with_capacity(1 << 20);
        let mut same = 0;
        for o in 0..1_000_000u32 {
            assert!(seen.insert(k1.tag(o)), "ordinal {o} reused a tag");
            same += usize::from(k1.tag(o) == k2.tag(o));
        }
        assert!(same < 10, "{same} tags equal under two keys");
    }
}
