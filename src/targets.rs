//! The host list: parse lines and arguments, expand CIDR blocks and A-B ranges, drop duplicates, apply `--count` and the
//! allow/deny rules, and count every line and address that was not taken, with the reason.
//!
//! It does not know where the bytes come from (a file, stdin; later a URL) nor how hosts are probed.

use std::collections::HashSet;
use std::fmt;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

mod names;
mod range;
mod span;
pub use names::{is_hostname, lookup_hosts_file, resolve, HOSTS_FILE};
pub use range::{Range, RangeError};
use span::Span;

/// An address block, as in `--allow` and host lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

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
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
        };
        Ok(Cidr { addr: mask(addr, prefix), prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & v4_mask(prefix))),
        IpAddr::V6(a) => {
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

fn v4_mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => mask(ip, self.prefix) == self.addr,
            _ => false,
        }
    }

    /// The host addresses of the block, first to last. Like `fping -g`, IPv4 blocks larger than /31 leave out
    /// their network and broadcast addresses, IPv6 blocks their first (subnet-router anycast) address. `None`
    /// for IPv6 blocks larger than /96: a /64 holds 2^64 addresses, a mistake, not a sweep.
    fn hosts(&self) -> Option<Span> {
        let all = Span::of_block(self);
        match self.addr {
            IpAddr::V4(_) if self.prefix <= 30 => Some(Span { first: all.first + 1, last: all.last - 1, ..all }),
            IpAddr::V6(_) if self.prefix < MIN_V6_PREFIX => None,
            IpAddr::V6(_) if self.prefix < 128 => Some(Span { first: all.first + 1, ..all }),
            _ => Some(all),
        }
    }
}

/// Parses a comma-separated list of CIDR blocks (as in `PINGER_ALLOW`).
pub fn parse_cidr_list(s: &str) -> Result<Vec<Cidr>, BadEntry> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::parse).collect()
}

/// Blocks never probed, whatever the list says.
const RESERVED: [(Cidr, &str); 6] = [
    (Cidr { addr: IpAddr::V4(Ipv4Addr::new(0, 0, 0, 0)), prefix: 8 }, "\"this network\" (0.0.0.0/8)"),
    (Cidr { addr: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 0)), prefix: 4 }, "multicast (224.0.0.0/4)"),
    (Cidr { addr: IpAddr::V4(Ipv4Addr::new(240, 0, 0, 0)), prefix: 4 }, "reserved or broadcast (240.0.0.0/4)"),
    (Cidr { addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED), prefix: 128 }, "unspecified (::)"),
    (Cidr { addr: IpAddr::V6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0)), prefix: 8 }, "multicast (ff00::/8)"),
    // Link-local addresses need an interface to mean anything; a list of hosts cannot say which.
    (Cidr { addr: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)), prefix: 10 }, "link-local (fe80::/10)"),
];

/// Which addresses may be probed: never the reserved blocks; and when allow lists are set, only addresses
/// inside every one of them (so `--allow` can narrow `PINGER_ALLOW`, never widen it).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub allow: Vec<Vec<Cidr>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    Reserved,
    NotAllowed,
}

impl Filter {
    pub fn check(&self, ip: IpAddr) -> Result<(), Skip> {
        if RESERVED.iter().any(|(c, _)| c.contains(ip)) {
            return Err(Skip::Reserved);
        }
        if !self.allow.iter().all(|list| list.iter().any(|c| c.contains(ip))) {
            return Err(Skip::NotAllowed);
        }
        Ok(())
    }
}

/// What happened to the lines and addresses of the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListReport {
    pub lines: usize,
    pub invalid: usize,
    /// The first few invalid lines: (source, line number, text).
    pub invalid_examples: Vec<(String, usize, String)>,
    pub duplicates: usize,
    pub reserved: usize,
    pub not_allowed: usize,
    /// IPv6 blocks larger than /96 (not expanded).
    pub ipv6: usize,
    /// `--count` was reached before the list ended.
    pub truncated: bool,
    /// Host names that did not resolve (in time).
    pub unresolved: usize,
    pub unresolved_examples: Vec<String>,
    /// Names were looked up in /etc/hosts only (the fence was up), not with DNS.
    pub names_from_hosts_file: bool,
}

impl ListReport {
    pub fn skipped(&self) -> usize {
        self.reserved + self.not_allowed + self.ipv6
    }
}

const EXAMPLES: usize = 5;
/// IPv6 blocks are expanded down to /96 (4 billion addresses, with --count to take a part).
const MIN_V6_PREFIX: u8 = 96;

/// A target set larger than `--max-hosts`, refused before any of it is resolved, stored or probed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the targets hold {hosts} hosts to probe (inside the allow list), more than --max-hosts {max}: probe a smaller \
     block, take part of it with --count, or raise --max-hosts"
)]
pub struct TooManyHosts {
    /// At most this many distinct addresses (each host name counted as one), cut at `--count`.
    pub hosts: u128,
    pub max: usize,
}

/// Collects hosts in list order until `limit` distinct, permitted addresses are taken.
pub struct Collector {
    filter: Filter,
    limit: Option<usize>,
    /// The largest target set accepted (`--max-hosts`).
    max_hosts: usize,
    seen4: HashSet<u32>,
    seen6: HashSet<u128>,
    hosts: Vec<IpAddr>,
    report: ListReport,
    /// Entries (blocks and ranges) in list order, as the hosts they hold (`None`: an IPv6 block over /96, not
    /// expanded); host names wait beside them (with the position they go before) to be resolved.
    entries: Vec<Option<Span>>,
    names: Vec<(usize, String)>,
}

impl Collector {
    pub fn new(filter: Filter, limit: Option<usize>, max_hosts: usize) -> Collector {
        Collector {
            filter,
            limit,
            max_hosts,
            seen4: HashSet::new(),
            seen6: HashSet::new(),
            hosts: Vec::new(),
            report: ListReport::default(),
            entries: Vec::new(),
            names: Vec::new(),
        }
    }

    fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.hosts.len() >= l)
    }

    /// Takes one address; false once the limit is reached.
    fn offer(&mut self, ip: IpAddr) -> bool {
        if self.full() {
            self.report.truncated = true;
            return false;
        }
        match self.filter.check(ip) {
            Err(Skip::Reserved) => self.report.reserved += 1,
            Err(Skip::NotAllowed) => self.report.not_allowed += 1,
            Ok(()) => {
                let fresh = match ip {
                    IpAddr::V4(a) => self.seen4.insert(a.into()),
                    IpAddr::V6(a) => self.seen6.insert(a.into()),
                };
                if fresh {
                    self.hosts.push(ip);
                } else {
                    self.report.duplicates += 1;
                }
            }
        }
        true
    }

    /// Offers every host of an entry in address order; false once the limit is reached. Runs outside the allow
    /// lists or reserved are counted whole, never walked: a `0.0.0.0/0` line costs what its permitted part does.
    fn offer_entry(&mut self, entry: Option<Span>) -> bool {
        let Some(hosts) = entry else {
            self.report.ipv6 += 1;
            return true;
        };
        for (run, skip) in span::runs(hosts, &self.filter) {
            if self.full() {
                self.report.truncated = true;
                return false;
            }
            let n = usize::try_from(run.len()).unwrap_or(usize::MAX);
            match skip {
                Some(Skip::Reserved) => self.report.reserved = self.report.reserved.saturating_add(n),
                Some(Skip::NotAllowed) => self.report.not_allowed = self.report.not_allowed.saturating_add(n),
                None => {
                    for a in run.first..=run.last {
                        if !self.offer(run.addr(a)) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    /// The most distinct hosts the list can give: the permitted addresses of every block, each counted once
    /// however many blocks hold it, plus one per host name (not resolved yet).
    fn planned(&self) -> u128 {
        let mut taken: Vec<Span> = self
            .entries
            .iter()
            .flatten()
            .flat_map(|s| span::runs(*s, &self.filter))
            .filter_map(|(run, skip)| skip.is_none().then_some(run))
            .collect();
        span::merge(&mut taken);
        taken.iter().map(Span::len).fold(self.names.len() as u128, u128::saturating_add)
    }

    /// Adds an address or block.
    pub fn add(&mut self, entry: Cidr) {
        self.entries.push(entry.hosts());
    }

    /// Adds one target as written (an address, a block, an A-B range, or a host name); false when it is none
    /// of these.
    pub fn add_text(&mut self, text: &str) -> bool {
        if let Ok(entry) = text.parse::<Cidr>() {
            self.add(entry);
        } else if let Ok(range) = text.parse::<Range>() {
            self.entries.push(Some(range.span()));
        } else if is_hostname(text) {
            self.names.push((self.entries.len(), text.to_string()));
        } else {
            return false;
        }
        true
    }

    /// Reads a host list: one address, CIDR block, A-B range or host name per line; `#` starts a comment; blank lines, CRLF,
    /// surrounding spaces and a last line without newline are fine. Bad lines are counted and the first few kept
    /// for the report.
    pub fn read(&mut self, source: &str, mut input: impl BufRead) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(128);
        loop {
            line.clear();
            if input.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            self.report.lines += 1;
            let text = String::from_utf8_lossy(&line);
            let content = text.split('#').next().unwrap_or("").trim();
            if content.is_empty() || self.add_text(content) {
                continue;
            }
            self.report.invalid += 1;
            if self.report.invalid_examples.len() < EXAMPLES {
                let shown: String = content.chars().take(60).collect();
                self.report.invalid_examples.push((source.to_string(), self.report.lines, shown));
            }
        }
    }

    /// Resolves the names (within `resolve_deadline`), then takes addresses in list order up to the limit.
    /// A target set larger than `max_hosts` is refused first, before a name is resolved or an address stored:
    /// a `2001:db8::/96` once asked for a 1 GB allocation and aborted.
    pub fn finish(mut self, resolve_deadline: Duration) -> Result<(Vec<IpAddr>, ListReport), TooManyHosts> {
        let planned = self.planned();
        let hosts = self.limit.map_or(planned, |l| planned.min(l as u128));
        if hosts > self.max_hosts as u128 {
            return Err(TooManyHosts { hosts, max: self.max_hosts });
        }
        let names = std::mem::take(&mut self.names);
        let just_names: Vec<String> = names.iter().map(|(_, n)| n.clone()).collect();
        let resolved = if names.is_empty() {
            Vec::new()
        } else if self.filter.allow.is_empty() {
            resolve(&just_names, resolve_deadline)
        } else {
            // Under the fence a DNS query is traffic too: names are looked up in /etc/hosts, nowhere else.
            self.report.names_from_hosts_file = true;
            let table = std::fs::read_to_string(HOSTS_FILE).unwrap_or_default();
            just_names.iter().map(|n| lookup_hosts_file(&table, n)).collect()
        };
        let entries = std::mem::take(&mut self.entries);
        let mut next_name = names.iter().zip(&resolved).peekable();
        'all: for (pos, entry) in entries.iter().map(Some).chain([None]).enumerate() {
            while let Some(((_, name), ip)) = next_name.next_if(|((p, _), _)| *p == pos) {
                match ip {
                    Some(ip) => {
                        if !self.offer(*ip) {
                            break 'all;
                        }
                    }
                    None => {
                        self.report.unresolved += 1;
                        if self.report.unresolved_examples.len() < EXAMPLES {
                            self.report.unresolved_examples.push(name.clone());
                        }
                    }
                }
            }
            if let Some(e) = entry {
                if !self.offer_entry(*e) {
                    break;
                }
            }
        }
        if self.full() && (next_name.peek().is_some() || self.report.truncated) {
            self.report.truncated = true;
        }
        Ok((self.hosts, self.report))
    }
}

/// Reorders hosts so that consecutive probes go to different /24 (IPv4) or /48 (IPv6) networks: round-robin
/// over the networks, each network's hosts in list order. A scan that is kind to networks does not send 256
/// probes in a row into one of them.
pub fn spread(hosts: &mut Vec<IpAddr>) {
    let net = |ip: &IpAddr| match ip {
        IpAddr::V4(a) => u128::from(u32::from(*a) >> 8),
        IpAddr::V6(a) => (u128::from(*a) >> 80) | (1 << 100),
    };
    let mut seen: std::collections::HashMap<u128, u32> = std::collections::HashMap::new();
    let mut keyed: Vec<(u32, u32, IpAddr)> = Vec::with_capacity(hosts.len());
    let mut first_seen: std::collections::HashMap<u128, u32> = std::collections::HashMap::new();
    for ip in hosts.iter() {
        let n = net(ip);
        let order = first_seen.len() as u32;
        let group = *first_seen.entry(n).or_insert(order);
        let rank = seen.entry(n).or_insert(0);
        keyed.push((*rank, group, *ip));
        *rank += 1;
    }
    keyed.sort_unstable_by_key(|&(rank, group, _)| (rank, group));
    hosts.clear();
    hosts.extend(keyed.into_iter().map(|(_, _, ip)| ip));
}

#[cfg(test)]
mod tests;
