//! The simulated network: a network namespace of the test's own, with a TUN device routed for 198.18.0.0/15, and
//! a responder thread that answers pinger's echo requests the way the test's scenario says, host by host:
//! latency and jitter, loss, dead hosts, and every way a reply can lie.
//!
//! Why a module under tests/ and not a separate binary: the responder is a thread of the test process that enters
//! the namespace with setns(2) (only that thread moves), so a test describes its scenario as a plain Rust closure
//! and the device disappears with the namespace when the test ends, pass or fail.
#![allow(dead_code)]

use std::collections::BinaryHeap;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pinger::wire::{self, ErrorKind};

use super::Netns;

/// pinger's own address inside the namespace: the source of its probes, the destination of every answer.
pub const PINGER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 19, 255, 1);
/// The same for IPv6 (2001:db8::/32 is routed to the TUN device as well).
pub const PINGER_ADDR6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
/// Where IPv6 routers and spoofers answer from.
pub const ROUTER6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0xfffe, 0, 0, 0, 0, 1);

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
            let pkt = &buf[..n as usize];
            if let Some((dst6, icmp)) = echo_request_v6(pkt) {
                stats.requests.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                for (after, packet) in answer_v6(&scenario, dst6, pkt, icmp, &mut window, now) {
                    seq += 1;
                    queue.push(Due { at: now + after, seq, packet });
                }
                continue;
            }
            let Some((dst, icmp)) = echo_request(pkt) else { continue };
            stats.requests.fetch_add(1, Ordering::Relaxed);
            let now = Instant::now();
            let seqno = u16::from_be_bytes([icmp[6], icmp[7]]);
            let reply_from = |from: Ipv4Addr, icmp: &[u8]| wire::ipv4_packet(from, PINGER_ADDR, &[], icmp);
            let mut push = |after: Duration, packet: Vec<u8>| {
                seq += 1;
                queue.push(Due { at: now + after, seq, packet });
            };
            match scenario(dst) {
                Behaviour::Answer { latency, jitter, loss } => {
                    if chance(dst, seqno, 1) >= loss {
                        let extra = jitter.mul_f64(chance(dst, seqno, 2));
                        push(latency + extra, reply_from(dst, &wire::echo_reply_for(icmp)));
                    }
                }
                Behaviour::Dead => {}
                Behaviour::Duplicate { copies, gap } => {
                    for i in 0..u32::from(copies) {
                        push(gap * i, reply_from(dst, &wire::echo_reply_for(icmp)));
                    }
                }
                Behaviour::BadChecksum => {
                    let mut r = wire::echo_reply_for(icmp);
                    r[2] ^= 0x5a;
                    push(Duration::ZERO, reply_from(dst, &r));
                }
                Behaviour::Spoofed { from } => push(Duration::ZERO, reply_from(from, &wire::echo_reply_for(icmp))),
                Behaviour::Unreachable { router, code } => {
                    let quoted = &pkt[..pkt.len().min(20 + 8)];
                    push(
                        Duration::ZERO,
                        reply_from(router, &wire::icmp_error_v4(ErrorKind { icmp_type: 3, code }, quoted)),
                    );
                }
                Behaviour::TimeExceeded { router } => {
                    let err = wire::icmp_error_v4(ErrorKind { icmp_type: 11, code: 0 }, pkt);
                    push(Duration::ZERO, reply_from(router, &err));
                }
                Behaviour::Truncated => {
                    // The echo data cut short (a middlebox that trims), with lengths and checksums made consistent
                    // again: a packet the kernel delivers, whose payload no longer proves anything.
                    let mut r = wire::echo_reply_for(icmp);
                    r.truncate(r.len() - 12);
                    r[2..4].copy_from_slice(&[0, 0]);
                    let sum = wire::checksum(&r);
                    r[2..4].copy_from_slice(&sum.to_be_bytes());
                    push(Duration::ZERO, reply_from(dst, &r));
                }
                Behaviour::Late { after } => push(after, reply_from(dst, &wire::echo_reply_for(icmp))),
                Behaviour::ChangedId => {
                    let mut r = wire::echo_reply_for(icmp);
                    r[4] ^= 0x01;
                    r[2..4].copy_from_slice(&[0, 0]);
                    let sum = wire::checksum(&r);
                    r[2..4].copy_from_slice(&sum.to_be_bytes());
                    push(Duration::ZERO, reply_from(dst, &r));
                }
                Behaviour::IpOptions => {
                    let options = [7, 7, 4, 0, 0, 0, 0, 1]; // record route with one free slot, then end of options
                    push(Duration::ZERO, wire::ipv4_packet(dst, PINGER_ADDR, &options, &wire::echo_reply_for(icmp)));
                }
                Behaviour::Reorder => {
                    let delay = if seqno % 2 == 0 { Duration::from_millis(30) } else { Duration::from_millis(1) };
                    push(delay, reply_from(dst, &wire::echo_reply_for(icmp)));
                }
                Behaviour::RateLimited { per_second } => {
                    if now.duration_since(window.0) >= Duration::from_secs(1) {
                        window = (now, 0);
                    }
                    if window.1 < per_second {
                        window.1 += 1;
                        push(Duration::ZERO, reply_from(dst, &wire::echo_reply_for(icmp)));
                    }
                }
                Behaviour::Junk => {
                    let noise: Vec<u8> =
                        (0..40u16).map(|i| (chance(dst, seqno.wrapping_add(i), 3) * 256.0) as u8).collect();
                    let mut unknown = vec![42, 0, 0, 0, 0, 0, 0, 0];
                    unknown.extend_from_slice(&noise);
                    let sum = wire::checksum(&unknown);
                    unknown[2..4].copy_from_slice(&sum.to_be_bytes());
                    push(Duration::ZERO, reply_from(dst, &unknown));
                    let mut fake = icmp[..8].to_vec();
                    fake[0] = 0;
                    fake.extend_from_slice(&noise[..32]);
                    fake[2..4].copy_from_slice(&[0, 0]);
                    let sum = wire::checksum(&fake);
                    fake[2..4].copy_from_slice(&sum.to_be_bytes());
                    push(Duration::ZERO, reply_from(dst, &fake));
                }
            }
        }
    }
}

/// The destination and ICMP bytes of an IPv4 echo request, if `pkt` is one.
fn echo_request(pkt: &[u8]) -> Option<(Ipv4Addr, &[u8])> {
    if pkt.len() < 28 || pkt[0] >> 4 != 4 || pkt[9] != 1 {
        return None;
    }
    let ihl = usize::from(pkt[0] & 15) * 4;
    let icmp = pkt.get(ihl..)?;
    (icmp.first() == Some(&8)).then(|| (Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]), icmp))
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

fn echo_request_v6(pkt: &[u8]) -> Option<(std::net::Ipv6Addr, &[u8])> {
    if pkt.len() < 48 || pkt[0] >> 4 != 6 || pkt[6] != 58 || pkt[40] != 128 {
        return None;
    }
    let dst: [u8; 16] = pkt[24..40].try_into().ok()?;
    Some((dst.into(), &pkt[40..]))
}

/// An IPv6 packet carrying `icmp` from `src` to pinger, with the ICMPv6 checksum (pseudo-header included) set.
fn ipv6_packet(src: std::net::Ipv6Addr, icmp: &[u8]) -> Vec<u8> {
    let mut m = icmp.to_vec();
    m[2..4].copy_from_slice(&[0, 0]);
    let mut pseudo = Vec::with_capacity(40 + m.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&PINGER_ADDR6.octets());
    pseudo.extend_from_slice(&(m.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    pseudo.extend_from_slice(&m);
    let sum = wire::checksum(&pseudo);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut p = wire::ipv6_header(src, PINGER_ADDR6, m.len() as u16);
    p.extend_from_slice(&m);
    p
}

/// The answers (delay, packet) to an ICMPv6 echo request, following the same behaviours as IPv4.
fn answer_v6(
    scenario: &dyn Fn(Ipv4Addr) -> Behaviour,
    dst: std::net::Ipv6Addr,
    pkt: &[u8],
    icmp: &[u8],
    window: &mut (Instant, u32),
    now: Instant,
) -> Vec<(Duration, Vec<u8>)> {
    let key = Ipv4Addr::from(u128::from(dst) as u32);
    let seqno = u16::from_be_bytes([icmp[6], icmp[7]]);
    let reply = |from| ipv6_packet(from, &wire::echo_reply_v6_for(icmp));
    let error = |t: u8, code: u8| {
        let mut m = vec![t, code, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&pkt[..pkt.len().min(1232)]);
        ipv6_packet(ROUTER6, &m)
    };
    match scenario(key) {
        Behaviour::Answer { latency, jitter, loss } => {
            if chance(key, seqno, 1) < loss {
                return vec![];
            }
            vec![(latency + jitter.mul_f64(chance(key, seqno, 2)), reply(dst))]
        }
        Behaviour::Dead => vec![],
        Behaviour::Duplicate { copies, gap } => (0..u32::from(copies)).map(|i| (gap * i, reply(dst))).collect(),
        Behaviour::BadChecksum => {
            let mut p = reply(dst);
            p[42] ^= 0x5a;
            vec![(Duration::ZERO, p)]
        }
        Behaviour::Spoofed { .. } => vec![(Duration::ZERO, reply(ROUTER6))],
        Behaviour::Unreachable { code, .. } => vec![(Duration::ZERO, error(1, code))],
        Behaviour::TimeExceeded { .. } => vec![(Duration::ZERO, error(3, 0))],
        Behaviour::Truncated => {
            let r = wire::echo_reply_v6_for(icmp);
            vec![(Duration::ZERO, ipv6_packet(dst, &r[..r.len() - 12]))]
        }
        Behaviour::Late { after } => vec![(after, reply(dst))],
        Behaviour::ChangedId => {
            let mut r = wire::echo_reply_v6_for(icmp);
            r[4] ^= 1;
            vec![(Duration::ZERO, ipv6_packet(dst, &r))]
        }
        // IPv6 has no header options to carry here; the plain answer must count.
        Behaviour::IpOptions => vec![(Duration::ZERO, reply(dst))],
        Behaviour::Reorder => {
            let d = if seqno % 2 == 0 { Duration::from_millis(30) } else { Duration::from_millis(1) };
            vec![(d, reply(dst))]
        }
        Behaviour::RateLimited { per_second } => {
            if now.duration_since(window.0) >= Duration::from_secs(1) {
                *window = (now, 0);
            }
            if window.1 >= per_second {
                return vec![];
            }
            window.1 += 1;
            vec![(Duration::ZERO, reply(dst))]
        }
        Behaviour::Junk => {
            let noise: Vec<u8> = (0..40u16).map(|i| (chance(key, seqno.wrapping_add(i), 3) * 256.0) as u8).collect();
            let mut unknown = vec![200, 0, 0, 0, 0, 0, 0, 0];
            unknown.extend_from_slice(&noise);
            let mut fake = icmp[..8].to_vec();
            fake[0] = 129;
            fake.extend_from_slice(&noise[..32]);
            vec![(Duration::ZERO, ipv6_packet(dst, &unknown)), (Duration::ZERO, ipv6_packet(dst, &fake))]
        }
    }
}
