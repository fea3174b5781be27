//! Address ranges: the hosts of a block as an inclusive range of integers, cut by arithmetic into the runs that
//! are taken and the runs that are skipped (reserved, outside the allow lists).
//!
//! Why arithmetic: a block's size must cost nothing until its permitted addresses are taken. A `0.0.0.0/0` line
//! in a fetched list, intersected with an allow list of `127.0.0.0/30`, is four addresses, not four billion
//! checks; and the number of hosts a list will give is known (and refused when too large) before one of them is
//! stored. It does not enumerate, dedupe or count anything itself: that is the `Collector`'s job.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::filter::RESERVED;
use super::{Cidr, Filter, Skip};

/// An inclusive, non-empty range of addresses of one family, as integers (IPv4 in the low 32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub v6: bool,
    pub first: u128,
    pub last: u128,
}

impl Span {
    /// Every address of a block (network and broadcast included).
    pub fn of_block(c: &Cidr) -> Span {
        let net = c.net();
        Span::between(net.network(), net.broadcast())
    }

    /// The addresses from `first` to `last`, of one family, `first` not after `last` (the caller checks).
    pub fn between(first: IpAddr, last: IpAddr) -> Span {
        let n = |ip: IpAddr| match ip {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        Span { v6: first.is_ipv6(), first: n(first), last: n(last) }
    }

    /// Addresses in the range; saturates at `u128::MAX` (only `::/0` holds more).
    pub fn len(&self) -> u128 {
        (self.last - self.first).saturating_add(1)
    }

    pub fn addr(&self, n: u128) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(n))
        } else {
            // A v4 span never leaves the low 32 bits.
            IpAddr::V4(Ipv4Addr::from(n as u32))
        }
    }

    fn contains(&self, n: u128) -> bool {
        self.first <= n && n <= self.last
    }

    fn intersect(&self, other: &Span) -> Option<Span> {
        let (first, last) = (self.first.max(other.first), self.last.min(other.last));
        (self.v6 == other.v6 && first <= last).then_some(Span { v6: self.v6, first, last })
    }
}

/// Sorts `spans` and joins those that overlap or touch, so that no address is in two of them.
pub fn merge(spans: &mut Vec<Span>) {
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans.drain(..) {
        match out.last_mut() {
            Some(l) if l.v6 == s.v6 && s.first <= l.last.saturating_add(1) => l.last = l.last.max(s.last),
            _ => out.push(s),
        }
    }
    *spans = out;
}

/// The parts of `span` that `filter` permits (inside every allow list, reserved blocks not yet taken out).
fn allowed(span: Span, filter: &Filter) -> Vec<Span> {
    let mut inside = vec![span];
    for list in &filter.allow {
        inside = inside.iter().flat_map(|s| list.iter().filter_map(|c| s.intersect(&Span::of_block(c)))).collect();
        // Overlapping blocks in one list (127.0.0.0/8 and 127.0.0.0/24) must not give an address twice.
        merge(&mut inside);
    }
    inside
}

/// `span` cut into runs in address order: `None` for addresses to take, `Some(reason)` for addresses to skip.
/// Reserved wins over not allowed, as in [`Filter::check`]. Adjacent runs never share a verdict.
pub fn runs(span: Span, filter: &Filter) -> Vec<(Span, Option<Skip>)> {
    if span.first == span.last {
        // One address, the usual line of a host list: its verdict is the filter's, without cutting (which
        // allocated four vectors per line, a fifth of reading a 1,000,000-line list).
        return vec![(span, filter.check(span.addr(span.first)).err())];
    }
    let allowed = allowed(span, filter);
    let reserved: Vec<Span> =
        RESERVED.iter().filter_map(|(c, _)| span.intersect(&Span::of_block(c))).collect::<Vec<_>>();
    let mut cuts: Vec<u128> = vec![span.first];
    for s in allowed.iter().chain(&reserved) {
        cuts.push(s.first);
        if let Some(next) = s.last.checked_add(1).filter(|&n| n <= span.last) {
            cuts.push(next);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: Vec<(Span, Option<Skip>)> = Vec::new();
    for (i, &first) in cuts.iter().enumerate() {
        let last = cuts.get(i + 1).map_or(span.last, |next| next - 1);
        // Every address of a run between two cuts has the same verdict: test its first one.
        let verdict = if reserved.iter().any(|r| r.contains(first)) {
            Some(Skip::Reserved)
        } else if allowed.iter().any(|a| a.contains(first)) {
            None
        } else {
            Some(Skip::NotAllowed)
        };
        match out.last_mut() {
            Some((prev, v)) if *v == verdict => prev.last = last,
            _ => out.push((Span { v6: span.v6, first, last }, verdict)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::parse_cidr_list;

    fn span(c: &str) -> Span {
        Span::of_block(&c.parse().unwrap())
    }

    fn shown(runs: &[(Span, Option<Skip>)]) -> Vec<(String, String, Option<Skip>)> {
        runs.iter().map(|(s, v)| (s.addr(s.first).to_string(), s.addr(s.last).to_string(), *v)).collect()
    }

    #[test]
    fn the_whole_internet_inside_a_small_allow_list_is_only_that_list() {
        let filter =
            Filter { allow: vec![parse_cidr_list("127.0.0.0/8").unwrap(), parse_cidr_list("127.0.0.0/30").unwrap()] };
        let r = runs(span("0.0.0.0/0"), &filter);
        let taken: Vec<_> = r.iter().filter(|(_, v)| v.is_none()).map(|(s, _)| *s).collect();
        assert_eq!(taken, [span("127.0.0.0/30")]);
        let reserved: u128 = r.iter().filter(|(_, v)| *v == Some(Skip::Reserved)).map(|(s, _)| s.len()).sum();
        let outside: u128 = r.iter().filter(|(_, v)| *v == Some(Skip::NotAllowed)).map(|(s, _)| s.len()).sum();
        assert_eq!(reserved, (1 << 24) + (1 << 28) + (1 << 28));
        assert_eq!(reserved + outside + 4, 1 << 32);
    }

    #[test]
    fn runs_come_in_address_order_and_reserved_wins_over_outside_the_allow_list() {
        let filter = Filter { allow: vec![parse_cidr_list("0.0.0.0/7, 223.255.255.0/24, 10.0.0.0/8").unwrap()] };
        let r = runs(span("0.0.0.0/0"), &filter);
        assert_eq!(
            shown(&r),
            [
                ("0.0.0.0".into(), "0.255.255.255".into(), Some(Skip::Reserved)),
                ("1.0.0.0".into(), "1.255.255.255".into(), None),
                ("2.0.0.0".into(), "9.255.255.255".into(), Some(Skip::NotAllowed)),
                ("10.0.0.0".into(), "10.255.255.255".into(), None),
                ("11.0.0.0".into(), "223.255.254.255".into(), Some(Skip::NotAllowed)),
                ("223.255.255.0".into(), "223.255.255.255".into(), None),
                ("224.0.0.0".into(), "255.255.255.255".into(), Some(Skip::Reserved)),
            ]
        );
    }

    #[test]
    fn without_an_allow_list_everything_but_the_reserved_blocks_is_taken() {
        let r = runs(span("2001:db8::/96"), &Filter::default());
        assert_eq!(r, [(span("2001:db8::/96"), None)]);
        assert_eq!(r[0].0.len(), 1 << 32);
        let r: Vec<Option<Skip>> = runs(span("fe00::/7"), &Filter::default()).into_iter().map(|(_, v)| v).collect();
        // fe00::/9 taken, fe80::/10 link-local, fec0::/10 taken, ff00::/8 multicast.
        assert_eq!(r, [None, Some(Skip::Reserved), None, Some(Skip::Reserved)]);
    }

    #[test]
    fn overlapping_allow_blocks_give_each_address_once() {
        let filter = Filter { allow: vec![parse_cidr_list("127.0.0.0/24, 127.0.0.0/8, 127.0.0.128/25").unwrap()] };
        let r = runs(span("127.0.0.0/16"), &filter);
        assert_eq!(r, [(span("127.0.0.0/16"), None)]);
        let mut spans = vec![span("127.0.1.0/24"), span("127.0.0.0/24"), span("::1/128"), span("127.0.3.0/24")];
        merge(&mut spans);
        assert_eq!(spans, [span("127.0.0.0/23"), span("127.0.3.0/24"), span("::1/128")]);
    }

    #[test]
    fn families_never_mix() {
        let filter = Filter { allow: vec![parse_cidr_list("::/0").unwrap()] };
        assert_eq!(
            shown(&runs(span("127.0.0.1/32"), &filter)),
            [("127.0.0.1".into(), "127.0.0.1".into(), Some(Skip::NotAllowed))]
        );
    }
}
