//! The simulated network: a network namespace of the test's own, with a TUN device routed for 198.18.0.0/15, and
//! a responder thread that answers pinger's echo requests the way the test's scenario says, host by host:
//! latency and jitter, loss, dead hosts, and every way a reply can lie.
//!
//! Every behaviour is written once, for both families (`answer.rs`): what the network sends back, then that
//! written as an IPv4 or an IPv6 packet.
//!
//! Why a module under tests/ and not a separate binary: the responder is a thread of the test process that enters
//! the namespace with setns(2) (only that thread moves), so a test describes its scenario as a plain Rust closure
//! and the device disappears with the namespace when the test ends, pass or fail.
#![allow(dead_code)]

use std::collections::BinaryHeap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Netns;

mod answer;
use answer::{answers, Probe};

/// pinger's own address inside the namespace: the source of its probes, the destination of every answer.
pub const PINGER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 19, 255, 1);
/// The same for IPv6 (2001:db8::/32 is routed to the TUN device as well).
pub const PINGER_ADDR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
/// Where IPv6 routers and spoofers answer from.
pub const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xfffe, 0, 0, 0, 0, 1);

/// How one host (or its path) answers an echo request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    /// Answers after `latency` plus up to `jitter`, losing the share `loss` of the probes (decided by a hash
    /// of host and sequence, so a test can count on it).
    Answer {
        latency: Duration,
        jitter: Duration,
        loss: f64,
    },
    Dead,
    /// Answers `copies` times, `gap` apart.
    Duplicate {
        copies: u8,
        gap: Duration,
    },
    BadChecksum,
    /// The answer comes from another address.
    Spoofed {
        from: Ipv4Addr,
    },
    /// A router on the path answers with destination unreachable (code) quoting the probe.
    Unreachable {
        router: Ipv4Addr,
        code: u8,
    },
    /// A router on the path answers with time exceeded quoting the probe.
    TimeExceeded {
        router: Ipv4Addr,
    },
    /// The answer's echo data is cut short.
    Truncated,
    /// Answers, but only after `after`.
    Late {
        after: Duration,
    },
    /// The answer carries another identifier.
    ChangedId,
    /// The answer carries IPv4 options (record route).
    IpOptions,
    /// Odd probes are answered after even ones: reordering.
    Reorder,
    /// Answers only `per_second` probes a second (over all hosts that share this behaviour); the rest get nothing.
    RateLimited {
        per_second: u32,
    },
    /// Answers with junk ICMP (unknown types, echo replies whose payload is noise).
    Junk,
}

/// Counters of what the responder did, for the test to check against.
#[derive(Default)]
pub struct SimStats {
    pub requests: AtomicU64,
    pub answers: AtomicU64,
    /// How late the responder wrote its last answer to each host (its own scheduling, not pinger's doing).
    pub lateness: std::sync::Mutex<std::collections::HashMap<Ipv4Addr, Duration>>,
}

pub struct Sim {
    pub ns: Netns,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    pub stats: Arc<SimStats>,
}

struct Due {
    at: Instant,
    seq: u64,
    packet: Vec<u8>,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq)) // earliest first in a max-heap
    }
}

/// A number in [0, 1) from a host and a sequence number: the same every run.
pub fn chance(host: Ipv4Addr, seq: u16, salt: u64) -> f64 {
    let mut x = (u64::from(u32::from(host)) << 16 | u64::from(seq)) ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn open_tun(name: &str) -> OwnedFd {
    // SAFETY: open(2) with a constant path; the fd is owned below.
    let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK) };
    if fd < 0 {
        panic!(
            "cannot open /dev/net/tun: {} (the simulated network needs root and the tun module)",
            std::io::Error::last_os_error()
        );
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    let mut req = IfReq { name: [0; 16], flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short, _pad: [0; 22] };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF takes a struct ifreq, which IfReq lays out (name, flags, padding to 40 bytes).
    let rc = unsafe { libc::ioctl(owned.as_raw_fd(), libc::TUNSETIFF as _, &mut req) };
    assert!(rc == 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
    owned
}

impl Sim {
    /// Starts a namespace whose 198.18.0.0/15 and 2001:db8::/32 answer as `scenario` says for each destination
    /// (IPv6 destinations are passed as the IPv4 address of their last 32 bits, so one scenario serves both).
    pub fn start(tag: &str, scenario: impl Fn(Ipv4Addr) -> Behaviour + Send + 'static) -> Sim {
        let ns = Netns::new(tag);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(SimStats::default());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let ns_path = format!("/var/run/netns/{}", ns.name);
        let (stop2, stats2) = (stop.clone(), stats.clone());
        let handle = std::thread::spawn(move || {
            let nsf = std::fs::File::open(&ns_path).expect("namespace file");
            // SAFETY: setns(2) on a namespace fd; it moves only this thread.
            let rc = unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) };
            assert!(rc == 0, "setns: {}", std::io::Error::last_os_error());
            // SAFETY: prctl with a plain integer argument; 1 ns slack makes the timed answers exact.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
            let tun = open_tun("sim0");
            ready_tx.send(()).expect("ready");
            respond(tun, scenario, &stop2, &stats2);
        });
        ready_rx.recv().expect("the responder did not start");
        ns.ip_in(&["addr", "add", &format!("{PINGER_ADDR}/32"), "dev", "sim0"]);
        ns.ip_in(&["link", "set", "sim0", "up"]);
        ns.ip_in(&["route", "add", "198.18.0.0/15", "dev", "sim0", "src", &PINGER_ADDR.to_string()]);
        ns.ip_in(&["-6", "addr", "add", &format!("{PINGER_ADDR6}/128"), "dev", "sim0", "nodad"]);
        ns.ip_in(&["-6", "route", "add", "2001:db8::/32", "dev", "sim0", "src", &PINGER_ADDR6.to_string()]);
        Sim { ns, stop, handle: Some(handle), stats }
    }

    pub fn pinger(&self) -> std::process::Command {
        self.ns.pinger()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn respond(tun: OwnedFd, scenario: impl Fn(Ipv4Addr) -> Behaviour, stop: &AtomicBool, stats: &SimStats) {
    let mut queue: BinaryHeap<Due> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut buf = vec![0u8; 2048];
    let mut window: (Instant, u32) = (Instant::now(), 0);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        while queue.peek().is_some_and(|d| d.at <= now) {
            let d = queue.pop().expect("peeked");
            // SAFETY: writing a buffer we own to our tun fd.
            unsafe { libc::write(tun.as_raw_fd(), d.packet.as_ptr().cast(), d.packet.len()) };
            stats.answers.fetch_add(1, Ordering::Relaxed);
            if d.packet.len() >= 20 {
                let src = Ipv4Addr::new(d.packet[12], d.packet[13], d.packet[14], d.packet[15]);
                if let Ok(mut late) = stats.lateness.lock() {
                    late.insert(src, Instant::now().saturating_duration_since(d.at));
                }
            }
        }
        let wait = queue.peek().map_or(Duration::from_millis(20), |d| d.at.saturating_duration_since(now));
        let ts = libc::timespec { tv_sec: wait.as_secs() as _, tv_nsec: wait.subsec_nanos() as _ };
        let mut pfd = libc::pollfd { fd: tun.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd, a valid timespec, no signal mask.
        unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        loop {
            // SAFETY: reading into a buffer we own from our tun fd.
            let n = unsafe { libc::read(tun.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let Some(probe) = Probe::read(&buf[..n as usize]) else { continue };
            stats.requests.fetch_add(1, Ordering::Relaxed);
            let now = Instant::now();
            let key = probe.key();
            for (after, answer) in answers(scenario(key), key, probe.seq(), &mut window, now) {
                seq += 1;
                queue.push(Due { at: now + after, seq, packet: probe.encode(&answer) });
            }
        }
    }
}

/// Scale mode: a namespace whose own loopback (127.0.0.0/8) answers every probe through the kernel, well past
/// 100,000 probes a second, with nftables dropping `loss_percent` of the echo requests at random. (The TUN
/// responder is exact but answers a few tens of thousands a second; this is for large sweeps with loss.)
pub fn scale_network(tag: &str, loss_percent: u32) -> Netns {
    let ns = Netns::new(tag);
    ns.exec(&["nft", "add", "table", "inet", "sim"]);
    ns.exec(&["nft", "add", "chain", "inet", "sim", "input", "{ type filter hook input priority 0; }"]);
    let loss = loss_percent.to_string();
    ns.exec(&[
        "nft",
        "add",
        "rule",
        "inet",
        "sim",
        "input",
        "icmp",
        "type",
        "echo-request",
        "numgen",
        "random",
        "mod",
        "100",
        "<",
        &loss,
        "drop",
    ]);
    ns
}
