//! The host list: parse lines and arguments, expand CIDR blocks and A-B ranges, drop duplicates, apply `--count`, `--shard` and the
//! allow/deny rules, and count every line and address that was not taken, with the reason.
//!
//! It does not know where the bytes come from (a file, stdin or a URL: `source.rs` fetches them) nor how hosts
//! are probed. One concept per file:
//!
//! ```text
//! addrs.rs        the hosts by index, 4 bytes an IPv4 host: the list as it is built, spread and probed
//! cidr.rs         an address block: parsed, masked and tested by ipnet; the hosts it stands for
//! range.rs        an A-B address range
//! names.rs        host names: what counts as one, the resolver, /etc/hosts under the fence
//! filter.rs       reserved blocks and allow lists: may this address be probed?
//! span.rs         blocks and ranges as integer ranges, cut by the filter without walking them
//! collect.rs      the Collector: the list in order -> distinct permitted addresses, up to --count
//! list_report.rs  what became of the list (the summary's counts), and the --max-hosts refusal
//! shard.rs        --shard K/N: which hosts of the list are this pinger's, by a hash of the address
//! spread.rs       the probe order, interleaved across networks
//! ```

mod addrs;
mod cidr;
mod collect;
mod filter;
mod list_report;
mod names;
mod range;
mod shard;
mod span;
mod spread;

pub use addrs::Addrs;
pub use cidr::{parse_cidr_list, BadEntry, Cidr};
pub use collect::Collector;
pub use filter::{Filter, Skip};
pub use list_report::{ListReport, TooManyHosts};
pub use names::{is_hostname, lookup_hosts_file, resolve, HOSTS_FILE};
pub use range::{Range, RangeError};
pub use shard::{shard_of, BadShard, Shard};
pub use spread::spread;

#[cfg(test)]
mod tests;
