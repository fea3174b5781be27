//! An address block as people write it (`127.0.0.0/8`, `2001:db8::/126`, or one address): parsed, masked and
//! tested for containment by `ipnet`, and the host addresses it stands for in a sweep.
//!
//! The address part is read by the standard library, not by `ipnet`'s parser: that one takes `010.0.0.1/8`
//! (leading zeros, read by some tools as octal) where `010.0.0.1` alone is refused, and a block must mean what
//! its address means.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use super::span::Span;

/// IPv6 blocks are expanded down to /96 (4 billion addresses, with --count to take a part).
const MIN_V6_PREFIX: u8 = 96;

/// An address block, as in `--allow` and host lists; its address has no bits set past the prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr(IpNet);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IP address or CIDR block: {0:?}")]
pub struct BadEntry(pub String);

impl FromStr for Cidr {
    type Err = BadEntry;
    fn from_str(s: &str) -> Result<Cidr, BadEntry> {
        let bad = || BadEntry(s.to_string());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let net = match prefix {
            None => IpNet::from(addr),
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                let p = p.parse::<u8>().map_err(|_| bad())?;
                IpNet::new(addr, p).map_err(|_| bad())?.trunc()
            }
            Some(_) => return Err(bad()),
        };
        Ok(Cidr(net))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Cidr {
    /// The block of `prefix` bits at `addr`, a network address (nothing is masked here); in a constant, a
    /// prefix too long for the family fails the build.
    pub(super) const fn new(addr: IpAddr, prefix: u8) -> Cidr {
        Cidr(IpNet::new_assert(addr, prefix))
    }

    pub(super) fn net(&self) -> IpNet {
        self.0
    }

    /// The address is in the block. By the prefix bits of the block's (network) address: ipnet's `contains`
    /// works out the network and broadcast addresses on every call, and the filter asks a million lines times
    /// the reserved blocks (17% of reading a 1M-line list, `cargo bench --bench core -- targets`).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.0, ip) {
            (IpNet::V4(n), IpAddr::V4(a)) => {
                (u32::from(a) ^ u32::from(n.addr())).checked_shr(32 - u32::from(n.prefix_len())).unwrap_or(0) == 0
            }
            (IpNet::V6(n), IpAddr::V6(a)) => {
                (u128::from(a) ^ u128::from(n.addr())).checked_shr(128 - u32::from(n.prefix_len())).unwrap_or(0) == 0
            }
            _ => false,
        }
    }

    /// The host addresses of the block, first to last. Like `fping -g`, IPv4 blocks larger than /31 leave out
    /// their network and broadcast addresses (as `ipnet`'s `hosts()` does), IPv6 blocks their first
    /// (subnet-router anycast) address. `None` for IPv6 blocks larger than /96: a /64 holds 2^64 addresses, a
    /// mistake, not a sweep.
    pub(super) fn hosts(&self) -> Option<Span> {
        let all = Span::of_block(self);
        match self.0 {
            IpNet::V4(n) if n.prefix_len() <= 30 => Some(Span { first: all.first + 1, last: all.last - 1, ..all }),
            IpNet::V6(n) if n.prefix_len() < MIN_V6_PREFIX => None,
            IpNet::V6(n) if n.prefix_len() < 128 => Some(Span { first: all.first + 1, ..all }),
            _ => Some(all),
        }
    }
}

/// Parses a comma-separated list of CIDR blocks (as in `PINGER_ALLOW`).
pub fn parse_cidr_list(s: &str) -> Result<Vec<Cidr>, BadEntry> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::parse).collect()
}
