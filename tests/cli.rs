//! The command line as scripts see it: host lists, filtering, exit codes, messages.

mod common;

use common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_messy_list_on_stdin_sweeps_every_valid_line_and_reports_the_bad_ones() {
    need_root();
    let list = "# loopback resolvers\r\n127.0.0.1\r\n\r\n   127.0.0.2   \n127.0.0.1\nnot an address!\n\
                127.0.0.3 # a comment\n127.0.0.999\n127.0.1.0/30\n127.0.0.9";
    let mut child = pinger()
        .args(["--hosts-file", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(list.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut hosts: Vec<String> = results_by_host(&out).into_keys().collect();
    hosts.sort();
    assert_eq!(hosts, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.9", "127.0.1.1", "127.0.1.2"]);
    let err = stderr(&out);
    assert!(err.contains("stdin:6:") && err.contains("not an address!"), "{err}");
    assert!(err.contains("stdin:8:") && err.contains("127.0.0.999"), "{err}");
    assert!(err.contains("invalid lines 2") && err.contains("duplicate entries 1"), "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn hosts_outside_the_allow_list_and_reserved_ones_are_skipped_and_never_probed() {
    need_root();
    let out = run(pinger().args(["127.0.0.1", "127.1.0.1", "0.0.0.0", "--allow", "127.0.0.0/16", "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(results_by_host(&out).into_keys().collect::<Vec<_>>(), ["127.0.0.1"]);
    let err = stderr(&out);
    assert_eq!(summary_number(&err, "sent"), 1, "{err}");
    assert!(err.contains("reserved 1") && err.contains("outside allow list 1"), "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn pinger_allow_in_the_environment_cannot_be_widened_by_allow() {
    need_root();
    let out =
        run(pinger().env("PINGER_ALLOW", "127.0.0.1/32").args(["127.0.0.1", "127.0.0.2", "--allow", "127.0.0.0/8"]));
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("outside allow list 1"), "{}", stderr(&out));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn count_takes_the_first_hosts_of_the_list_in_order() {
    need_root();
    let list = list_file("count-list.txt", loopback(50));
    let out = run(pinger().arg("--hosts-file").arg(&list).args(["--count", "7", "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut hosts: Vec<String> = results_by_host(&out).into_keys().collect();
    hosts.sort_by_key(|h| h.parse::<std::net::Ipv4Addr>().unwrap());
    assert_eq!(hosts, loopback(7).collect::<Vec<_>>());
    assert!(stderr(&out).contains("list cut at --count"));
}

#[test]
fn exit_codes_are_the_documented_ones() {
    let code = |args: &[&str]| run(pinger().args(args)).status.code();
    assert_eq!(code(&["--help"]), Some(0));
    assert_eq!(code(&["--version"]), Some(0));
    assert_eq!(code(&["--no-such-flag"]), Some(2));
    assert_eq!(code(&["127.0.0.1/99"]), Some(2));
    assert_eq!(code(&["127.0.0.1", "--timeout", "0"]), Some(2));
    assert_eq!(code(&["127.0.0.1", "--format", "xml"]), Some(2));
    assert_eq!(code(&["--hosts-file", "/nonexistent/list"]), Some(2));
    assert_eq!(code(&["not a host name"]), Some(2));
    // Everything filtered away: nothing to probe.
    assert_eq!(code(&["0.0.0.0"]), Some(3));
}

#[test]
fn a_bad_allow_list_in_the_environment_is_a_clear_error() {
    let out = run(pinger().env("PINGER_ALLOW", "127.0.0.0/8,bogus").arg("127.0.0.1"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("PINGER_ALLOW") && stderr(&out).contains("bogus"), "{}", stderr(&out));
}

#[test]
fn a_number_too_large_for_a_flag_is_a_usage_error_that_names_the_flag() {
    // 2^64 - 1 once made the Postgres connection fail ("cannot connect") with Postgres up; every flag says so
    // before anything is probed or contacted.
    let out = run(pinger().args(["127.0.0.1", "--no-store", "--store-timeout", "18446744073709551615"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--store-timeout must be between 1 and 3600"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    for flag in ["--fetch-timeout", "--resolve-timeout", "--redis-ttl", "--max-list-bytes", "--count", "--timeout"] {
        let out = run(pinger().args(["127.0.0.1", "--no-store", flag, "18446744073709551615"]));
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("{flag} must be between")), "{}", stderr(&out));
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_block_larger_than_max_hosts_is_refused_before_anything_is_allocated_or_sent() {
    need_root();
    // In a namespace of its own all the same: were the check ever to come after the expansion, nothing sent
    // could leave it.
    let ns = Netns::new("maxhosts");
    // 4 billion hosts once asked for a 1 GB allocation and aborted; the cap makes any such attempt fail here.
    let m = run_measured(
        ns.pinger().args(["2001:db8::/96", "--no-store", "--format", "json"]),
        1 << 30,
        Duration::from_secs(60),
    );
    let err = stderr(&m.out);
    assert_eq!(m.out.status.code(), Some(2), "{err}");
    assert!(err.contains("4294967295 hosts") && err.contains("more than --max-hosts 16777216"), "{err}");
    assert!(m.out.stdout.is_empty(), "nothing probed");
    assert!(m.peak_rss_kb < 64 * 1024, "refused before expanding: peak RSS {} kB", m.peak_rss_kb);
    // The way through that the message names: --count takes a part of the block (here unroutable, inside the
    // namespace).
    let part = run(ns.pinger().args(["2001:db8::/96", "--count", "3", "--no-store", "--format", "json"]));
    assert_eq!(part.status.code(), Some(0), "{}", stderr(&part));
    assert_eq!(results_by_host(&part).len(), 3, "{}", stderr(&part));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_whole_internet_line_in_a_list_sweeps_only_its_part_inside_the_allow_list() {
    need_root();
    // A hostile or mistaken line in a fetched list: 0.0.0.0/0, inside PINGER_ALLOW=127.0.0.0/8 and --allow
    // 127.0.0.0/30, is the four addresses of that /30 (all four: the /30 is not the block the line names).
    let list = list_file("whole-internet.txt", ["0.0.0.0/0".to_string(), "127.0.0.1".to_string()]);
    let m = run_measured(
        pinger().env("PINGER_ALLOW", "127.0.0.0/8").arg("--hosts-file").arg(&list).args([
            "--allow",
            "127.0.0.0/30",
            "--no-store",
            "--format",
            "json",
            "--timeout",
            "500",
        ]),
        2 << 30,
        Duration::from_secs(60),
    );
    let err = stderr(&m.out);
    assert_eq!(m.out.status.code(), Some(0), "{err}");
    let mut hosts: Vec<String> = results_by_host(&m.out).into_keys().collect();
    hosts.sort();
    assert_eq!(hosts, ["127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"], "{err}");
    assert_eq!(summary_number(&err, "sent"), 4, "{err}");
    assert!(err.contains("duplicate entries 1"), "{err}");
    assert!(m.peak_rss_kb < 200 * 1024, "the rest of the internet cost memory: peak RSS {} kB", m.peak_rss_kb);
}

#[test]
fn a_wrong_value_says_what_to_write_instead() {
    for (args, says) in [
        (&["--rate", "-1"][..], "'--rate' with value '-1': cannot be negative"),
        (&["--count", "ten"][..], "expects a whole number like 1000, not \"ten\""),
        (&["--probes", "99999"][..], "is more than the largest allowed, 65535"),
        (&["--every", "5"][..], "--every needs a unit: 5s or 5m"),
        (&["--timeout", "soon"][..], "expects milliseconds like 2000, or a duration like 2s or 500ms"),
        (&["--store-timeout", "1.5s"][..], "takes whole seconds"),
        (&["--shard", "4/3"][..], "takes K/N, this pinger's part K of N pingers (1 <= K <= N <= 65535), like 1/3"),
        (&["--shard", "0/3"][..], "like 1/3, not \"0/3\""),
    ] {
        let out = run(pinger().args(args).args(["--no-store", "127.0.0.1"]));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    let out = run(pinger().args(["report", "--since", "24"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--since needs a unit: 24h or 24d, not \"24\""), "{}", stderr(&out));
}

#[test]
fn durations_with_their_unit_are_taken_where_a_number_of_milliseconds_or_seconds_is_asked() {
    // --timeout 5s is 5000 ms: the range check (1 to 3600000 ms) passes it, --timeout 2h (7200000 ms) fails it.
    let ok = run(pinger()
        .args(["--timeout", "5s", "--store-timeout", "1m", "--no-store", "--max-hosts", "1"])
        .arg("127.0.0.0/30"));
    assert_eq!(ok.status.code(), Some(2), "{}", stderr(&ok));
    assert!(stderr(&ok).contains("--max-hosts"), "it got as far as counting hosts: {}", stderr(&ok));
    let long = run(pinger().args(["--timeout", "2h", "--no-store", "127.0.0.1"]));
    assert_eq!(long.status.code(), Some(2));
    assert!(stderr(&long).contains("7200000"), "{}", stderr(&long));
}

#[test]
fn h_is_help_and_a_typo_of_a_subcommand_is_named_not_looked_up() {
    for args in [&["-h"][..], &["report", "-h"][..], &["migrate", "-h"][..]] {
        let out = run(pinger().args(args));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("Usage: pinger"), "{args:?}");
    }
    let help = run(pinger().arg("--help"));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("pinger report") && text.contains("pinger migrate"), "help names the subcommands");
    for (typo, meant) in [("repot", "report"), ("migrat", "migrate")] {
        let out = run(pinger().arg(typo));
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(&format!("did you mean `pinger {meant}`")), "{}", stderr(&out));
        assert!(!stderr(&out).contains("resolve"), "no lookup of {typo}: {}", stderr(&out));
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets): run as root, as CI does")]
fn under_the_fence_names_come_from_etc_hosts_and_no_dns_query_is_made() {
    need_root();
    // strace sees every socket the process and its threads open: none may be a DNS query (port 53, or the
    // resolver's local socket). `localhost` is in /etc/hosts; `lcalhost` nowhere.
    let out = run(Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "--"])
        .arg(env!("CARGO_BIN_EXE_pinger"))
        .args(["--no-store", "--format", "json", "localhost", "lcalhost"])
        .env("PINGER_ALLOW", ALLOW)
        .current_dir(workdir()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("host name not in /etc/hosts") && err.contains("lcalhost"), "{err}");
    assert_eq!(results_by_host(&out).into_keys().collect::<Vec<_>>(), ["127.0.0.1"]);
    for line in err.lines().filter(|l| l.contains("connect(") || l.contains("send")) {
        assert!(
            !line.contains("htons(53)") && !line.contains("nscd") && !line.contains("resolve"),
            "a DNS query: {line}"
        );
    }
}
