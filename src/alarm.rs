//! The driver's alarm: a timerfd on CLOCK_MONOTONIC (the driver's timeline) that the event loop sleeps on beside
//! the sockets. mio's own timeout counts whole milliseconds, rounded up, so a sleep until a deadline a quarter
//! of a millisecond away (a tick of the prober's timer wheel, the end of a duplicate window, the next token of
//! `--rate`) lasted a millisecond or more; the timerfd rings at the nanosecond it is set to.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::time::Time;

pub struct Alarm {
    fd: OwnedFd,
}

impl Alarm {
    pub fn new() -> io::Result<Alarm> {
        // SAFETY: a plain syscall with constant flags; the descriptor it returns is owned by nothing else.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is closed only by the OwnedFd.
        Ok(Alarm { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Rings (the descriptor becomes readable) at `at` on CLOCK_MONOTONIC, at once if that has passed; `None`
    /// silences it. Setting it again replaces the earlier time and clears a ring not yet heard.
    pub fn set(&self, at: Option<Time>) -> io::Result<()> {
        // An all-zero value disarms; a time in the past (1 ns after boot is one) rings at once.
        let ns = at.map_or(0, |t| t.0.max(1));
        let value = libc::timespec { tv_sec: (ns / 1_000_000_000) as libc::time_t, tv_nsec: (ns % 1_000_000_000) as _ };
        let spec = libc::itimerspec { it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 }, it_value: value };
        // SAFETY: our descriptor, a valid itimerspec, no old value asked for.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::clock_ns;
    use std::time::Duration;

    fn rang(a: &Alarm) -> bool {
        let mut pfd = libc::pollfd { fd: a.raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd of ours, no wait.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    }

    #[test]
    fn it_rings_at_the_time_set_not_before_and_setting_it_again_clears_a_ring() {
        let a = Alarm::new().expect("timerfd");
        let now = Time(clock_ns(libc::CLOCK_MONOTONIC));
        a.set(Some(now + Duration::from_millis(300))).unwrap();
        assert!(!rang(&a), "rang 300 ms early");
        a.set(Some(now)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
        assert!(rang(&a), "a time that has passed rings at once");
        a.set(Some(now + Duration::from_secs(3600))).unwrap();
        assert!(!rang(&a), "setting it again clears the ring");
        a.set(None).unwrap();
        assert!(!rang(&a));
        // Sub-millisecond: what mio's timeout cannot do.
        let t = Time(clock_ns(libc::CLOCK_MONOTONIC)) + Duration::from_micros(200);
        a.set(Some(t)).unwrap();
        let mut pfd = libc::pollfd { fd: a.raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd of ours; the 1 s timeout is only a bound.
        assert_eq!(unsafe { libc::poll(&mut pfd, 1, 1000) }, 1);
        assert!(clock_ns(libc::CLOCK_MONOTONIC) >= t.0, "rang before its time");
    }
}
