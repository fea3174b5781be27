//! The bare sweep split over two threads: this one sends (sendmmsg batches, never reading), a second one on the
//! other core receives (recvmmsg with MSG_DONTWAIT, spinning between calls or, with `nap`, sleeping 200 us). On loopback the sender's syscall does the kernel's
//! whole echo round (request, the kernel's reply, its delivery to the socket); only the receive syscalls can move
//! to the other core. This measures what that would be worth before pinger's single event loop is changed for it.

use std::mem::{size_of, zeroed};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::bare::{fill_echo, is_echo_reply, open_socket, read_list, sockaddr, BATCH, ECHO_LEN, GRACE, RX_LEN};

/// Room for one SCM_TIMESTAMPNS control message (as pinger's receive path reserves).
const CMSG_LEN: usize = 64;

/// Sends every echo request from this thread while another thread counts the replies; returns the count.
/// `stamped`: the socket asks for kernel receive timestamps, as pinger's does. `nap`: the receiver sleeps 200 us
/// when the socket is empty instead of spinning, so it reads in bursts.
pub fn sweep(list: &Path, stamped: bool, nap: bool) -> usize {
    let addrs = read_list(list);
    let sock = open_socket();
    let fd = sock.as_raw_fd();
    if stamped {
        // SAFETY: a plain setsockopt with an int.
        unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, (&1i32 as *const i32).cast(), 4) };
    }
    let want = addrs.len();
    let sent_all = AtomicBool::new(false);
    std::thread::scope(|s| {
        let receiver = s.spawn(|| receive(fd, want, &sent_all, nap));
        let mut pkts = vec![[0u8; ECHO_LEN]; BATCH];
        let mut sent = 0;
        while sent < addrs.len() {
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
            if rc > 0 {
                sent += rc as usize;
            }
        }
        sent_all.store(true, Ordering::Release);
        receiver.join().expect("receiver thread")
    })
}

/// Counts echo replies until `want` came, or [`GRACE`] after the sender finished.
fn receive(fd: i32, want: usize, sent_all: &AtomicBool, nap: bool) -> usize {
    let mut rxbufs = vec![[0u8; RX_LEN]; BATCH];
    let mut control = vec![[0u8; CMSG_LEN]; BATCH];
    let mut received = 0;
    let mut done_at: Option<Instant> = None;
    while received < want {
        // SAFETY: C structs, zero-initialised, pointing into vectors that outlive the call.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for i in 0..BATCH {
            iovs[i] = libc::iovec { iov_base: rxbufs[i].as_mut_ptr().cast(), iov_len: RX_LEN };
            let h = &mut msgs[i].msg_hdr;
            h.msg_iov = &mut iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = control[i].as_mut_ptr().cast();
            h.msg_controllen = CMSG_LEN;
        }
        // SAFETY: as above.
        let rc =
            unsafe { libc::recvmmsg(fd, msgs.as_mut_ptr(), BATCH as u32, libc::MSG_DONTWAIT, std::ptr::null_mut()) };
        if rc > 0 {
            received += msgs[..rc as usize]
                .iter()
                .zip(&rxbufs)
                .filter(|(m, b)| is_echo_reply(&b[..], m.msg_len as usize))
                .count();
            continue;
        }
        if sent_all.load(Ordering::Acquire) {
            let at = *done_at.get_or_insert_with(Instant::now);
            if at.elapsed() > GRACE {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        } else if nap {
            std::thread::sleep(Duration::from_micros(200));
        } else {
            std::hint::spin_loop();
        }
    }
    received
}
