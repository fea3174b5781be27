//! The raw ICMP socket: opening it (socket2), its options, and batched send/receive (sendmmsg/recvmmsg).
//!
//! It decides nothing about packets; it moves bytes and kernel receive timestamps between the kernel and the
//! engine. It holds the crate's unsafe code for sockets (socket2 has no sendmmsg/recvmmsg, ICMP filters or
//! control messages), each site with its `SAFETY` note. The other `unsafe` sites are single libc calls that no
//! dependency wraps: `geteuid` (files.rs, source.rs, store/spool.rs), `flock` (files.rs), and the user switch in
//! privileges.rs.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

/// Packets per sendmmsg/recvmmsg call.
pub const BATCH: usize = 64;
/// Large enough for any ICMP error we use (routers quote at most 576 bytes) and then some.
const RX_BUF: usize = 2048;
const TX_BUF: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error(
        "raw ICMP sockets need root or CAP_NET_RAW: run as root, or grant it once with \
         `sudo setcap cap_net_raw+ep {exe}`"
    )]
    NoPermission { exe: String },
    #[error("cannot open the raw ICMP socket: {0}")]
    Open(#[source] io::Error),
    #[error("cannot set {what} on the raw ICMP socket: {source}")]
    Option { what: &'static str, source: io::Error },
}

pub struct IcmpSocket {
    sock: Socket,
    v6: bool,
}

fn setsockopt<T>(fd: RawFd, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a live reference to a T of the size we pass.
    let rc =
        unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), size_of::<T>() as libc::socklen_t) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl IcmpSocket {
    /// Opens the one IPv4 raw ICMP socket of a sweep, asking for a receive buffer of `rcvbuf` bytes.
    pub fn open_v4(rcvbuf: usize) -> Result<IcmpSocket, SocketError> {
        IcmpSocket::open(false, rcvbuf)
    }

    /// Opens the one raw ICMPv6 socket of a sweep.
    pub fn open_v6(rcvbuf: usize) -> Result<IcmpSocket, SocketError> {
        IcmpSocket::open(true, rcvbuf)
    }

    fn open(v6: bool, rcvbuf: usize) -> Result<IcmpSocket, SocketError> {
        let (domain, proto) = if v6 { (Domain::IPV6, Protocol::ICMPV6) } else { (Domain::IPV4, Protocol::ICMPV4) };
        let sock = Socket::new_raw(domain, Type::RAW, Some(proto)).map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => SocketError::NoPermission {
                exe: std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "pinger".into()),
            },
            _ => SocketError::Open(e),
        })?;
        let fd = sock.as_raw_fd();
        let opt = |what, r: io::Result<()>| r.map_err(|source| SocketError::Option { what, source });
        opt("O_NONBLOCK", sock.set_nonblocking(true))?;
        // Only echo replies and the errors we judge by; without this a raw socket on loopback also sees every
        // echo request we send (and, for IPv6, all neighbour discovery). A set bit filters its type out.
        if v6 {
            let mut filter = [u32::MAX; 8];
            for t in [129u32, 1, 2, 3] {
                filter[(t >> 5) as usize] &= !(1 << (t & 31));
            }
            opt("ICMP6_FILTER", setsockopt(fd, libc::IPPROTO_ICMPV6, 1, &filter))?;
        } else {
            let pass: u32 = (1 << 0) | (1 << 3) | (1 << 11);
            opt("ICMP_FILTER", setsockopt(fd, libc::SOL_RAW, 1, &!pass))?;
            // Don't fragment: our 60-byte requests fit every IPv4 link (68 bytes, RFC 791), and with DF the kernel
            // sets the IP identifier to 0 (RFC 6864) instead of drawing one per packet from its shared table,
            // which was 4% of a loopback sweep. PROBE, not DO: no path MTU state is kept for the hosts.
            opt("IP_MTU_DISCOVER", setsockopt(fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, &libc::IP_PMTUDISC_PROBE))?;
        }
        opt("SO_TIMESTAMPNS", setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &1i32))?;
        let want = i32::try_from(rcvbuf).unwrap_or(i32::MAX);
        // SO_RCVBUFFORCE passes net.core.rmem_max but needs CAP_NET_ADMIN; fall back to what is allowed.
        if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &want).is_err() {
            opt("SO_RCVBUF", sock.set_recv_buffer_size(rcvbuf))?;
        }
        let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &(4 << 20i32))
            .or_else(|_| sock.set_send_buffer_size(4 << 20));
        // What the kernel granted is read back when it is shown (`engine::Sockets::rcvbuf`).
        Ok(IcmpSocket { sock, v6 })
    }

    /// Lowers the receive buffer to `want` bytes where an unprivileged process may set that much
    /// (`net.core.rmem_max`, so the kernel grants what a forced buffer would have been). The sockets are opened
    /// with the largest buffer before the list, and so its size, is known; after privileges are dropped a buffer
    /// can only be made smaller without losing what was granted.
    pub fn shrink_recv_buffer(&self, want: usize) {
        let max = std::fs::read_to_string("/proc/sys/net/core/rmem_max").ok().and_then(|s| s.trim().parse().ok());
        // The kernel doubles what it is asked for (for its bookkeeping), as with the forced buffer.
        if max.is_some_and(|m: usize| want <= m) && want.saturating_mul(2) < self.recv_buffer() {
            let _ = self.sock.set_recv_buffer_size(want);
        }
    }

    pub fn recv_buffer(&self) -> usize {
        self.sock.recv_buffer_size().unwrap_or(0)
    }

    pub fn raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Sends `packets` (bytes, destination) with as few syscalls as the kernel allows. Every destination must be of
    /// this socket's family. Returns how many were sent before the first failure, and that failure if any; the
    /// caller decides what the rest become.
    pub fn send_batch(&self, bufs: &[[u8; TX_BUF]], lens: &[usize], dsts: &[IpAddr]) -> (usize, Option<io::Error>) {
        let n = lens.len().min(BATCH);
        // SAFETY: sockaddr_storage is a plain C struct of integers; all zeros is a valid value.
        let mut addrs: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
        // SAFETY: iovec is a pointer and a length; null and zero is a valid (empty) value.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        // SAFETY: mmsghdr is integers and null pointers when zeroed: a valid value, filled in below.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for i in 0..n {
            let len = match dsts[i] {
                IpAddr::V4(a) => {
                    // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in.
                    let sin =
                        unsafe { &mut *(&mut addrs[i] as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                    sin.sin_family = libc::AF_INET as libc::sa_family_t;
                    sin.sin_addr.s_addr = u32::from(a).to_be();
                    size_of::<libc::sockaddr_in>()
                }
                IpAddr::V6(a) => {
                    // SAFETY: as above, for a sockaddr_in6.
                    let sin6 =
                        unsafe { &mut *(&mut addrs[i] as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                    sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                    sin6.sin6_addr.s6_addr = a.octets();
                    size_of::<libc::sockaddr_in6>()
                }
            };
            iovs[i] = libc::iovec { iov_base: bufs[i].as_ptr() as *mut _, iov_len: lens[i] };
            msgs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            msgs[i].msg_hdr.msg_namelen = len as libc::socklen_t;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        let mut done = 0;
        while done < n {
            // SAFETY: every header points into arrays that outlive the call; `n - done` entries are initialised.
            let rc = unsafe { libc::sendmmsg(self.raw_fd(), msgs[done..].as_mut_ptr(), (n - done) as u32, 0) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return (done, Some(e));
            }
            done += rc as usize;
        }
        (done, None)
    }

    /// Receives up to [`BATCH`] packets without blocking; 0 when nothing is waiting.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        // SAFETY: iovec is a pointer and a length; null and zero is a valid (empty) value.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        // SAFETY: mmsghdr is integers and null pointers when zeroed: a valid value, filled in below.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for i in 0..BATCH {
            iovs[i] = libc::iovec { iov_base: batch.bufs[i].as_mut_ptr().cast(), iov_len: RX_BUF };
            let h = &mut msgs[i].msg_hdr;
            // An IPv4 raw socket hands over the IP header, whose source is what the kernel would copy out as the
            // sender's address (it reads it from there): taken from the packet, it costs the kernel nothing.
            if self.v6 {
                h.msg_name = (&mut batch.addrs[i] as *mut libc::sockaddr_storage).cast();
                h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            }
            h.msg_iov = &mut iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = batch.cmsgs[i].0.as_mut_ptr().cast();
            h.msg_controllen = CMSG_LEN;
        }
        loop {
            // SAFETY: every header points into `batch` or the local arrays, all alive for the call.
            let rc = unsafe {
                libc::recvmmsg(self.raw_fd(), msgs.as_mut_ptr(), BATCH as u32, libc::MSG_DONTWAIT, std::ptr::null_mut())
            };
            if rc >= 0 {
                let n = rc as usize;
                batch.from_header = !self.v6;
                for (i, m) in msgs[..n].iter().enumerate() {
                    batch.lens[i] = (m.msg_len as usize).min(RX_BUF);
                    batch.stamps[i] = kernel_stamp(&m.msg_hdr);
                }
                return Ok(n);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(0),
                _ => return Err(e),
            }
        }
    }
}

const CMSG_LEN: usize = 64;

#[repr(C, align(8))]
pub struct CmsgBuf([u8; CMSG_LEN]);

/// Buffers for one recvmmsg call, allocated once per sweep.
pub struct RecvBatch {
    bufs: Box<[[u8; RX_BUF]; BATCH]>,
    addrs: Box<[libc::sockaddr_storage; BATCH]>,
    cmsgs: Box<[CmsgBuf; BATCH]>,
    lens: [usize; BATCH],
    /// Kernel receive time (CLOCK_REALTIME, ns), if the kernel attached one.
    stamps: [Option<u64>; BATCH],
    /// The sender is the source of each packet's IPv4 header (`addrs` is not filled).
    from_header: bool,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: Box::new([[0; RX_BUF]; BATCH]),
            // SAFETY: sockaddr_storage is a plain C struct; zero is valid.
            addrs: Box::new(unsafe { zeroed() }),
            cmsgs: Box::new(std::array::from_fn(|_| CmsgBuf([0; CMSG_LEN]))),
            lens: [0; BATCH],
            stamps: [None; BATCH],
            from_header: false,
        }
    }
}

/// One received packet. A packet longer than our buffer arrives cut; the parser rejects it by its length fields.
pub struct Received<'a> {
    pub bytes: &'a [u8],
    pub from: IpAddr,
    pub stamp_realtime_ns: Option<u64>,
}

impl RecvBatch {
    pub fn get(&self, i: usize) -> Received<'_> {
        let bytes = &self.bufs[i][..self.lens[i]];
        let from = match bytes.get(12..16) {
            Some(&[a, b, c, d]) if self.from_header => Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d))),
            _ if self.from_header => None,
            _ => sockaddr_ip(&self.addrs[i]),
        };
        Received { bytes, from: from.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), stamp_realtime_ns: self.stamps[i] }
    }
}

fn sockaddr_ip(sa: &libc::sockaddr_storage) -> Option<IpAddr> {
    match i32::from(sa.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in, which it is large and aligned enough for.
            let sin = unsafe { &*(sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*(sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(sin6.sin6_addr.s6_addr.into()))
        }
        _ => None,
    }
}

fn kernel_stamp(h: &libc::msghdr) -> Option<u64> {
    // SAFETY: the kernel filled `msg_control` up to `msg_controllen`; the CMSG_* macros stay inside it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

/// Reads a clock in nanoseconds.
pub fn clock_ns(clock: libc::clockid_t) -> u64 {
    // SAFETY: timespec is a plain C struct of integers; all zeros is a valid value.
    let mut ts: libc::timespec = unsafe { zeroed() };
    // SAFETY: `ts` is a valid out-pointer; the clocks we pass always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub type TxBuf = [u8; TX_BUF];
