//! End to end on loopback with the real binary and a real raw socket (root).

mod common;

use common::*;
use std::os::fd::AsRawFd;
use std::process::Stdio;

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn seventy_thousand_loopback_hosts_are_all_alive_and_each_reported_once() {
    need_root();
    let out = run(pinger().args(["127.0.0.0/8", "--count", "70000", "--rate", "0", "--timeout", "1000"]).args([
        "--format",
        "json",
        "--no-store",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let by_host = results_by_host(&out);
    assert_eq!(by_host.len(), 70_000);
    for host in loopback(70_000) {
        let r = &by_host[&host];
        assert_eq!(r["status"], "alive", "{r}");
        assert_eq!((r["sent"].as_u64(), r["received"].as_u64()), (Some(1), Some(1)), "{r}");
        assert!(r["rtt_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{r}");
    }
    let err = stderr(&out);
    assert_eq!(summary_number(&err, "alive"), 70_000);
    assert_eq!(summary_number(&err, "sent"), 70_000);
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn two_pingers_sweeping_the_same_hosts_at_once_both_see_every_host_alive_once() {
    need_root();
    let list = list_file("concurrent-20000.txt", loopback(20_000));
    // 40,000 probes/s each: half a second of overlap at least, so each sees the other's replies on its socket.
    let spawn = || {
        pinger()
            .args(["--hosts-file"])
            .arg(&list)
            .args(["--count", "0", "--rate", "40000", "--format", "json", "--no-progress"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pinger")
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().expect("first"), b.wait_with_output().expect("second")];
    let mut foreign = 0;
    for out in &outs {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        let by_host = results_by_host(out);
        assert_eq!(by_host.len(), 20_000);
        for r in by_host.values() {
            assert_eq!(r["status"], "alive", "{r}");
            assert_eq!(
                (r["sent"].as_u64(), r["received"].as_u64(), r["duplicates"].as_u64()),
                (Some(1), Some(1), Some(0))
            );
        }
        foreign += summary_number(&stderr(out), "not");
    }
    // Proof that the runs overlapped: each raw socket saw replies that belonged to the other run.
    assert!(foreign > 0, "the two sweeps did not overlap; the test proved nothing");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn without_cap_net_raw_pinger_says_how_to_fix_it_and_exits_4() {
    need_root();
    let out = run(std::process::Command::new("setpriv")
        .args(["--bounding-set=-net_raw", "--inh-caps=-net_raw", "--"])
        .arg(env!("CARGO_BIN_EXE_pinger"))
        .arg("127.0.0.1")
        .current_dir(workdir())
        .env("PINGER_ALLOW", ALLOW));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("CAP_NET_RAW") && err.contains("setcap cap_net_raw+ep"), "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_sweep_ends_when_every_host_answered_not_at_the_timeout() {
    need_root();
    let wall = |timeout: &str| {
        let out = run(pinger().args(["127.0.0.0/24", "--timeout", timeout, "--format", "none"]));
        assert_eq!(out.status.code(), Some(0));
        let err = stderr(&out);
        assert_eq!(summary_number(&err, "alive"), 254);
        let secs = err.split("wall ").nth(1).and_then(|s| s.split(' ').next()).and_then(|s| s.parse::<f64>().ok());
        secs.expect("wall time in the summary")
    };
    // A sweep that sat out its timeout would take 60 times longer with the longer one.
    let (short, long) = (wall("1000"), wall("60000"));
    assert!(long < short.max(0.001) * 20.0, "timeout 1 s: {short} s, timeout 60 s: {long} s");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn several_probes_per_host_are_all_counted_with_min_avg_max() {
    need_root();
    let out = run(pinger().args(["127.0.0.1", "127.0.0.2", "--probes", "3", "--interval", "10", "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let by_host = results_by_host(&out);
    assert_eq!(by_host.len(), 2);
    for r in by_host.values() {
        assert_eq!((r["sent"].as_u64(), r["received"].as_u64()), (Some(3), Some(3)), "{r}");
        let (min, avg, max) =
            (r["rtt_min_ms"].as_f64().unwrap(), r["rtt_ms"].as_f64().unwrap(), r["rtt_max_ms"].as_f64().unwrap());
        assert!(min <= avg && avg <= max, "{r}");
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn the_json_contract_fields_come_first_in_order() {
    need_root();
    let out = run(pinger().args(["127.0.0.1", "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.starts_with("{\"host\":\"127.0.0.1\",\"status\":\"alive\",\"rtt_ms\":"), "{line}");
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!((v["sent"].as_u64(), v["received"].as_u64()), (Some(1), Some(1)));
    let keys: Vec<&str> = line.split("\":").map(|k| k.rsplit('"').next().unwrap()).take(5).collect();
    assert_eq!(keys, ["host", "status", "rtt_ms", "sent", "received"]);
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_destination_the_kernel_refuses_is_unreachable_with_the_reason() {
    need_root();
    // The loopback broadcast address: the kernel refuses to send there (EACCES, no SO_BROADCAST).
    let out = run(pinger().args(["127.255.255.255", "127.0.0.1", "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let by_host = results_by_host(&out);
    let r = &by_host["127.255.255.255"];
    assert_eq!((r["status"].as_str(), r["error"]["kind"].as_str()), (Some("unreachable"), Some("local")), "{r}");
    assert_eq!(r["error"]["errno"].as_i64(), Some(libc::EACCES as i64));
    assert_eq!(by_host["127.0.0.1"]["status"], "alive");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn the_table_lists_every_host_under_a_header() {
    need_root();
    let out = run(pinger().args(["127.0.0.1", "127.0.0.2", "--format", "table"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("HOST") && lines[0].contains("STATUS") && lines[0].contains("AVG_MS"));
    let status_col = lines[0].find("STATUS").unwrap();
    for l in &lines[1..] {
        assert_eq!(&l[status_col..status_col + 5], "alive", "{text}");
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn ipv6_loopback_answers_beside_ipv4_in_one_sweep() {
    need_root();
    let out = run(pinger().args(["::1", "127.0.0.1", "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let hosts = results_by_host(&out);
    assert_eq!(hosts.len(), 2);
    for h in hosts.values() {
        assert_eq!((h["status"].as_str(), h["received"].as_u64()), (Some("alive"), Some(1)), "{h}");
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn three_pingers_with_shard_1_2_and_3_of_3_probe_every_host_of_a_30000_host_list_exactly_once() {
    need_root();
    // 10,000 lines of the list are outside the allow list or duplicates: they count for no shard.
    let outside = (0..5_000).map(|i| format!("127.1.{}.{}", i / 250, i % 250 + 1));
    let list = list_file("shard-40000.txt", outside.chain(loopback(5_000)).chain(loopback(30_000)));
    let mut seen = std::collections::HashMap::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = run(pinger()
            .arg("--hosts-file")
            .arg(&list)
            .args(["--count", "30000", "--shard", &shard, "--allow", "127.0.0.0/16", "--rate", "0"])
            .args(["--timeout", "1000", "--format", "json", "--no-store", "--no-progress"]));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let by_host = results_by_host(&out);
        let err = stderr(&out);
        assert_eq!(summary_number(&err, "alive"), by_host.len() as u64, "{err}");
        assert!(by_host.len() > 9_000 && by_host.len() < 11_000, "shard {shard}: {} hosts", by_host.len());
        assert!(
            err.contains(&format!("{} hosts of the list left to the other --shard parts", 30_000 - by_host.len())),
            "{err}"
        );
        assert!(err.contains("outside allow list 5000") && err.contains("duplicate entries 5000"), "{err}");
        for (host, r) in by_host {
            assert_eq!(r["status"], "alive", "{r}");
            assert_eq!(seen.insert(host.clone(), shard.clone()), None, "{host} probed by two shards");
        }
    }
    let mut union: Vec<String> = seen.into_keys().collect();
    union.sort();
    let mut expected: Vec<String> = loopback(30_000).collect();
    expected.sort();
    assert_eq!(union, expected, "the shards together are the list's 30,000 hosts");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn echo_requests_leave_with_dont_fragment_set_and_no_ip_identifier() {
    need_root();
    // A raw ICMP socket of our own sees, on loopback, the echo requests pinger sends; it keeps only echo requests
    // (other tests sweep loopback at the same time) in a buffer large enough for theirs as well.
    let watch = socket2::Socket::new_raw(socket2::Domain::IPV4, socket2::Type::RAW, Some(socket2::Protocol::ICMPV4))
        .expect("a raw socket to watch loopback");
    let only_requests: u32 = !(1 << 8);
    // SAFETY: ICMP_FILTER (1) of SOL_RAW takes a u32 mask, passed with its size.
    let set =
        unsafe { libc::setsockopt(watch.as_raw_fd(), libc::SOL_RAW, 1, (&only_requests as *const u32).cast(), 4) };
    assert_eq!(set, 0, "ICMP_FILTER");
    watch.set_recv_buffer_size(32 << 20).expect("receive buffer");
    watch.set_read_timeout(Some(std::time::Duration::from_millis(100))).expect("read timeout");
    let sweep = pinger().args(["127.93.0.0/28", "--format", "json", "--no-store"]).output().expect("run pinger");
    assert_eq!(sweep.status.code(), Some(0), "{}", stderr(&sweep));
    let mut requests = Vec::new();
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1500];
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while requests.len() < 14 && std::time::Instant::now() < until {
        let Ok(n) = watch.recv(&mut buf) else { continue };
        // SAFETY: recv initialised the first n bytes.
        let p: Vec<u8> = buf[..n].iter().map(|b| unsafe { b.assume_init() }).collect();
        if n >= 20 && p[16..18] == [127, 93] {
            requests.push((u16::from_be_bytes([p[4], p[5]]), u16::from_be_bytes([p[6], p[7]]), n));
        }
    }
    assert_eq!(requests.len(), 14, "one request to each of the 14 hosts: {requests:?}");
    for (ip_id, flags, len) in requests {
        // 60 bytes: every IPv4 link carries 68 unfragmented (RFC 791), so DF costs nothing, and with DF the
        // kernel leaves the identifier 0 (RFC 6864) instead of drawing one for every packet.
        assert_eq!((flags & 0x4000, flags & 0x3fff, ip_id, len), (0x4000, 0, 0, 60));
    }
}
