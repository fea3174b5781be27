//! End to end in a network namespace the test creates: answering, silent and unroutable test addresses, and a
//! flood of foreign ICMP.

mod common;

use common::*;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn dead_hosts_time_out_and_live_ones_in_the_same_sweep_are_alive() {
    need_root();
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
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_mixed_sweep_of_100000_ipv4_and_100000_ipv6_hosts_finds_all_alive_each_once() {
    need_root();
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

/// Threads that flood a namespace's loopback with ICMP echo replies that answer no probe of pinger's (valid
/// checksums, random identifiers), as fast as raw sockets send, until dropped.
struct Flood {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Flood {
    fn start(netns: &str, threads: usize) -> Flood {
        let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let threads: Vec<_> = (0..threads)
            .map(|t| {
                let ns = std::fs::File::open(format!("/var/run/netns/{netns}")).expect("namespace file");
                let (stop, sent, ready_tx) = (stop.clone(), sent.clone(), ready_tx.clone());
                std::thread::spawn(move || {
                    // SAFETY: setns(2) on a namespace fd moves only this thread: all it sends stays inside.
                    assert_eq!(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
                    flood(t as u8, &stop, &sent, ready_tx);
                })
            })
            .collect();
        for _ in 0..threads.len() {
            ready.recv().expect("flood thread started");
        }
        Flood { stop, sent, threads }
    }

    /// Stops the flood; returns how many packets it sent.
    fn stop(mut self) -> u64 {
        self.halt();
        self.sent.load(Ordering::Relaxed)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.halt();
    }
}

/// One flooding thread, already in the namespace: batches of 64 prepared packets to 127.0.0.1 by sendmmsg.
fn flood(thread: u8, stop: &AtomicBool, sent: &AtomicU64, ready: std::sync::mpsc::Sender<()>) {
    const N: usize = 64;
    // SAFETY: socket(2) with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
    // A raw socket sees every ICMP packet of the namespace: filtering out every type keeps the flood from also
    // filling this socket's own queue, which would halve its rate.
    let all: u32 = !0;
    // SAFETY: setsockopt(2) with a pointer to a local u32 (ICMP_FILTER is option 1 of SOL_RAW).
    unsafe { libc::setsockopt(fd, libc::SOL_RAW, 1, (&all as *const u32).cast(), 4) };
    let mut to = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be() },
        sin_zero: [0; 8],
    };
    let mut packets = [[0u8; 64]; N];
    for (i, p) in packets.iter_mut().enumerate() {
        p[4..8].copy_from_slice(&[0xf1, thread, 0, i as u8]);
        let sum = checksum(p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    // SAFETY: zeroed iovec/mmsghdr arrays are valid; they are filled below.
    let mut iovs: [libc::iovec; N] = unsafe { std::mem::zeroed() };
    let mut msgs: [libc::mmsghdr; N] = unsafe { std::mem::zeroed() };
    for i in 0..N {
        iovs[i] = libc::iovec { iov_base: packets[i].as_mut_ptr().cast(), iov_len: packets[i].len() };
        let h = &mut msgs[i].msg_hdr;
        h.msg_name = (&mut to as *mut libc::sockaddr_in).cast();
        h.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        h.msg_iov = &mut iovs[i];
        h.msg_iovlen = 1;
    }
    let _ = ready.send(());
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: every header points into the local arrays, alive for the call.
        let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), N as u32, 0) };
        if n > 0 {
            sent.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    // SAFETY: closing the socket this function opened.
    unsafe { libc::close(fd) };
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (i, pair) in bytes.chunks(2).enumerate() {
        // The checksum field itself counts as zero.
        if i != 1 {
            sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_flood_of_foreign_icmp_does_not_starve_sending_and_timers() {
    need_root();
    let ns = Netns::new("flood");
    // Live hosts on the namespace's loopback; silent ones through a veth pair that goes nowhere (as above).
    ns.ip_in(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    ns.ip_in(&["link", "set", "v0", "arp", "off", "up"]);
    ns.ip_in(&["link", "set", "v1", "up"]);
    ns.ip_in(&["route", "add", "198.19.0.0/24", "dev", "v0"]);
    // Two senders outrun pinger's reading (a debug build, on a shared machine): its socket never runs dry, and
    // the kernel drops what does not fit, some of pinger's own replies too, so each host gets three probes.
    let flood = Flood::start(&ns.name, 2);
    let sweep = |targets: &[&str], timeout: &str| {
        let m = run_measured(
            ns.pinger().args(targets).args(["--timeout", timeout, "--probes", "3", "--interval", "50"]).args([
                "--format",
                "json",
                "--no-store",
                "--no-progress",
            ]),
            2 << 30,
            // A hang guard, not a performance claim: each sweep needs well under a second.
            Duration::from_secs(20),
        );
        let err = stderr(&m.out);
        assert_eq!(m.out.status.code(), Some(0), "{err}");
        (results_by_host(&m.out), err)
    };
    let (hosts, err) = sweep(&["127.0.0.0/28", "198.19.0.0/28"], "300");
    assert_eq!(hosts.len(), 28, "{err}");
    for (host, r) in &hosts {
        let expected = if host.starts_with("127.") { "alive" } else { "timeout" };
        assert_eq!(r["status"], expected, "{r}\n{err}");
        assert_eq!(r["sent"].as_u64(), Some(3), "{r}");
    }
    // Replies that waited behind the flood longer than the timeout still came in on time (kernel stamps): each
    // is credited, none taken for a duplicate of a probe whose deadline fired while it sat in the queue.
    let (hosts, short) = sweep(&["127.0.0.0/28"], "20");
    assert_eq!(hosts.len(), 14, "{short}");
    for r in hosts.values() {
        assert_eq!((r["status"].as_str(), r["duplicates"].as_u64()), (Some("alive"), Some(0)), "{r}\n{short}");
    }
    let flooded = flood.stop();
    // The flood was real, and pinger read it.
    eprintln!("flood: {flooded} packets sent\n{err}\n{short}");
    assert!(summary_number(&err, "not") >= 1000 && summary_number(&short, "not") >= 1000, "{err}\n{short}");
}
