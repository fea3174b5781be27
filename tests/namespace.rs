//! End to end in a network namespace the test creates: answering, silent and unroutable test addresses.

mod common;

use common::*;

#[test]
fn dead_hosts_time_out_and_live_ones_in_the_same_sweep_are_alive() {
    if !have_root() {
        return;
    }
    let ns = Netns::new("dead");
    // 198.18.0.0/24 answers (the kernel's own replies); 198.19.0.0/24 goes out of one end of a veth pair whose
    // other end, in the same namespace, has no such address and does not forward: silence.
    ns.ip_in(&["route", "add", "local", "198.18.0.0/24", "dev", "lo"]);
    ns.ip_in(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    ns.ip_in(&["link", "set", "v0", "arp", "off", "up"]);
    ns.ip_in(&["link", "set", "v1", "up"]);
    ns.ip_in(&["route", "add", "198.19.0.0/24", "dev", "v0"]);
    // Unroutable: the kernel refuses at send time.
    ns.ip_in(&["route", "add", "unreachable", "198.19.1.0/24"]);
    let out = run(ns.pinger().args(["198.18.0.0/28", "198.19.0.0/28", "198.19.1.0/30", "--timeout", "300"]).args([
        "--probes",
        "2",
        "--interval",
        "50",
        "--format",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let by_host = results_by_host(&out);
    assert_eq!(by_host.len(), 14 + 14 + 2);
    for (host, r) in &by_host {
        let expected = if host.starts_with("198.18.") {
            "alive"
        } else if host.starts_with("198.19.0.") {
            "timeout"
        } else {
            "unreachable"
        };
        assert_eq!(r["status"], expected, "{r}");
        match expected {
            "alive" => assert_eq!((r["sent"].as_u64(), r["received"].as_u64()), (Some(2), Some(2)), "{r}"),
            "timeout" => {
                assert_eq!((r["sent"].as_u64(), r["received"].as_u64()), (Some(2), Some(0)), "{r}");
                assert!(r["rtt_ms"].is_null() && r["error"].is_null(), "{r}");
            }
            _ => assert_eq!(r["error"]["errno"].as_i64(), Some(libc::EHOSTUNREACH as i64), "{r}"),
        }
    }
    let err = stderr(&out);
    assert_eq!((summary_number(&err, "alive"), summary_number(&err, "timeout")), (14, 14), "{err}");
}

#[test]
fn a_mixed_sweep_of_100000_ipv4_and_100000_ipv6_hosts_finds_all_alive_each_once() {
    if !have_root() {
        return;
    }
    let ns = Netns::new("mixed");
    ns.ip_in(&["route", "add", "local", "198.18.0.0/15", "dev", "lo"]);
    ns.ip_in(&["-6", "route", "add", "local", "2001:db8::/64", "dev", "lo"]);
    let v4: Vec<String> = (0..100_000u32).map(|i| std::net::Ipv4Addr::from(0xc612_0001 + i).to_string()).collect();
    let v6: Vec<String> =
        (1..=100_000u128).map(|i| std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | i).to_string()).collect();
    let list = list_file("mixed.txt", v4.iter().chain(&v6).cloned());
    let out = run(ns
        .pinger()
        .arg("--hosts-file")
        .arg(&list)
        .args(["--count", "0", "--rate", "0", "--timeout", "1000"])
        .args(["--format", "json", "--no-progress"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let hosts = results_by_host(&out);
    assert_eq!(hosts.len(), 200_000);
    for h in v4.iter().chain(&v6) {
        let r = &hosts[h];
        assert_eq!(
            (r["status"].as_str(), r["sent"].as_u64(), r["received"].as_u64()),
            (Some("alive"), Some(1), Some(1)),
            "{r}"
        );
    }
}
