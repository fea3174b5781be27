//! What became of a host list: the counts the summary prints for every line and address not taken, with the
//! reason, and the refusal of a list larger than `--max-hosts`.

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
    /// Hosts of the list (within `--count`) that `--shard` leaves to the other pingers.
    pub other_shards: usize,
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

/// A target set larger than `--max-hosts`, refused before any of it is resolved, stored or probed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the targets hold {hosts} hosts to probe{}, more than --max-hosts {max}: probe a smaller block, take part of \
     it with --count, or raise --max-hosts",
    if *.fenced { " (inside the allow list)" } else { "" }
)]
pub struct TooManyHosts {
    /// At most this many distinct addresses (each host name counted as one), cut at `--count`.
    pub hosts: u128,
    pub max: usize,
    /// An allow list cut the blocks first.
    pub fenced: bool,
}
