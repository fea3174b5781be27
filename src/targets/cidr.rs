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

/// A list line that is one IPv4 address in the plain form and nothing else (`192.0.2.1`, then `\n`, `\r\n` or
/// the end): the usual line of a long list, read here without the general path's UTF-8 check, comment search,
/// trimming and block parser (70 of its 94 ns a line). It accepts only what the standard library's parser
/// accepts, to the same address (decimal octets up to 255, no leading zeros); anything else, spaces included,
/// is `None` and goes the general way.
pub(super) fn plain_ipv4_line(line: &[u8]) -> Option<u32> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // One pass: the octet being read, its digits, and the dots so far.
    let (mut addr, mut octet, mut digits, mut dots) = (0u32, 0u32, 0u32, 0u32);
    for &b in line {
        match b {
            // A leading zero ("010") is refused, as the standard parser does.
            b'0'..=b'9' if digits < 3 && !(digits == 1 && octet == 0) => {
                octet = octet * 10 + u32::from(b - b'0');
                digits += 1;
            }
            b'.' if digits > 0 && octet <= 255 && dots < 3 => {
                addr = addr << 8 | octet;
                (octet, digits, dots) = (0, 0, dots + 1);
            }
            _ => return None,
        }
    }
    (dots == 3 && digits > 0 && octet <= 255).then_some(addr << 8 | octet)
}

/// Parses a comma-separated list of CIDR blocks (as in `PINGER_ALLOW`).
pub fn parse_cidr_list(s: &str) -> Result<Vec<Cidr>, BadEntry> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::plain_ipv4_line;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    /// What the general path makes of a line: the standard parser on the line without its ending.
    fn by_std(line: &[u8]) -> Option<u32> {
        let text = std::str::from_utf8(line).ok()?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        text.parse::<Ipv4Addr>().ok().map(u32::from)
    }

    #[test]
    fn plain_lines_are_read_and_every_other_form_is_left_to_the_general_path() {
        for (line, want) in [
            ("0.0.0.0", Some(0)),
            ("127.0.0.1\n", Some(0x7f00_0001)),
            ("192.0.2.10\r\n", Some(0xc000_020a)),
            ("255.255.255.255", Some(u32::MAX)),
            ("198.51.100.7\r", Some(0xc633_6407)),
            ("8.8.8.8\n", Some(0x0808_0808)),
        ] {
            assert_eq!(plain_ipv4_line(line.as_bytes()), want, "{line:?}");
        }
        // Split at '|': the empty line, blanks, leading zeros, too few or many octets, anything around them.
        let others =
            "|\n|010.0.0.1|1.2.3|1.2.3.4.5|256.0.0.1|1.2.3.4 | 1.2.3.4|1..2.3|1.2.3.4/32|1.2.3.4#x|1.2.3.4\n\n|\
                      1.2.3.4\n\r|1.2.3.0004|+1.2.3.4|1.2.3.-4|1.2.3.4.|.1.2.3.4|1000.2.3.4|00.1.2.3";
        for line in others.split('|') {
            assert_eq!(plain_ipv4_line(line.as_bytes()), None, "{line:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// Never a different verdict from the standard parser: whatever it reads, std reads as the same address.
        #[test]
        fn what_the_fast_reader_takes_the_standard_parser_takes_the_same(line in "[0-9.\r\n +#/a-]{0,20}") {
            if let Some(a) = plain_ipv4_line(line.as_bytes()) {
                prop_assert_eq!(Some(a), by_std(line.as_bytes()));
            }
        }

        /// And it reads every address written the standard way, with each line ending.
        #[test]
        fn every_address_in_dotted_decimal_is_read_fast(a in any::<u32>(), end in prop::sample::select(vec!["", "\n", "\r\n"])) {
            let line = format!("{}{end}", Ipv4Addr::from(a));
            prop_assert_eq!(plain_ipv4_line(line.as_bytes()), Some(a));
        }
    }
}
