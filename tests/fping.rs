//! What fping's users reach for: the short letters with fping's meaning (-c -p -g -a -u -q), ranges, input
//! order, and loss as fping shows it (refused sends included).

mod common;

use common::*;
use serde_json::Value;

/// The JSON lines on stdout, in the order printed.
fn lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

fn hosts_of(out: &std::process::Output) -> Vec<String> {
    lines(out).iter().map(|v| v["host"].as_str().expect("host").to_string()).collect()
}

/// The seconds of "sweep N s" in the summary.
fn sweep_secs(err: &str) -> f64 {
    let at = err.find("(sweep ").unwrap_or_else(|| panic!("no sweep time: {err}")) + "(sweep ".len();
    err[at..].split_whitespace().next().and_then(|s| s.parse().ok()).expect("a number of seconds")
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn c_sends_that_many_probes_to_each_host_and_p_spaces_them() {
    need_root();
    let out = run(pinger().args(["-c", "3", "-p", "60", "--no-store", "--format", "json", "127.0.0.1", "127.0.0.2"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for (host, r) in results_by_host(&out) {
        assert_eq!((r["sent"].as_u64(), r["received"].as_u64()), (Some(3), Some(3)), "{host}: {r}");
        assert_eq!((r["loss_pct"].as_f64(), r["refused"].as_u64()), (Some(0.0), Some(0)), "{host}: {r}");
    }
    // Three probes 60 ms apart cannot all have left sooner than 120 ms after the first.
    assert!(sweep_secs(&err) >= 0.120, "{err}");
    assert!(err.contains("round trip min/avg/max") && err.contains("over 6 replies from 2 alive hosts"), "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn g_with_a_start_and_an_end_sweeps_every_address_between_and_with_a_block_its_hosts() {
    need_root();
    let out = run(pinger().args(["-g", "127.0.0.1", "127.0.0.5", "--no-store", "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut hosts = hosts_of(&out);
    hosts.sort();
    assert_eq!(hosts, loopback(5).collect::<Vec<_>>());
    // As fping -g: a block without its network and broadcast addresses.
    let out = run(pinger().args(["-g", "127.0.0.0/29", "--no-store", "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(hosts_of(&out).len(), 6);
    for bad in [&["-g", "127.0.0.1"][..], &["-g", "127.0.0.9", "127.0.0.1"], &["-g", "a", "b", "c"]] {
        let out = run(pinger().args(bad).arg("--no-store"));
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{bad:?}: nothing probed");
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_range_in_a_list_or_on_the_command_line_gives_each_of_its_addresses() {
    need_root();
    let list = list_file("range-list.txt", ["127.0.0.10-127.0.0.12".to_string(), "127.0.0.11".to_string()]);
    let out = run(pinger().arg("-f").arg(&list).args(["127.0.1.1-127.0.1.2", "--no-store", "--format", "json"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let mut hosts = hosts_of(&out);
    hosts.sort();
    assert_eq!(hosts, ["127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.1.1", "127.0.1.2"]);
    assert!(err.contains("duplicate entries 1"), "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_range_is_cut_by_the_allow_list_and_counted_against_max_hosts_before_anything_is_sent() {
    need_root();
    let out =
        run(pinger().args(["127.0.0.250-127.1.0.5", "--allow", "127.0.0.0/24", "--no-store", "--format", "json"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(hosts_of(&out).len(), 6, "127.0.0.250 to .255: {err}");
    assert!(err.contains("outside allow list 65286"), "the rest of the range is counted, not probed: {err}");
    // Four billion addresses: refused by arithmetic, never expanded.
    let ns = Netns::new("range-max");
    let out = run(ns.pinger().args(["2001:db8::1-2001:db8::1:0:0", "--no-store", "--format", "json"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("more than --max-hosts"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

/// A namespace where 198.18.0.1-198.18.0.2 answer, 198.18.1.1-198.18.1.2 are silent (out of a veth with nothing
/// behind it) and 198.18.2.1 is unroutable.
fn mixed_namespace(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.ip_in(&["route", "add", "local", "198.18.0.0/24", "dev", "lo"]);
    ns.ip_in(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    ns.ip_in(&["link", "set", "v0", "arp", "off", "up"]);
    ns.ip_in(&["link", "set", "v1", "up"]);
    ns.ip_in(&["route", "add", "198.18.1.0/24", "dev", "v0"]);
    ns.ip_in(&["route", "add", "unreachable", "198.18.2.0/24"]);
    ns
}

const MIXED: [&str; 5] = ["198.18.0.1", "198.18.0.2", "198.18.1.1", "198.18.1.2", "198.18.2.1"];

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_prints_only_the_alive_hosts_and_u_only_the_others_while_the_summary_counts_all() {
    need_root();
    let ns = mixed_namespace("au");
    let sweep = |flag: &str| {
        let out = run(ns.pinger().args(MIXED).args([flag, "--timeout", "300", "--no-store", "--format", "json"]));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(
            (summary_number(&err, "alive"), summary_number(&err, "timeout"), summary_number(&err, "unreachable")),
            (2, 2, 1),
            "{err}"
        );
        let mut hosts = hosts_of(&out);
        hosts.sort();
        hosts
    };
    assert_eq!(sweep("-a"), ["198.18.0.1", "198.18.0.2"]);
    assert_eq!(sweep("-u"), ["198.18.1.1", "198.18.1.2", "198.18.2.1"]);
    let both = run(ns.pinger().args(MIXED).args(["-a", "-u", "--no-store"]));
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn q_prints_no_host_lines_only_the_summary() {
    need_root();
    let out = run(pinger().args(["-q", "127.0.0.1", "127.0.0.2", "--no-store"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(summary_number(&err, "alive"), 2, "{err}");
    assert!(err.contains("round trip min/avg/max"), "{err}");
    let json = run(pinger().args(["-q", "--format", "json", "127.0.0.1", "--no-store"]));
    assert_eq!(json.status.code(), Some(2), "-q and --format json contradict: {}", stderr(&json));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn in_order_prints_the_hosts_in_the_order_of_the_list() {
    need_root();
    let ns = mixed_namespace("order");
    // Silent, unroutable and answering hosts interleaved: they become final at very different times.
    let list = ["198.18.1.2", "198.18.0.2", "198.18.2.1", "198.18.0.1", "198.18.1.1", "198.18.0.2"];
    let file = list_file("in-order.txt", list.iter().map(|s| s.to_string()));
    for format in ["json", "table"] {
        let out = run(ns
            .pinger()
            .arg("-f")
            .arg(&file)
            .args(["--in-order", "-c", "2", "-p", "20", "--timeout", "200"])
            .args(["--no-store", "--format", format]));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let printed: Vec<String> = match format {
            "json" => hosts_of(&out),
            _ => String::from_utf8_lossy(&out.stdout)
                .lines()
                .skip(1)
                .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
                .collect(),
        };
        assert_eq!(printed, list[..5], "{format}: the duplicate keeps its first place");
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_send_the_local_firewall_refuses_counts_as_sent_and_lost_in_the_hosts_row() {
    need_root();
    let ns = Netns::new("refused");
    ns.ip_in(&["route", "add", "local", "198.18.0.0/24", "dev", "lo"]);
    let nft = |args: &[&str]| ns.exec(&[&["nft"][..], args].concat());
    nft(&["add", "table", "inet", "t"]);
    nft(&["add", "chain", "inet", "t", "output", "{ type filter hook output priority 0; }"]);
    nft(&["add", "chain", "inet", "t", "input", "{ type filter hook input priority 0; }"]);
    // A DROP on output is EPERM to the sender: every probe to .2, the first of three to .3.
    nft(&["add", "rule", "inet", "t", "output", "ip", "daddr", "198.18.0.2", "meta", "l4proto", "icmp", "drop"]);
    let first_of_three = ["numgen", "inc", "mod", "3", "0", "drop"];
    let to3 = ["add", "rule", "inet", "t", "output", "ip", "daddr", "198.18.0.3", "icmp", "type", "echo-request"];
    nft(&[&to3[..], &first_of_three].concat());
    // Lost on the way in (not refused): two of three requests to .4.
    let to4 = ["add", "rule", "inet", "t", "input", "ip", "daddr", "198.18.0.4", "icmp", "type", "echo-request"];
    nft(&[&to4[..], &["numgen", "inc", "mod", "3", "!=", "0", "drop"]].concat());
    let out = run(ns
        .pinger()
        .args(["-g", "198.18.0.1", "198.18.0.4", "-c", "3", "-p", "20", "--timeout", "300"])
        .args(["--no-store", "--format", "json"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let by_host = results_by_host(&out);
    let row = |h: &str| {
        let r = &by_host[h];
        (r["status"].as_str().map(String::from), r["sent"].as_u64(), r["refused"].as_u64(), r["received"].as_u64())
    };
    let loss = |h: &str| by_host[h]["loss_pct"].as_f64();
    let alive = Some("alive".to_string());
    assert_eq!(row("198.18.0.1"), (alive.clone(), Some(3), Some(0), Some(3)));
    assert_eq!(row("198.18.0.2"), (Some("unreachable".into()), Some(3), Some(3), Some(0)));
    assert_eq!(by_host["198.18.0.2"]["error"]["errno"].as_i64(), Some(i64::from(libc::EPERM)));
    assert_eq!(row("198.18.0.3"), (alive.clone(), Some(3), Some(1), Some(2)));
    assert_eq!(row("198.18.0.4"), (alive, Some(3), Some(0), Some(1)));
    assert_eq!((loss("198.18.0.1"), loss("198.18.0.2")), (Some(0.0), Some(100.0)));
    assert_eq!((loss("198.18.0.3"), loss("198.18.0.4")), (Some(33.33), Some(66.67)));
    // The packets that left (12 probes less 4 refused) and the refusals, apart.
    assert_eq!(summary_number(&err, "sent"), 8, "{err}");
    assert!(err.contains("4 send failures"), "{err}");
    // The table says the same.
    let table = run(ns.pinger().args(["198.18.0.2", "-c", "3", "-p", "20", "--timeout", "300", "--no-store"]));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().next().is_some_and(|h| h.contains("LOSS")), "{text}");
    let row = text.lines().nth(1).unwrap_or_default();
    assert!(row.contains("100%") && row.contains("3 sends refused"), "{text}");
}

#[test]
fn r_n_and_i_mean_other_things_in_fping_and_are_refused_with_pingers_name_for_them() {
    for (letter, says) in [("-r", "--rate"), ("-n", "--count"), ("-i", "--rate")] {
        let out = run(pinger().args([letter, "5", "127.0.0.1", "--no-store"]));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{letter}: {err}");
        assert!(err.contains(&format!("Unrecognized argument: {letter}")) && err.contains(says), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn loss_is_in_the_hourly_and_daily_views_and_in_the_report_beside_availability() {
    need_root();
    let pg = common::stores::PgServer::start("loss");
    // A database of schema 3 (before loss_pct), brought up to date by `pinger migrate`.
    let v3 = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema_v3.sql");
    let applied = pg.psql("pinger", "").args(["-f", v3]).output().unwrap();
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    // .1: a check two days ago that lost 2 of 3 probes (up: one answered), and one a minute ago that lost none;
    // .2: a check two days ago with all 3 probes lost.
    let old = "date_trunc('day', now(), 'UTC') - interval '2 days' + interval '3 hours'";
    pg.query(&format!(
        "INSERT INTO pinger_data (host, ping_timestamp, result, sent, received) VALUES \
         ('127.0.0.1', {old}, true, 3, 1), ('127.0.0.2', {old}, false, 3, 0), \
         ('127.0.0.1', now() - interval '1 minute', true, 3, 3)"
    ));
    pg.query("SELECT pinger_close_hours(now())");
    let migrated = run(pinger().arg("migrate").env("DATABASE_URL", pg.url()));
    assert_eq!(migrated.status.code(), Some(0), "{}", stderr(&migrated));
    assert_eq!(pg.query("SELECT max(version) FROM pinger_schema"), pinger::store::postgres::SCHEMA_VERSION.to_string());
    let view = |v: &str| pg.query(&format!("SELECT host(host), availability_pct, loss_pct FROM {v} ORDER BY host"));
    assert_eq!(view("host_daily"), "127.0.0.1|100.00|66.67\n127.0.0.2|0.00|100.00");
    assert_eq!(view(&format!("host_hourly WHERE hour = {old}")), "127.0.0.1|100.00|66.67\n127.0.0.2|0.00|100.00");
    let report = |args: &[&str]| {
        let out = run(pinger().arg("report").args(args).env("DATABASE_URL", pg.url()));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Over the week: the daily rollup and the raw row together, 2 of 6 probes lost, every check up.
    let least: Vec<Value> =
        report(&["--since", "7d", "--format", "json"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by = |h: &str| least.iter().find(|v| v["host"] == h).cloned().unwrap_or_default();
    assert_eq!(
        (by("127.0.0.1")["availability_pct"].as_f64(), by("127.0.0.1")["loss_pct"].as_f64()),
        (Some(100.0), Some(33.33))
    );
    assert_eq!(by("127.0.0.2")["loss_pct"].as_f64(), Some(100.0));
    let one: Value = serde_json::from_str(report(&["127.0.0.1", "--since", "7d", "--format", "json"]).trim()).unwrap();
    assert_eq!(one["loss_pct"].as_f64(), Some(33.33), "{one}");
    assert!(report(&["127.0.0.1", "--since", "7d"]).contains("availability 100.00% over 7d; probe loss 33.33%"));
    assert!(report(&["--since", "7d"]).lines().next().is_some_and(|h| h.contains("LOSS%")));
}
