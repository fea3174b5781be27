//! The host list as a user writes it: messy lines, blocks, names, allow lists, --count and --max-hosts.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;

fn collect(text: &str, limit: Option<usize>, filter: Filter) -> (Vec<String>, ListReport) {
    let mut c = Collector::new(filter, limit, usize::MAX);
    c.read("list", text.as_bytes()).unwrap();
    let (hosts, report) = c.finish(Duration::from_secs(5)).unwrap();
    (hosts.iter().map(|h| h.to_string()).collect(), report)
}

#[test]
fn a_messy_list_keeps_every_valid_line_in_order() {
    let text = "# resolvers\r\n127.0.0.1\r\n\r\n  127.0.0.2  \n127.0.0.1\nnot an ip!\n127.0.0.3 # trailing comment\n\
                127.0.0.300\n127.0.1.0/30\n::1\n127.0.0.9";
    let (hosts, r) = collect(text, None, Filter::default());
    assert_eq!(hosts, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.1.1", "127.0.1.2", "::1", "127.0.0.9"]);
    assert_eq!((r.invalid, r.duplicates, r.ipv6, r.lines), (2, 1, 0, 11));
    assert_eq!(r.invalid_examples[0], ("list".into(), 6, "not an ip!".into()));
    assert_eq!(r.invalid_examples[1].1, 8);
}

#[test]
fn a_list_read_through_any_buffer_size_gives_the_same_hosts_and_counts() {
    // Lines cut at every place by the reader's buffer, and lines longer than it, read as from one slice.
    let text = "# resolvers\r\n127.0.0.1\r\n\r\n  127.0.0.2  \n127.0.0.1\nnot an ip!\n127.0.0.3 # trailing comment\n\
                127.0.0.300\n127.0.1.0/30\n::1\n127.0.0.9";
    let whole = collect(text, None, Filter::default());
    for capacity in 1..=text.len() + 1 {
        let mut c = Collector::new(Filter::default(), None, usize::MAX);
        c.read("list", std::io::BufReader::with_capacity(capacity, text.as_bytes())).unwrap();
        let (hosts, r) = c.finish(Duration::from_secs(5)).unwrap();
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        assert_eq!((&hosts, r.lines, r.invalid, r.duplicates), (&whole.0, 11, 2, 1), "buffer of {capacity} bytes");
        assert_eq!(r.invalid_examples, whole.1.invalid_examples, "buffer of {capacity} bytes");
    }
}

#[test]
fn count_takes_the_first_distinct_permitted_hosts() {
    let filter = Filter { allow: vec![parse_cidr_list("127.0.0.0/8").unwrap()] };
    let multicast = Ipv4Addr::new(224, 0, 0, 1);
    let text = format!("127.0.0.1\n127.0.0.1\n198.18.0.1\n{multicast}\n127.0.0.0/24\n");
    let (hosts, r) = collect(&text, Some(3), filter);
    assert_eq!(hosts, ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    assert_eq!((r.duplicates, r.not_allowed, r.reserved, r.truncated), (2, 1, 1, true));
}

#[test]
fn n_shards_with_the_same_count_split_the_first_count_hosts_of_the_list_exactly_once() {
    // Duplicates (127.0.0.1 twice more, once inside the block) and a host outside the allow list count towards
    // nothing, as without --shard.
    let text = "127.0.0.1\n127.0.0.1\n198.18.0.1\n127.0.0.0/17\n";
    let filter = || Filter { allow: vec![parse_cidr_list("127.0.0.0/8").unwrap()] };
    let (everything, _) = collect(text, Some(15_000), filter());
    assert_eq!(everything.len(), 15_000);
    let mut union = Vec::new();
    for k in 1..=3 {
        let mut c =
            Collector::new(filter(), Some(15_000), usize::MAX).with_shard(Some(format!("{k}/3").parse().unwrap()));
        c.read("list", text.as_bytes()).unwrap();
        let (hosts, r) = c.finish(Duration::from_secs(5)).unwrap();
        assert_eq!(hosts.len() + r.other_shards, 15_000, "shard {k}/3");
        assert_eq!((r.duplicates, r.not_allowed, r.truncated), (2, 1, true), "shard {k}/3");
        // Each shard keeps list order.
        let at: std::collections::HashMap<&String, usize> = everything.iter().zip(0..).collect();
        let positions: Vec<usize> = hosts.iter().map(|h| at[&h.to_string()]).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "shard {k}/3 out of list order");
        union.extend(hosts.iter().map(|h| h.to_string()));
    }
    union.sort();
    let mut expected = everything.clone();
    expected.sort();
    assert_eq!(union, expected, "the three shards together are the list, each host once");
}

#[test]
fn allow_lists_narrow_and_never_widen() {
    let env = parse_cidr_list("127.0.0.0/8, ::1/128").unwrap();
    let cli = parse_cidr_list("127.0.0.0/24,198.18.0.0/15").unwrap();
    let f = Filter { allow: vec![env, cli] };
    assert_eq!(f.check("127.0.0.7".parse().unwrap()), Ok(()));
    assert_eq!(f.check("127.0.1.7".parse().unwrap()), Err(Skip::NotAllowed));
    assert_eq!(f.check("198.18.2.3".parse().unwrap()), Err(Skip::NotAllowed));
    assert_eq!(f.check("255.255.255.255".parse().unwrap()), Err(Skip::Reserved));
    assert_eq!(f.check(Ipv4Addr::new(0, 1, 2, 3).into()), Err(Skip::Reserved));
}

#[test]
fn ipv6_blocks_expand_down_to_96_and_reserved_ipv6_is_skipped() {
    let (hosts, r) = collect("2001:db8::/126\n2001:db8::/64\nff02::1\nfe80::1\n::\n", None, Filter::default());
    assert_eq!(hosts, ["2001:db8::1", "2001:db8::2", "2001:db8::3"]);
    assert_eq!((r.ipv6, r.reserved), (1, 3));
    let (some, _) = collect("2001:db8::/96\n", Some(5), Filter::default());
    assert_eq!(some.len(), 5);
}

fn collect_at_most(text: &str, limit: Option<usize>, filter: Filter, max: usize) -> Result<usize, TooManyHosts> {
    let mut c = Collector::new(filter, limit, max);
    c.read("list", text.as_bytes()).unwrap();
    c.finish(Duration::ZERO).map(|(hosts, _)| hosts.len())
}

#[test]
fn a_block_larger_than_max_hosts_is_refused_before_it_is_expanded() {
    // 4 billion hosts: expanded, this would abort for want of memory long before the check.
    let refused = collect_at_most("2001:db8::/96\n", None, Filter::default(), 1 << 24);
    assert_eq!(refused, Err(TooManyHosts { hosts: (1 << 32) - 1, max: 1 << 24, fenced: false }));
    assert!(refused.unwrap_err().to_string().contains("more than --max-hosts 16777216"));
    // --count takes a part, and only the part counts.
    assert_eq!(collect_at_most("2001:db8::/96\n", Some(5), Filter::default(), 1 << 24), Ok(5));
    assert!(collect_at_most("127.0.0.0/24\n", Some(200), Filter::default(), 100).is_err());
}

#[test]
fn a_list_of_lone_addresses_gives_the_same_hosts_in_order_or_not_and_with_or_without_count() {
    // In address order: taken as read. Out of order, repeated, refused, cut by --count or by --max-hosts: the
    // same rules as any list.
    let plain = "127.0.0.1\n127.0.0.2\n127.0.0.9\n";
    let (hosts, r) = collect(plain, None, Filter::default());
    assert_eq!(hosts, ["127.0.0.1", "127.0.0.2", "127.0.0.9"]);
    assert_eq!((r.lines, r.duplicates, r.truncated), (3, 0, false));
    let (hosts, r) = collect(plain, Some(2), Filter::default());
    assert_eq!((hosts, r.truncated), (vec!["127.0.0.1".to_string(), "127.0.0.2".to_string()], true));
    let (hosts, r) = collect("127.0.0.9\n127.0.0.1\n127.0.0.9\n127.0.0.2\n", None, Filter::default());
    assert_eq!(hosts, ["127.0.0.9", "127.0.0.1", "127.0.0.2"]);
    assert_eq!(r.duplicates, 1);
    let (hosts, r) = collect("127.0.0.1\n0.0.0.0\n127.0.0.2\n", None, Filter::default());
    assert_eq!(hosts, ["127.0.0.1", "127.0.0.2"]);
    assert_eq!(r.reserved, 1);
    assert_eq!(collect_at_most(plain, None, Filter::default(), 3), Ok(3));
    assert_eq!(
        collect_at_most(plain, None, Filter::default(), 2),
        Err(TooManyHosts { hosts: 3, max: 2, fenced: false })
    );
    assert_eq!(collect_at_most(plain, Some(2), Filter::default(), 2), Ok(2));
}

#[test]
fn max_hosts_counts_distinct_permitted_hosts_and_one_per_name() {
    let allow = |s: &str| Filter { allow: vec![parse_cidr_list(s).unwrap()] };
    // The same block twice is still 254 hosts; two blocks are 508.
    assert_eq!(collect_at_most("127.0.0.0/24\n127.0.0.0/24\n", None, Filter::default(), 254), Ok(254));
    assert!(collect_at_most("127.0.0.0/24\n127.0.1.0/24\n", None, Filter::default(), 300).is_err());
    // Lines over the limit only as written: the same address three times is one host.
    assert_eq!(collect_at_most("127.0.0.1\n127.0.0.1\n127.0.0.1/32\n", None, Filter::default(), 1), Ok(1));
    // Only what the allow list lets through counts (127.0.0.1-15: the /8's network address is left out).
    assert_eq!(collect_at_most("127.0.0.0/8\n", None, allow("127.0.0.0/28"), 15), Ok(15));
    // A name may be one more host: refused before it is resolved.
    let names = collect_at_most("127.0.0.1\nlocalhost\n", None, Filter::default(), 1);
    assert_eq!(names, Err(TooManyHosts { hosts: 2, max: 1, fenced: false }));
}

#[test]
fn a_whole_internet_line_in_a_list_costs_only_its_part_inside_the_allow_list() {
    let filter =
        Filter { allow: vec![parse_cidr_list("127.0.0.0/8").unwrap(), parse_cidr_list("127.0.0.0/30").unwrap()] };
    // Walked address by address, this took minutes; counted whole, the part outside takes no time at all.
    let (hosts, r) = collect("0.0.0.0/0\n127.0.0.1\n", None, filter);
    assert_eq!(hosts, ["127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    // Of 0.0.0.1-255.255.255.254: 0.0.0.0/8 and 224.0.0.0/3 are reserved, all else but the four is outside.
    let reserved = (1 << 24) - 1 + (1 << 29) - 1;
    assert_eq!((r.reserved, r.not_allowed, r.duplicates), (reserved, (1 << 32) - 2 - reserved - 4, 1));
}

#[test]
fn names_are_told_from_garbage() {
    for good in ["localhost", "dns.google", "a-b.example.", "x1.test"] {
        assert!(is_hostname(good), "{good}");
    }
    for bad in ["", "1.2.3", "-a.example", "a..b", "not an ip", "a_b.example", "127.0.0.999", "a.b-"] {
        assert!(!is_hostname(bad), "{bad}");
    }
}

#[test]
fn localhost_resolves_and_takes_its_place_in_list_order() {
    let (hosts, r) = collect("127.0.0.5\nlocalhost\n127.0.0.6\n", None, Filter::default());
    assert_eq!(hosts, ["127.0.0.5", "127.0.0.1", "127.0.0.6"]);
    assert_eq!(r.unresolved, 0);
}

#[test]
fn spreading_interleaves_networks_and_keeps_each_networks_order() {
    let hosts: Addrs = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.1.1", "127.0.1.2", "127.0.2.1"]
        .map(|s| s.parse::<IpAddr>().unwrap())
        .into_iter()
        .collect();
    let hosts = spread(hosts);
    let shown: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    assert_eq!(shown, ["127.0.0.1", "127.0.1.1", "127.0.2.1", "127.0.0.2", "127.0.1.2", "127.0.0.3"]);
}

/// The spread as its doc says it, taken round by round: each round the next host of every network that has one
/// left, networks in the order first seen.
fn spread_by_rounds(hosts: &[IpAddr]) -> Vec<IpAddr> {
    let net = |ip: &IpAddr| match ip {
        IpAddr::V4(a) => (4, u128::from(u32::from(*a) >> 8)),
        IpAddr::V6(a) => (6, u128::from(*a) >> 80),
    };
    let mut networks: Vec<((u8, u128), std::collections::VecDeque<IpAddr>)> = Vec::new();
    for h in hosts {
        match networks.iter_mut().find(|(n, _)| *n == net(h)) {
            Some((_, q)) => q.push_back(*h),
            None => networks.push((net(h), [*h].into())),
        }
    }
    let mut out = Vec::new();
    while out.len() < hosts.len() {
        out.extend(networks.iter_mut().filter_map(|(_, q)| q.pop_front()));
    }
    out
}

proptest::proptest! {
    #[test]
    fn the_spread_takes_each_round_the_next_host_of_every_network(
        picks in proptest::collection::vec((0u8..6, 0u8..=255, proptest::prelude::any::<bool>()), 0..400),
    ) {
        // Few networks, hosts interleaved between them, IPv4 and IPv6 mixed: the orders a list can have.
        let hosts: Vec<IpAddr> = picks
            .iter()
            .map(|&(n, h, v6)| match v6 {
                false => IpAddr::V4(std::net::Ipv4Addr::new(127, 0, n, h)),
                true => IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, u16::from(n), 1, 0, 0, 0, u16::from(h))),
            })
            .collect();
        let spread: Vec<IpAddr> = spread(hosts.iter().copied().collect()).iter().collect();
        proptest::prop_assert_eq!(spread, spread_by_rounds(&hosts));
    }

    #[test]
    fn random_text_never_panics_the_parser(text in "(?s).{0,2000}", bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
        let mut c = Collector::new(Filter::default(), Some(100), usize::MAX);
        c.read("t", text.as_bytes()).unwrap();
        c.read("b", &bytes[..]).unwrap();
        // Names in random text are not resolved here: no DNS from a unit test.
        c.names.clear();
        let (hosts, report) = c.finish(Duration::ZERO).unwrap();
        proptest::prop_assert!(hosts.len() <= 100);
        proptest::prop_assert!(report.invalid <= report.lines);
    }
}

#[test]
fn cidr_parsing_rejects_what_it_should() {
    for bad in ["127.0.0.1/33", "127.0.0.1/", "/8", "127.0.0.1/+8", "1.2.3", "127.0.0.1/8/8", "", "::1/129"] {
        assert!(bad.parse::<Cidr>().is_err(), "{bad} accepted");
    }
    assert_eq!("127.0.0.5/24".parse::<Cidr>().unwrap().to_string(), "127.0.0.0/24");
    assert_eq!("127.0.0.5".parse::<Cidr>().unwrap().to_string(), "127.0.0.5/32");
}

#[test]
fn a_hosts_file_gives_names_their_address_and_nothing_else() {
    let table =
        "127.0.0.1 localhost\n::1 localhost ip6-localhost\n# 127.0.9.1 commented\n127.0.1.1 box.example box # x\n";
    assert_eq!(super::lookup_hosts_file(table, "localhost"), Some("127.0.0.1".parse().unwrap()));
    assert_eq!(super::lookup_hosts_file(table, "ip6-localhost"), Some("::1".parse().unwrap()));
    assert_eq!(super::lookup_hosts_file(table, "BOX"), Some("127.0.1.1".parse().unwrap()));
    assert_eq!(super::lookup_hosts_file(table, "commented"), None);
    assert_eq!(super::lookup_hosts_file(table, "x"), None);
}

#[test]
fn containment_by_prefix_bits_agrees_with_ipnet() {
    use ipnet::IpNet;
    let blocks = [
        "0.0.0.0/0",
        "127.0.0.0/1",
        "127.0.0.0/8",
        "127.0.0.4/30",
        "127.0.0.5/31",
        "127.0.0.5/32",
        "::/0",
        "::/1",
        "2001:db8::/32",
        "2001:db8::/64",
        "2001:db8::7/128",
    ];
    let addrs = [
        "0.0.0.0",
        "127.0.0.1",
        "127.0.0.4",
        "127.0.0.5",
        "127.0.0.6",
        "127.0.0.8",
        "128.0.0.0",
        "255.255.255.255",
        "::",
        "::1",
        "2001:db8::",
        "2001:db8::7",
        "2001:db8::8",
        "2001:db8:0:1::7",
        "2001:db9::",
        "ffff::",
    ];
    for b in blocks {
        let cidr: Cidr = b.parse().unwrap();
        let net: IpNet = b.parse().unwrap();
        for a in addrs {
            let ip: std::net::IpAddr = a.parse().unwrap();
            assert_eq!(cidr.contains(ip), net.contains(&ip), "{a} in {b}");
        }
    }
}

#[test]
fn entries_that_only_touch_give_every_address_once_and_entries_that_share_one_give_it_once() {
    // Disjoint (no duplicate set is kept): a range, a block and a lone address end to end.
    let (hosts, r) = collect("127.0.0.1-127.0.0.3\n127.0.0.4/31\n127.0.0.6\n", None, Filter::default());
    assert_eq!(hosts, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"]);
    assert_eq!(r.duplicates, 0);
    // In address order within each family, the families interleaved: disjoint too.
    let (hosts, r) = collect("127.0.0.1\n::1\n127.0.0.2\n127.0.0.4/31\n", None, Filter::default());
    assert_eq!(hosts, ["127.0.0.1", "::1", "127.0.0.2", "127.0.0.4", "127.0.0.5"]);
    assert_eq!(r.duplicates, 0);
    // Sharing an address at either edge, inside, or as the same line twice: each address is taken once.
    for (text, dups) in [
        ("127.0.0.1-127.0.0.3\n127.0.0.3\n", 1),
        ("127.0.0.1\n127.0.0.1-127.0.0.3\n", 1),
        ("127.0.0.1-127.0.0.3\n127.0.0.2-127.0.0.5\n", 2),
        ("127.0.0.2\n127.0.0.0/29\n", 1),
        ("127.0.0.9\n127.0.0.9\n", 1),
        // In address order but for the last line, and per family in order while the other family comes between.
        ("127.0.0.5\n127.0.0.7\n127.0.0.5\n", 1),
        ("::1\n127.0.0.2\n::1\n", 1),
        ("127.0.0.1\n::1\n127.0.0.2\n::1\n127.0.0.3\n", 1),
    ] {
        let (hosts, r) = collect(text, None, Filter::default());
        let mut distinct = hosts.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!((distinct.len(), r.duplicates), (hosts.len(), dups), "{text:?}: {hosts:?}");
    }
}
