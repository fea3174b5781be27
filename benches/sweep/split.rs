//! The bare sweep split over two threads: this one sends (sendmmsg batches, never reading), a second one on the
//! other core receives (recvmmsg with MSG_DONTWAIT and room for a timestamp, spinning between calls or, with
//! `nap`, sleeping 200 us). On loopback the sender's syscall does the kernel's whole echo round (request, the
//! kernel's reply, its delivery to the socket); only the receive syscalls can move to the other core. This
//! measures what that would be worth before pinger's single event loop is changed for it.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::bare::{open_socket, read_list, recv_once, send_next, BATCH, CMSG_LEN, ECHO_LEN, GRACE, RX_LEN};

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
            sent += send_next(fd, &addrs, sent, &mut pkts);
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
        let (n, replies) = recv_once(fd, &mut rxbufs, Some(&mut control));
        if n > 0 {
            received += replies;
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
