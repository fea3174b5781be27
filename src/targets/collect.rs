//! The `Collector`: reads host lists and target arguments in order, and turns them into the distinct,
//! permitted addresses to probe, counting in a [`ListReport`] every line and address it did not take.
//!
//! It decides when: blocks and ranges are kept as spans until the list is complete, the whole is checked against
//! `--max-hosts` before a name is resolved or an address stored, then addresses are taken in list order up to
//! `--count`. How a block is cut by the filter (`span.rs`), what a name resolves to (`names.rs`) and what a
//! line means (`cidr.rs`, `range.rs`) are the other files' business.

use std::collections::HashSet;
use std::io::BufRead;
use std::net::IpAddr;
use std::time::Duration;

use super::cidr::plain_ipv4_line;
use super::span::{self, Span};
use super::{
    is_hostname, lookup_hosts_file, resolve, Addrs, Cidr, Filter, ListReport, Range, Shard, Skip, TooManyHosts,
    HOSTS_FILE,
};

/// Invalid lines and unresolved names kept as examples for the summary.
const EXAMPLES: usize = 5;

/// One entry of the list (a block or a range). A lone IPv4 address, the usual line of a long list, is kept in
/// 8 bytes (4 in `Collector::plain` while the list is nothing else), with the filter's verdict on it taken once,
/// as it is read; anything else is its span (48 bytes, `None` for an IPv6 block over /96, not expanded) in
/// `Collector::wide`. A 16,777,214-line list held 805 MB of spans before the first address was taken.
#[derive(Clone, Copy)]
enum Entry {
    /// A lone IPv4 address the filter permits.
    V4(u32),
    /// A lone IPv4 address the filter refuses, and why (counted where it stands in the list, as the others).
    Refused(Skip),
    Wide(u32),
}

/// Collects hosts in list order until `limit` distinct, permitted addresses are taken; with a shard, keeps those
/// of them that are the shard's.
pub struct Collector {
    filter: Filter,
    limit: Option<usize>,
    shard: Option<Shard>,
    /// Distinct permitted addresses taken so far, this shard's or not: what `limit` counts, so that N pingers with
    /// the same `--count` split the same first hosts of the list.
    taken: usize,
    /// The largest target set accepted (`--max-hosts`).
    max_hosts: usize,
    seen4: HashSet<u32>,
    seen6: HashSet<u128>,
    /// False when no address can come twice (see [`Collector::disjoint`]): the sets above stay empty.
    dedupe: bool,
    hosts: Addrs,
    report: ListReport,
    /// While every entry so far is a lone IPv4 address the filter permits (the usual long list), they are kept
    /// here, 4 bytes each. They become the sweep's list as they are when they are in address order, all taken (no
    /// shard, `--count` not below their number); an entry of any other kind (a refused address, a block, a name)
    /// first moves them into `entries`, 8 bytes each.
    plain: Vec<u32>,
    /// Entries (blocks and ranges) in list order; host names wait beside them (with the position they go before)
    /// to be resolved.
    entries: Vec<Entry>,
    /// The hosts of the entries that are not a lone IPv4 address (`None`: an IPv6 block over /96, not expanded).
    wide: Vec<Option<Span>>,
    pub(super) names: Vec<(usize, String)>,
}

impl Collector {
    pub fn new(filter: Filter, limit: Option<usize>, max_hosts: usize) -> Collector {
        Collector {
            filter,
            limit,
            shard: None,
            taken: 0,
            max_hosts,
            seen4: HashSet::new(),
            seen6: HashSet::new(),
            dedupe: true,
            hosts: Addrs::default(),
            report: ListReport::default(),
            plain: Vec::new(),
            entries: Vec::new(),
            wide: Vec::new(),
            names: Vec::new(),
        }
    }

    /// Keeps only the hosts that are `shard`'s (`--shard`); `--count` still counts the whole list.
    pub fn with_shard(mut self, shard: Option<Shard>) -> Collector {
        self.shard = shard;
        self
    }

    fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.taken >= l)
    }

    /// Takes one address if the filter permits it; false once the limit is reached.
    fn offer(&mut self, ip: IpAddr) -> bool {
        let verdict = self.filter.check(ip).map(|()| ip);
        self.offer_judged(verdict)
    }

    /// Takes an address the filter permitted, or counts why it did not; false once the limit is reached.
    fn offer_judged(&mut self, verdict: Result<IpAddr, Skip>) -> bool {
        if self.full() {
            self.report.truncated = true;
            return false;
        }
        match verdict {
            Err(Skip::Reserved) => self.report.reserved += 1,
            Err(Skip::NotAllowed) => self.report.not_allowed += 1,
            Ok(ip) => self.take(ip),
        }
        true
    }

    /// Takes one permitted address (the caller checked it and the limit), unless it was taken before.
    fn take(&mut self, ip: IpAddr) {
        let fresh = !self.dedupe
            || match ip {
                IpAddr::V4(a) => self.seen4.insert(a.into()),
                IpAddr::V6(a) => self.seen6.insert(a.into()),
            };
        if !fresh {
            self.report.duplicates += 1;
        } else {
            self.taken += 1;
            if self.shard.is_none_or(|s| s.owns(ip)) {
                self.hosts.push(ip);
            } else {
                self.report.other_shards += 1;
            }
        }
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
                // The run is permitted as a whole: its addresses need no filter check of their own.
                None => {
                    for a in run.first..=run.last {
                        if self.full() {
                            self.report.truncated = true;
                            return false;
                        }
                        self.take(run.addr(a));
                    }
                }
            }
        }
        true
    }

    /// A lone IPv4 address, judged by the filter now (once: the count of the list and the taking both use it).
    fn push_v4(&mut self, a: u32) {
        let verdict = self.filter.check(IpAddr::V4(a.into()));
        if verdict.is_ok() && self.is_plain() {
            return self.plain.push(a);
        }
        self.leave_plain();
        self.entries.push(match verdict {
            Ok(()) => Entry::V4(a),
            Err(skip) => Entry::Refused(skip),
        });
    }

    /// Nothing but permitted lone IPv4 addresses so far (in `plain`).
    fn is_plain(&self) -> bool {
        self.entries.is_empty() && self.names.is_empty()
    }

    /// Moves the addresses kept in `plain` into `entries`, where they stand first, with the room reserved for the
    /// list.
    fn leave_plain(&mut self) {
        if !self.plain.is_empty() {
            let plain = std::mem::take(&mut self.plain);
            let mut entries = Vec::new();
            let _ = entries.try_reserve_exact(plain.capacity());
            entries.extend(plain.into_iter().map(Entry::V4));
            self.entries = entries;
        }
    }

    fn push_entry(&mut self, hosts: Option<Span>) {
        match hosts {
            // A v4 span never leaves the low 32 bits.
            Some(s) if !s.v6 && s.first == s.last => self.push_v4(s.first as u32),
            _ => {
                self.leave_plain();
                // Fits: a list has fewer than 2^32 lines in practice, and --max-hosts stops it long before.
                self.entries.push(Entry::Wide(self.wide.len() as u32));
                self.wide.push(hosts);
            }
        }
    }

    fn hosts_of(&self, e: Entry) -> Option<Span> {
        match e {
            Entry::V4(a) => Some(Span { v6: false, first: a.into(), last: a.into() }),
            Entry::Refused(_) => None,
            Entry::Wide(i) => self.wide[i as usize],
        }
    }

    /// How many addresses of `e` the filter permits; a lone address was judged as it was read.
    fn permitted_len(&self, e: Entry) -> u128 {
        match e {
            Entry::V4(_) => 1,
            Entry::Refused(_) => 0,
            Entry::Wide(_) => self.hosts_of(e).map_or(0, |s| {
                span::runs(s, &self.filter).iter().filter(|(_, skip)| skip.is_none()).map(|(r, _)| r.len()).sum()
            }),
        }
    }

    /// The permitted runs of every entry, in list order.
    fn permitted(&self) -> impl Iterator<Item = Span> + '_ {
        self.entries
            .iter()
            .filter_map(|e| self.hosts_of(*e))
            .flat_map(|s| span::runs(s, &self.filter))
            .filter_map(|(run, skip)| skip.is_none().then_some(run))
    }

    /// True when no address can be offered twice: no host names (one may resolve to any address) and no two
    /// entries sharing an address. Then the duplicate sets are not needed: a 127.0.0.0/8 put 16,777,214
    /// addresses through one (168 MB, and more time hashing than the sweep's user time besides) to find none.
    /// A list in address order is known disjoint in one pass; any other is sorted, 8 bytes an IPv4 entry (less
    /// than the set would hold for its addresses; an IPv6 entry 32, beside the 48 its span already takes), freed
    /// before a set is made.
    fn disjoint(&self) -> bool {
        if !self.names.is_empty() {
            return false;
        }
        if self.ascending() {
            return true;
        }
        let (mut v4, mut v6): (Vec<u64>, Vec<(u128, u128)>) = (Vec::with_capacity(self.entries.len()), Vec::new());
        for e in &self.entries {
            match *e {
                Entry::V4(a) => v4.push((u64::from(a) << 32) | u64::from(a)),
                Entry::Refused(_) => {}
                Entry::Wide(i) => match self.wide[i as usize] {
                    // A v4 span never leaves the low 32 bits.
                    Some(s) if !s.v6 => v4.push(((s.first as u64) << 32) | s.last as u64),
                    Some(s) => v6.push((s.first, s.last)),
                    None => {}
                },
            }
        }
        v4.sort_unstable();
        v6.sort_unstable();
        v4.windows(2).all(|w| (w[0] as u32) < ((w[1] >> 32) as u32)) && v6.windows(2).all(|w| w[0].1 < w[1].0)
    }

    /// True when each entry of a family starts after the last one of that family ended: a list in address order
    /// (written from ranges, or sorted) is disjoint, known in one pass without the sorted copy (a 60,000-line list
    /// wrote 480 KB for it, a page fault every 4 KB).
    fn ascending(&self) -> bool {
        let (mut v4, mut v6): (Option<u128>, Option<u128>) = (None, None);
        self.entries.iter().all(|e| {
            let Some(s) = self.hosts_of(*e) else { return true };
            let last = if s.v6 { &mut v6 } else { &mut v4 };
            let after = last.is_none_or(|l| s.first > l);
            *last = Some(s.last);
            after
        })
    }

    /// The most distinct hosts the list can give: the permitted addresses of every block, each counted once
    /// however many blocks hold it, plus one per host name (not resolved yet). Exact only above `max_hosts`: the
    /// plain sum of the blocks bounds it from above, and a list whose sum fits needs no sort of its blocks (a
    /// 1,000,000-line list was sorted just to learn that it fits).
    fn planned(&self) -> u128 {
        let names = self.names.len() as u128;
        let upper = self.entries.iter().map(|e| self.permitted_len(*e)).fold(names, u128::saturating_add);
        if upper <= self.max_hosts as u128 {
            return upper;
        }
        let mut taken: Vec<Span> = self.permitted().collect();
        span::merge(&mut taken);
        taken.iter().map(Span::len).fold(names, u128::saturating_add)
    }

    /// Adds one target as written (an address, a block, an A-B range, or a host name); false when it is none
    /// of these.
    pub fn add_text(&mut self, text: &str) -> bool {
        if let Ok(block) = text.parse::<Cidr>() {
            self.push_entry(block.hosts());
        } else if let Ok(range) = text.parse::<Range>() {
            self.push_entry(Some(range.span()));
        } else if is_hostname(text) {
            self.leave_plain();
            self.names.push((self.entries.len(), text.to_string()));
        } else {
            return false;
        }
        true
    }

    /// Room for the entries of a list of `bytes` bytes more, one for every 8 (the shortest IPv4 line: four
    /// one-digit octets, three dots and a newline) and one for a last line without newline, reserved at once:
    /// grown by doubling, the entries of a 60,000-line list were copied to fresh memory at each step. Pages
    /// reserved and never written cost nothing; a list larger than 512 MB grows from there.
    pub fn expect_bytes(&mut self, bytes: u64) {
        let more = usize::try_from(bytes / 8).unwrap_or(usize::MAX).min(1 << 26) + 1;
        if self.is_plain() {
            let _ = self.plain.try_reserve_exact(more);
        } else {
            let _ = self.entries.try_reserve_exact(more);
        }
    }

    /// Reads a host list: one address, CIDR block, A-B range or host name per line; `#` starts a comment; blank
    /// lines, CRLF, surrounding spaces and a last line without newline are fine. Bad lines are counted and the
    /// first few kept for the report.
    pub fn read(&mut self, source: &str, mut input: impl BufRead) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(128);
        loop {
            // Whole lines are read where the reader holds them (copied out one by one, they were a third of the
            // list's time); a line that runs past the end of its buffer, or the last one without a newline, is
            // gathered first.
            let buf = match input.fill_buf() {
                Ok([]) => return Ok(()),
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut used = 0;
            while let Some(end) = buf[used..].iter().position(|&b| b == b'\n') {
                self.line(source, &buf[used..=used + end]);
                used += end + 1;
            }
            if used > 0 {
                input.consume(used);
                continue;
            }
            line.clear();
            input.read_until(b'\n', &mut line)?;
            self.line(source, &line);
        }
    }

    /// One line of a list, with its newline if it has one.
    fn line(&mut self, source: &str, line: &[u8]) {
        self.report.lines += 1;
        if let Some(a) = plain_ipv4_line(line) {
            return self.push_v4(a);
        }
        let text = String::from_utf8_lossy(line);
        let content = text.split('#').next().unwrap_or("").trim();
        if content.is_empty() || self.add_text(content) {
            return;
        }
        self.report.invalid += 1;
        if self.report.invalid_examples.len() < EXAMPLES {
            let shown: String = content.chars().take(60).collect();
            self.report.invalid_examples.push((source.to_string(), self.report.lines, shown));
        }
    }

    /// Resolves the names (within `resolve_deadline`), then takes addresses in list order up to the limit.
    /// A target set larger than `max_hosts` is refused first, before a name is resolved or an address stored:
    /// a `2001:db8::/96` once asked for a 1 GB allocation and aborted.
    pub fn finish(mut self, resolve_deadline: Duration) -> Result<(Addrs, ListReport), TooManyHosts> {
        // The usual long list: permitted lone IPv4 addresses in address order, so distinct, all taken (no
        // `--count` below their number, no shard). They are the sweep's list as they were read.
        if self.is_plain()
            && self.shard.is_none()
            && self.limit.is_none_or(|l| l >= self.plain.len())
            && self.plain.windows(2).all(|w| w[0] < w[1])
        {
            let hosts = self.plain.len();
            if hosts > self.max_hosts {
                let fenced = !self.filter.allow.is_empty();
                return Err(TooManyHosts { hosts: hosts as u128, max: self.max_hosts, fenced });
            }
            return Ok((Addrs::from_v4(self.plain), self.report));
        }
        self.leave_plain();
        let planned = self.planned();
        let hosts = self.limit.map_or(planned, |l| planned.min(l as u128));
        if hosts > self.max_hosts as u128 {
            return Err(TooManyHosts { hosts, max: self.max_hosts, fenced: !self.filter.allow.is_empty() });
        }
        // At most that many (fewer if blocks overlap): room for all at once, the list and the set of addresses
        // seen, not grown by doubling, which held the old and the new table together (a /8's set: 252 MB at the
        // last step instead of 168). Pages never written cost no memory; if the bound is too large to reserve,
        // they grow as before.
        let room = usize::try_from(hosts).unwrap_or(usize::MAX);
        if let Some(reserved) = Addrs::try_with_capacity(room) {
            self.hosts = reserved;
        }
        self.dedupe = !self.disjoint();
        if self.dedupe {
            let _ = self.seen4.try_reserve(room);
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
            let taken = match entry {
                None => true,
                // A lone address is taken as is, by the verdict it got when it was read: the same verdicts and
                // counts as its one-address span, without cutting it.
                Some(Entry::V4(a)) => self.offer_judged(Ok(IpAddr::V4((*a).into()))),
                Some(Entry::Refused(skip)) => self.offer_judged(Err(*skip)),
                Some(e) => self.offer_entry(self.hosts_of(*e)),
            };
            if !taken {
                break;
            }
        }
        if self.full() && (next_name.peek().is_some() || self.report.truncated) {
            self.report.truncated = true;
        }
        Ok((self.hosts, self.report))
    }
}
