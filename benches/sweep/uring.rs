//! The bare sweep again, through io_uring instead of sendmmsg/recvmmsg (issue 17, item 4): the same list, socket,
//! requests and reply test as `bare.rs`, so that the two differ only in how packets cross into the kernel.
//!
//! Sends: one IORING_OP_SENDMSG per echo request, at most [`BATCH`] pushed per turn and [`SEND_SLOTS`] in flight
//! (each slot owns its packet, address and msghdr until its completion comes back). Receives: a fixed number of
//! IORING_OP_RECVMSG in the ring (armed, or MSG_DONTWAIT: [`Recv`]), each re-armed as soon as it completes. One
//! `io_uring_enter` per turn both submits and, when nothing can be sent, waits (1 ms at most) for completions;
//! while every armed receive completes, the turn re-arms them and enters again, so reading keeps up with sending.

use std::mem::{size_of, zeroed};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use io_uring::{opcode, types, IoUring};

use super::bare::{fill_echo, is_echo_reply, open_socket, read_list, sockaddr, BATCH, ECHO_LEN, GRACE, RX_LEN};

const SEND_SLOTS: usize = 256;
/// Receives in the ring at once. With armed receives, 16 read as fast and 256 slower (every armed receive is woken
/// for each packet); 64 matches the sendmmsg loop's recvmmsg batch.
const RECV_SLOTS: usize = BATCH;
/// Marks a receive's completion (its slot in the low bits); a send's user data is its slot alone.
const RECV: u64 = 1 << 63;

struct SendSlot {
    pkt: [u8; ECHO_LEN],
    sa: libc::sockaddr_in,
    iov: libc::iovec,
    msg: libc::msghdr,
    host: usize,
}

struct RecvSlot {
    buf: [u8; RX_LEN],
    iov: libc::iovec,
    msg: libc::msghdr,
}

/// How the receives wait.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Recv {
    /// Each receive stays armed until a packet comes (io_uring polls the socket for it).
    Armed,
    /// Receives carry MSG_DONTWAIT: one that finds the socket empty completes at once with EAGAIN instead of
    /// arming a poll (each armed receive costs the kernel a wake-up per packet that arrives, as a registered epoll
    /// does); each turn's submit then reads what is there, as recvmmsg does.
    DontWait,
}

impl Recv {
    pub fn parse(arg: Option<&String>) -> Recv {
        match arg.map(String::as_str) {
            Some("dontwait") => Recv::DontWait,
            _ => Recv::Armed,
        }
    }
}

/// Returns the number of echo replies received.
pub fn sweep(list: &Path, recv: Recv) -> usize {
    let addrs = read_list(list);
    let sock = open_socket();
    let fd = types::Fd(sock.as_raw_fd());
    let depth = RECV_SLOTS;
    // The completion queue is twice this: room for every operation in flight at once.
    let mut ring = IoUring::new((SEND_SLOTS + depth).next_power_of_two() as u32).expect("io_uring (Linux 5.6+)");
    // SAFETY: C structs and byte arrays, for which all zeroes is valid. The vectors are never resized after the
    // pointers into them are set, so each msghdr keeps pointing at its own slot.
    let mut sends: Vec<SendSlot> = (0..SEND_SLOTS).map(|_| unsafe { zeroed() }).collect();
    let mut recvs: Vec<RecvSlot> = (0..depth).map(|_| unsafe { zeroed() }).collect();
    for s in &mut sends {
        s.iov = libc::iovec { iov_base: s.pkt.as_mut_ptr().cast(), iov_len: ECHO_LEN };
        s.msg.msg_name = (&mut s.sa as *mut libc::sockaddr_in).cast();
        s.msg.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
        s.msg.msg_iov = &mut s.iov;
        s.msg.msg_iovlen = 1;
    }
    for r in &mut recvs {
        r.iov = libc::iovec { iov_base: r.buf.as_mut_ptr().cast(), iov_len: RX_LEN };
        r.msg.msg_iov = &mut r.iov;
        r.msg.msg_iovlen = 1;
    }
    let flags = if recv == Recv::DontWait { libc::MSG_DONTWAIT as u32 } else { 0 };
    let arm = |ring: &mut IoUring, recvs: &mut [RecvSlot], i: usize| {
        let sqe = opcode::RecvMsg::new(fd, &mut recvs[i].msg).flags(flags).build().user_data(RECV | i as u64);
        // SAFETY: the slot's buffer and msghdr live until the ring is dropped; the queue has room (see `new`).
        unsafe { ring.submission().push(&sqe).expect("submission queue full") };
    };
    for i in 0..depth {
        arm(&mut ring, &mut recvs, i);
    }
    let mut free: Vec<usize> = (0..SEND_SLOTS).rev().collect();
    let mut retry: Vec<usize> = Vec::new();
    let mut rearm: Vec<usize> = Vec::with_capacity(depth);
    let mut next = 0usize;
    let mut received = 0usize;
    let mut last_send = Instant::now();
    let wait = types::Timespec::from(Duration::from_millis(1));
    while received < addrs.len() {
        let mut queued = 0;
        while queued < BATCH && !free.is_empty() {
            let host = match retry.pop() {
                Some(h) => h,
                None if next < addrs.len() => {
                    next += 1;
                    next - 1
                }
                None => break,
            };
            let slot = free.pop().unwrap_or_default();
            let s = &mut sends[slot];
            fill_echo(&mut s.pkt, host);
            s.sa = sockaddr(addrs[host]);
            s.host = host;
            let sqe = opcode::SendMsg::new(fd, &s.msg).build().user_data(slot as u64);
            // SAFETY: the slot stays untouched until its completion returns it to `free`.
            unsafe { ring.submission().push(&sqe).expect("submission queue full") };
            queued += 1;
        }
        let idle = free.len() == SEND_SLOTS && next == addrs.len() && retry.is_empty();
        if idle && last_send.elapsed() > GRACE {
            break;
        }
        let mut submitted = if queued > 0 {
            ring.submit()
        } else if flags != 0 {
            std::thread::sleep(Duration::from_micros(100)); // nothing armed to wake us: look again later
            ring.submit()
        } else {
            ring.submitter().submit_with_args(1, &types::SubmitArgs::new().timespec(&wait))
        };
        // As the sendmmsg loop drains recvmmsg until a short batch after each send: while every armed receive
        // completed, more replies may be waiting, so re-arm and look again before the next batch of sends (a
        // ring that sent faster than it read would lose replies to a full socket buffer).
        loop {
            match submitted {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => {}
                Err(e) => panic!("io_uring_enter: {e}"),
            }
            let mut read = 0;
            for cqe in ring.completion() {
                let (data, res) = (cqe.user_data(), cqe.result());
                if data & RECV != 0 {
                    let i = (data & !RECV) as usize;
                    if res > 0 {
                        read += 1;
                        received += usize::from(is_echo_reply(&recvs[i].buf, res as usize));
                    }
                    rearm.push(i);
                } else {
                    let slot = data as usize;
                    if res < 0 {
                        retry.push(sends[slot].host); // EAGAIN, ENOBUFS: send it again
                    } else {
                        last_send = Instant::now();
                    }
                    free.push(slot);
                }
            }
            for i in rearm.drain(..) {
                arm(&mut ring, &mut recvs, i);
            }
            if read < depth {
                break;
            }
            submitted = ring.submit();
        }
    }
    received
}
