//! The bare sendmmsg/recvmmsg sweep, and what the io_uring (`uring.rs`) and two-thread (`split.rs`) variants
//! share with it: the list, the socket, the echo request, the reply test (and for `split.rs` the batched send and
//! receive). No tags, no matching, no timestamps, no output: our physical limit on the same kernel path pinger
//! uses.

use std::io::{BufRead, BufReader};
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

pub const BATCH: usize = 64;
/// Echo request: 8 bytes of header, 32 of payload (pinger's own size).
pub const ECHO_LEN: usize = 40;
/// Large enough for any echo reply to our requests (IP header with options, ICMP header, payload).
pub const RX_LEN: usize = 2048;
/// How long a sweep waits for missing replies after its last send.
pub const GRACE: Duration = Duration::from_secs(1);

pub fn read_list(list: &Path) -> Vec<Ipv4Addr> {
    let f = std::fs::File::open(list).expect("open list");
    BufReader::new(f).lines().map_while(Result::ok).filter_map(|l| l.trim().parse().ok()).collect()
}

/// A raw ICMP socket that lets only echo replies through, with pinger's largest receive buffer.
pub fn open_socket() -> socket2::Socket {
    let sock = socket2::Socket::new_raw(socket2::Domain::IPV4, socket2::Type::RAW, Some(socket2::Protocol::ICMPV4))
        .expect("raw socket (run as root)");
    sock.set_nonblocking(true).expect("nonblocking");
    let fd = sock.as_raw_fd();
    let filter: u32 = !1; // echo replies only
    let big: i32 = 64 << 20;
    // SAFETY: plain setsockopt calls with values of the size passed.
    unsafe {
        libc::setsockopt(fd, libc::SOL_RAW, 1, (&filter as *const u32).cast(), 4);
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, (&big as *const i32).cast(), 4);
    }
    sock
}

/// Writes the `k`th echo request of the sweep into `p` (identifier and sequence from `k`, so no two are alike).
pub fn fill_echo(p: &mut [u8; ECHO_LEN], k: usize) {
    p[0] = 8;
    p[2..4].copy_from_slice(&[0, 0]);
    p[4..6].copy_from_slice(&((k >> 16) as u16).to_be_bytes());
    p[6..8].copy_from_slice(&(k as u16).to_be_bytes());
    let sum = pinger::wire::checksum(&p[..]);
    p[2..4].copy_from_slice(&sum.to_be_bytes());
}

/// A received packet of `len` bytes (IPv4 header first, as a raw socket delivers) is an echo reply.
pub fn is_echo_reply(b: &[u8], len: usize) -> bool {
    len >= 28 && b[usize::from(b[0] & 15) * 4] == 0
}

pub fn sockaddr(a: Ipv4Addr) -> libc::sockaddr_in {
    // SAFETY: a C struct for which all zeroes is valid.
    let mut sa: libc::sockaddr_in = unsafe { zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_addr.s_addr = u32::from(a).to_be();
    sa
}

/// Room for one SCM_TIMESTAMPNS control message (as pinger's receive path reserves).
pub const CMSG_LEN: usize = 64;

/// Sends the next batch of echo requests (at most [`BATCH`], from `addrs[sent]` on) with one sendmmsg; returns how
/// many the kernel took.
#[inline(always)]
pub fn send_next(fd: i32, addrs: &[Ipv4Addr], sent: usize, pkts: &mut [[u8; ECHO_LEN]]) -> usize {
    let n = (addrs.len() - sent).min(BATCH);
    // SAFETY: C structs, zero-initialised, pointing into vectors that outlive the call.
    let mut sas: [libc::sockaddr_in; BATCH] = unsafe { zeroed() };
    let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
    for i in 0..n {
        let k = sent + i;
        fill_echo(&mut pkts[i], k);
        sas[i] = sockaddr(addrs[k]);
        iovs[i] = libc::iovec { iov_base: pkts[i].as_mut_ptr().cast(), iov_len: ECHO_LEN };
        msgs[i].msg_hdr.msg_name = (&mut sas[i] as *mut libc::sockaddr_in).cast();
        msgs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
        msgs[i].msg_hdr.msg_iov = &mut iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `n` headers initialised above.
    let rc = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), n as u32, 0) };
    rc.max(0) as usize
}

/// Reads what waits on the socket with one recvmmsg (MSG_DONTWAIT), with room for a timestamp in `control` when
/// given. Returns how many packets were read (0: none waited) and how many of them are echo replies.
#[inline(always)]
pub fn recv_once(fd: i32, rxbufs: &mut [[u8; RX_LEN]], mut control: Option<&mut [[u8; CMSG_LEN]]>) -> (usize, usize) {
    // SAFETY: C structs, zero-initialised, pointing into vectors that outlive the call.
    let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
    for i in 0..BATCH {
        iovs[i] = libc::iovec { iov_base: rxbufs[i].as_mut_ptr().cast(), iov_len: RX_LEN };
        let h = &mut msgs[i].msg_hdr;
        h.msg_iov = &mut iovs[i];
        h.msg_iovlen = 1;
        if let Some(control) = control.as_deref_mut() {
            h.msg_control = control[i].as_mut_ptr().cast();
            h.msg_controllen = CMSG_LEN;
        }
    }
    // SAFETY: as above.
    let rc = unsafe { libc::recvmmsg(fd, msgs.as_mut_ptr(), BATCH as u32, libc::MSG_DONTWAIT, std::ptr::null_mut()) };
    if rc <= 0 {
        return (0, 0);
    }
    let n = rc as usize;
    let replies =
        msgs[..n].iter().zip(rxbufs.iter()).filter(|(m, b)| is_echo_reply(&b[..], m.msg_len as usize)).count();
    (n, replies)
}

/// The bare sweep: sendmmsg batches of [`BATCH`], drain recvmmsg after each batch, stop when every reply came or
/// [`GRACE`] after the last send. Returns the number of echo replies received. `stamped`: the socket asks for
/// what pinger's IPv4 socket does on every receive, a kernel timestamp (SO_TIMESTAMPNS, as a control message; the
/// sender comes from the IP header, as in pinger), to tell what that costs the kernel apart from pinger's own work.
pub fn sweep(list: &Path, stamped: bool) -> usize {
    let addrs = read_list(list);
    let sock = open_socket();
    let fd = sock.as_raw_fd();
    if stamped {
        // SAFETY: a plain setsockopt with an int.
        unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, (&1i32 as *const i32).cast(), 4) };
    }
    let mut control = vec![[0u8; CMSG_LEN]; BATCH];
    let mut pkts = vec![[0u8; ECHO_LEN]; BATCH];
    let mut rxbufs = vec![[0u8; RX_LEN]; BATCH];
    let mut received = 0usize;
    let mut sent = 0usize;
    let mut last_send = Instant::now();
    while received < addrs.len() {
        if sent < addrs.len() {
            let n = send_next(fd, &addrs, sent, &mut pkts);
            if n > 0 {
                sent += n;
                last_send = Instant::now();
            }
        } else if last_send.elapsed() > GRACE {
            break;
        }
        loop {
            let (n, replies) = recv_once(fd, &mut rxbufs, if stamped { Some(&mut control) } else { None });
            received += replies;
            if n < BATCH {
                break;
            }
        }
        if sent == addrs.len() && received < addrs.len() {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    received
}
