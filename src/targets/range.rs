//! Address ranges as people write them: `127.0.0.10-127.0.0.20` in a list or on the command line, and fping's
//! `-g START END`. Full addresses at both ends, one family, the first not after the last.
//!
//! A range is only its two ends: it becomes a [`Span`] and goes where blocks go, so it is cut by the allow lists
//! and counted against `--max-hosts` by arithmetic, never walked outside them. Unlike a block, a range keeps
//! both its ends (nothing in it is a network or broadcast address by construction: the user chose the ends).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::span::Span;

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub first: IpAddr,
    pub last: IpAddr,
}

/// Why a text is not a range; says what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("not an address range: {0:?} (write two full addresses, like 127.0.0.10-127.0.0.20)")]
    NotARange(String),
    #[error("the range {0:?} ends before it starts: write the lower address first")]
    Backwards(String),
    #[error("the range {0:?} mixes IPv4 and IPv6: both ends must be of one family")]
    MixedFamilies(String),
}

impl Range {
    /// The range from `first` to `last`, checked.
    pub fn new(first: IpAddr, last: IpAddr) -> Result<Range, RangeError> {
        let text = || format!("{first}-{last}");
        if first.is_ipv4() != last.is_ipv4() {
            return Err(RangeError::MixedFamilies(text()));
        }
        if first > last {
            return Err(RangeError::Backwards(text()));
        }
        Ok(Range { first, last })
    }

    pub(super) fn span(&self) -> Span {
        Span::between(self.first, self.last)
    }
}

impl FromStr for Range {
    type Err = RangeError;
    fn from_str(s: &str) -> Result<Range, RangeError> {
        // No address holds a '-', so the one dash splits (an IPv6 address is full of ':', never '-').
        let (a, b) = s.split_once('-').ok_or_else(|| RangeError::NotARange(s.to_string()))?;
        match (a.trim().parse::<IpAddr>(), b.trim().parse::<IpAddr>()) {
            (Ok(first), Ok(last)) => Range::new(first, last),
            _ => Err(RangeError::NotARange(s.to_string())),
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_holds_both_its_ends() {
        let r: Range = "127.0.0.10-127.0.0.12".parse().unwrap();
        assert_eq!(r.span().len(), 3);
        assert_eq!(r.span().addr(r.span().first).to_string(), "127.0.0.10");
        assert_eq!("2001:db8::1-2001:db8::1".parse::<Range>().unwrap().span().len(), 1);
        assert_eq!(" 127.0.0.1 - 127.0.1.0 ".trim().parse::<Range>().unwrap().span().len(), 256);
    }

    #[test]
    fn a_backwards_mixed_or_partial_range_says_what_is_wrong() {
        assert!(matches!("127.0.0.5-127.0.0.1".parse::<Range>(), Err(RangeError::Backwards(_))));
        assert!(matches!("127.0.0.1-::1".parse::<Range>(), Err(RangeError::MixedFamilies(_))));
        // fping-style shorthand is not taken: both ends are full addresses.
        for bad in ["127.0.0.1-5", "127.0.0.1-", "-127.0.0.1", "my-host", "127.0.0.0/30-127.0.0.9"] {
            assert!(matches!(bad.parse::<Range>(), Err(RangeError::NotARange(_))), "{bad}");
        }
    }
}
