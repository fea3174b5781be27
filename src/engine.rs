//! The I/O driver: the raw sockets (one per address family, IPv4 and IPv6), one `mio::Poll`, the clock, and the
//! [`Prober`]. Nothing clever happens here.
//!
//! Each turn: drain each socket into `handle_packet` (kernel timestamps when present; at most [`DRAIN_BATCHES`]
//! batches), expire timers, send one batch per family while `poll_transmit` gives packets, hand finished hosts to
//! the caller, then sleep until a socket is readable or the prober's next deadline. Sends the kernel pushes back on
//! go back to the prober (`defer`), never dropped.

use std::io;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::alarm::Alarm;
use crate::outcome::HostResult;
use crate::probe::{Prober, Transmit};
use crate::socket::{clock_ns, IcmpSocket, RecvBatch, TxBuf, BATCH};
use crate::time::Time;

/// The sweep's raw sockets: one per address family that the list holds.
#[derive(Default)]
pub struct Sockets {
    pub v4: Option<IcmpSocket>,
    pub v6: Option<IcmpSocket>,
}

impl Sockets {
    fn all(&self) -> impl Iterator<Item = &IcmpSocket> {
        self.v4.iter().chain(self.v6.iter())
    }

    /// The receive buffer the kernel granted (the larger of the two sockets').
    pub fn rcvbuf(&self) -> usize {
        self.all().map(IcmpSocket::recv_buffer).max().unwrap_or(0)
    }
}
/// How long to wait before retrying after the kernel ran out of buffers (ENOBUFS gives no readiness event).
const BACKOFF: Duration = Duration::from_millis(1);
/// Batches of [`BATCH`] packets one turn reads at most. A raw socket sees every ICMP packet of the machine: under
/// a flood (another program's, or an attack) it never runs dry, and a loop that read until it did never sent
/// again nor expired a timer, so the sweep never ended. 1024 packets is far more than the replies to one turn's
/// batch of probes, so a sweep that is not flooded never meets the cap.
pub const DRAIN_BATCHES: usize = 16;
/// Finished hosts handed to the consumer at once (or every [`HANDOVER_EVERY`]). Whatever is left when the sweep
/// ends is printed after it: 1,024 hosts' lines are about 0.15 ms of the output thread's work (4,096 were 0.6).
pub const HANDOVER_HOSTS: usize = 1024;
pub const HANDOVER_EVERY: Duration = Duration::from_millis(50);

/// The driver's timeline: CLOCK_MONOTONIC, plus the offset that maps kernel receive stamps (CLOCK_REALTIME)
/// onto it.
pub struct Clock {
    offset: i128,
}

impl Default for Clock {
    fn default() -> Self {
        let mut c = Clock { offset: 0 };
        c.recalibrate();
        c
    }
}

impl Clock {
    pub fn now(&self) -> Time {
        Time(clock_ns(libc::CLOCK_MONOTONIC))
    }

    /// Samples REALTIME between two MONOTONIC reads and keeps the tightest of a few tries: a thread preempted
    /// between the reads would otherwise shift every converted stamp by the time it was away (seen as zero RTTs
    /// on a loaded machine).
    fn recalibrate(&mut self) {
        let mut best: Option<(u64, i128)> = None;
        for _ in 0..4 {
            let before = clock_ns(libc::CLOCK_MONOTONIC);
            let real = clock_ns(libc::CLOCK_REALTIME);
            let after = clock_ns(libc::CLOCK_MONOTONIC);
            let width = after.saturating_sub(before);
            let offset = i128::from(real) - i128::from(before + width / 2);
            if best.is_none_or(|(w, _)| width < w) {
                best = Some((width, offset));
            }
            if width < 2_000 {
                break;
            }
        }
        if let Some((width, offset)) = best {
            // A bracket wider than 50 µs is not worth trusting over the last good offset.
            if width < 50_000 || self.offset == 0 {
                self.offset = offset;
            }
        }
    }

    /// A kernel receive stamp on our timeline.
    fn realtime_to_time(&self, ns: u64) -> Time {
        Time((i128::from(ns) - self.offset).max(0) as u64)
    }

    /// The wall-clock time (ns since the Unix epoch) of a point on our timeline.
    pub fn to_unix_ns(&self, t: Time) -> i128 {
        i128::from(t.0) + self.offset
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("event loop: {0}")]
    Poll(#[source] io::Error),
    #[error("receiving from the raw socket: {0}")]
    Recv(#[source] io::Error),
}

/// Runs the sweep to the end. Hosts whose verdict became final are handed over in batches (every
/// [`HANDOVER_HOSTS`] hosts or [`HANDOVER_EVERY`], whichever comes first), so that the consumer, another thread,
/// is woken a few times per second and not once per host; it may keep the vector.
/// `stop` (set by SIGINT/SIGTERM) ends the sweep early: hosts already final are handed over, the rest are not
/// reported.
pub fn sweep(
    socks: &Sockets,
    prober: &mut Prober,
    clock: &mut Clock,
    stop: &std::sync::atomic::AtomicBool,
    mut on_results: impl FnMut(&mut Vec<HostResult>),
) -> Result<(), EngineError> {
    let mut poll = Poll::new().map_err(EngineError::Poll)?;
    // The alarm stays registered: it costs the kernel nothing until it rings.
    let alarm = Alarm::new().map_err(EngineError::Poll)?;
    let alarm_token = Token(usize::MAX);
    poll.registry()
        .register(&mut SourceFd(&alarm.raw_fd()), alarm_token, Interest::READABLE)
        .map_err(EngineError::Poll)?;
    let fds: Vec<std::os::fd::RawFd> = socks.all().map(IcmpSocket::raw_fd).collect();
    // The sockets are registered with epoll only while the loop sleeps: a registered socket costs the kernel an
    // epoll callback (a lock and a wake-up) for every packet it queues and every send buffer it frees, which is
    // 5-10% of a loopback sweep. While the loop is busy sending it drains the sockets after each batch anyway.
    let mut registered = false;
    let mut events = Events::with_capacity(8);
    let mut rx = RecvBatch::default();
    let mut tx = [TxBatch::default(), TxBatch::default()];
    let mut scratch: TxBuf = [0; 64];
    let mut done = Vec::with_capacity(HANDOVER_HOSTS);
    let mut handed_over = clock.now();
    while !prober.is_done() && !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let mut backlog = None::<Time>;
        for sock in socks.all() {
            if let Drained::Capped { read_until } = drain(sock, prober, clock, &mut rx)? {
                backlog = Some(backlog.map_or(read_until, |t| t.min(read_until)));
            }
        }
        // Timers run only as far as the sockets have been read: a reply still queued behind a flood may have come
        // in before its probe's deadline, and once the deadline has fired it would no longer be credited.
        prober.handle_timeout(backlog.map_or_else(|| clock.now(), |t| t.min(clock.now())));
        let blocked = send(socks, prober, clock, &mut tx, &mut scratch);
        let now = clock.now();
        while let Some(r) = prober.poll_result() {
            // A turn that finishes more hosts than a handover holds (timers firing together after a stall) hands
            // them over in handovers rather than growing the vector: grown, it is fresh memory, a page fault every
            // 4 KB.
            if done.len() >= HANDOVER_HOSTS {
                on_results(&mut done);
                done.clear();
                handed_over = now;
            }
            done.push(r);
        }
        if prober.is_done() || done.len() >= HANDOVER_HOSTS || now.since(handed_over) >= HANDOVER_EVERY {
            if !done.is_empty() {
                on_results(&mut done);
                done.clear();
            }
            handed_over = now;
        }
        if prober.is_done() {
            break;
        }
        let mut wait = prober.poll_timeout().map(|t| t.since(now));
        if !done.is_empty() {
            // Results waiting for the next handover must not wait longer than that.
            let due = (handed_over + HANDOVER_EVERY).since(now);
            wait = Some(wait.map_or(due, |w| w.min(due)));
        }
        if blocked {
            wait = Some(wait.map_or(BACKOFF, |w| w.min(BACKOFF)));
        }
        if backlog.is_some() || (!blocked && wait == Some(Duration::ZERO)) {
            if registered {
                for fd in &fds {
                    poll.registry().deregister(&mut SourceFd(fd)).map_err(EngineError::Poll)?;
                }
                registered = false;
            }
            continue; // more to read or to send right now: skip the poll syscall
        }
        if !registered {
            for (i, fd) in fds.iter().enumerate() {
                poll.registry().register(&mut SourceFd(fd), Token(i), Interest::READABLE).map_err(EngineError::Poll)?;
            }
            registered = true;
            // A packet may have arrived since the drain, before the registration: look before sleeping, and if
            // anything came, go round again (it may have set an earlier wake-up than `wait`).
            let before = prober.stats().received;
            for sock in socks.all() {
                drain(sock, prober, clock, &mut rx)?;
            }
            if prober.stats().received != before {
                continue;
            }
        }
        // The alarm wakes the loop at the deadline itself; mio's timeout (whole milliseconds, rounded up) is the
        // backstop.
        alarm.set(wait.map(|w| now + w)).map_err(EngineError::Poll)?;
        match poll.poll(&mut events, wait.or(Some(Duration::from_secs(1)))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(EngineError::Poll(e)),
        }
    }
    // Whatever became final in the last turn, however the loop ended.
    done.extend(std::iter::from_fn(|| prober.poll_result()));
    if !done.is_empty() {
        on_results(&mut done);
    }
    Ok(())
}

/// How far a drain got.
enum Drained {
    /// The socket ran dry.
    Empty,
    /// [`DRAIN_BATCHES`] were read and more may wait; every packet still queued came in after `read_until`, the
    /// receive time of the last one read.
    Capped { read_until: Time },
}

/// Reads what is waiting on the socket, at most [`DRAIN_BATCHES`] batches.
fn drain(
    sock: &IcmpSocket,
    prober: &mut Prober,
    clock: &mut Clock,
    rx: &mut RecvBatch,
) -> Result<Drained, EngineError> {
    clock.recalibrate();
    let mut read_until = Time::ZERO;
    for _ in 0..DRAIN_BATCHES {
        let n = sock.recv_batch(rx).map_err(EngineError::Recv)?;
        let fallback = clock.now();
        for i in 0..n {
            let pkt = rx.get(i);
            let at = pkt.stamp_realtime_ns.map_or(fallback, |ns| clock.realtime_to_time(ns));
            read_until = read_until.max(at);
            // A packet cut by our buffer is passed on as is; the parser rejects it by its length fields.
            prober.handle_packet(at, pkt.from, pkt.bytes);
        }
        if n < BATCH {
            return Ok(Drained::Empty);
        }
    }
    Ok(Drained::Capped { read_until })
}

/// Echo requests of one family waiting for one sendmmsg.
#[derive(Default)]
struct TxBatch {
    bufs: Vec<TxBuf>,
    lens: Vec<usize>,
    dsts: Vec<std::net::IpAddr>,
    sent: Vec<Transmit>,
}

impl TxBatch {
    fn clear(&mut self) {
        if self.bufs.is_empty() {
            self.bufs = vec![[0; 64]; BATCH];
        }
        self.lens.clear();
        self.dsts.clear();
        self.sent.clear();
    }
}

/// Sends one batch per family. Returns true when the kernel pushed back and the caller should wait before
/// sending more.
fn send(socks: &Sockets, prober: &mut Prober, clock: &Clock, tx: &mut [TxBatch; 2], scratch: &mut TxBuf) -> bool {
    tx[0].clear();
    tx[1].clear();
    // Under a rate limit each probe goes out on its own, right after its send time is taken: in a batch the
    // later packets leave after the earlier ones' syscall work, and their RTTs would read that much long. At
    // --rate 0 throughput wins and batches are full, with one send time for the batch: the clock read per
    // probe (a twentieth of the loop's own work) told apart the moments each was written, 0.2 us apart, while
    // sendmmsg puts them on the wire 1-2 us apart after that, which no time taken before the call can tell.
    let max = if prober.rate_limited() { 1 } else { BATCH };
    let now = clock.now();
    while tx[0].sent.len() < max && tx[1].sent.len() < max {
        let Some(t) = prober.poll_transmit(now, scratch) else { break };
        let b = &mut tx[usize::from(t.dst.is_ipv6())];
        let i = b.sent.len();
        b.bufs[i][..t.len].copy_from_slice(&scratch[..t.len]);
        b.lens.push(t.len);
        b.dsts.push(t.dst);
        b.sent.push(t);
    }
    let mut blocked = false;
    for (b, sock) in tx.iter().zip([socks.v4.as_ref(), socks.v6.as_ref()]) {
        let mut start = 0;
        while start < b.sent.len() {
            let (n, err) = match sock {
                Some(sock) => sock.send_batch(&b.bufs[start..], &b.lens[start..], &b.dsts[start..]),
                None => (0, Some(std::io::Error::from_raw_os_error(libc::EAFNOSUPPORT))),
            };
            start += n;
            let Some(e) = err else { continue };
            match e.raw_os_error() {
                Some(libc::EAGAIN | libc::ENOBUFS) => {
                    // Put the unsent back in their order: the last deferred goes to the front of the queue first.
                    for t in b.sent[start..].iter().rev() {
                        prober.defer(t.tag);
                    }
                    blocked = true;
                    break;
                }
                errno => {
                    // This destination cannot be sent to (no route, forbidden): the host is unreachable from here.
                    prober.send_failed(clock.now(), b.sent[start].tag, errno.unwrap_or(libc::EIO));
                    start += 1;
                }
            }
        }
    }
    blocked
}
