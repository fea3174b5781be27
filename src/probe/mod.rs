//! The sans-IO sweep core: [`Prober`].
//!
//! It is handed host addresses, bytes and times, and answers with echo requests to send, the time it wants to be
//! woken, and final per-host results. It never touches a socket, a clock or a thread, so every hostile packet a
//! network can deliver is a unit test (`tests.rs`) that runs in microseconds without root.
//!
//! This file holds the prober's state, sending, timers and verdicts; `reply.rs` the rules for crediting a reply
//! or an ICMP error (and nowhere else); `tag.rs` the keyed identifiers and check values, `inflight.rs` the table
//! of outstanding probes, `wheel.rs` the timer wheel, `rate.rs` the token bucket, `window.rs` the state of the
//! hosts being probed (and of no other).

mod inflight;
mod rate;
mod reply;
pub mod tag;
mod wheel;
mod window;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use crate::outcome::{HostResult, ProbeError, Rtt, Stats, Status};
use crate::targets::Addrs;
use crate::time::Time;
use crate::wire::{EchoPayload, EchoRequest};
use inflight::{Flight, Inflight};
use rate::Bucket;
pub use tag::{Key, Tag};
use wheel::Wheel;
use window::Window;

/// Index of a host in the list the prober was built with.
pub type HostId = u32;

/// How to probe. Every default lives in `config.rs`; this is only the validated shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    pub timeout: Duration,
    pub probes: u16,
    pub interval: Duration,
    /// Packets per second; 0 = as fast as the driver can send.
    pub rate: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProbeSetupError {
    #[error("{hosts} hosts x {probes} probes exceeds the 2^32 probes one run can tag; split the list")]
    TooManyProbes { hosts: usize, probes: u16 },
    #[error("--probes must be at least 1")]
    NoProbes,
}

/// One echo request to put on the wire: `len` bytes at the start of the caller's buffer, to `dst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub host: HostId,
    pub tag: Tag,
    pub dst: IpAddr,
    pub len: usize,
}

/// Timers of consecutive hosts due in the same tick share one entry of the wheel: the probes of a batch leave
/// together (one send time at `--rate 0`) and, on a fast network, their replies come back together and in order.
/// A timer per host was a third of the wheel's work and most of the sweep's page faults (slots growing).
#[derive(Clone, Copy, Debug)]
enum Timer {
    /// The deadlines of probe `probe` to the `hosts`.
    Deadlines { probe: u16, hosts: Hosts },
    /// Release this probe of the host, if it is still the next one and its predecessor really left an interval ago.
    Resend(HostId, u16),
    /// The duplicate windows after the `hosts`' last replies have passed.
    Settle(Hosts),
}

impl Timer {
    /// Takes `next` in when both are runs of the same kind and `next`'s host follows this run's last (the wheel's
    /// `insert_or_merge` offers it the entry inserted last into the same tick).
    fn absorb(&mut self, next: Timer) -> bool {
        match (self, next) {
            (Timer::Deadlines { probe, hosts }, Timer::Deadlines { probe: p, hosts: n }) if *probe == p => {
                hosts.extend(n.first)
            }
            (Timer::Settle(hosts), Timer::Settle(n)) => hosts.extend(n.first),
            _ => false,
        }
    }
}

/// Up to 255 consecutive hosts.
#[derive(Clone, Copy, Debug)]
struct Hosts {
    first: HostId,
    count: u8,
}

impl Hosts {
    fn one(host: HostId) -> Hosts {
        Hosts { first: host, count: 1 }
    }

    /// Takes in `host` if it is the next one and there is room.
    fn extend(&mut self, host: HostId) -> bool {
        let next = self.count < u8::MAX && u64::from(self.first) + u64::from(self.count) == u64::from(host);
        self.count += u8::from(next);
        next
    }

    fn iter(self) -> impl Iterator<Item = HostId> {
        (0..u32::from(self.count)).map(move |i| self.first + i)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct HostState {
    /// Probes not yet handed to the driver.
    pending: u16,
    /// The next probe a `Resend` may release; lower ones are already due or sent. The wheel cannot take a timer
    /// back, so a send the kernel pushed back leaves its `Resend` behind when the retry arms another: once one
    /// has released the probe, any other finds it below this and does nothing.
    next: u16,
    /// Probes sent and not yet answered or expired.
    outstanding: u16,
    /// Probes handed to the kernel, whether it took them or refused them (`refused`).
    sent: u16,
    /// Sends the kernel refused for good (no route, a firewall's reject or drop on output): sent and lost.
    refused: u16,
    received: u16,
    duplicates: u16,
    late: u16,
    /// Waiting out the duplicate window after the last reply.
    settling: bool,
    done: bool,
    rtt_sum: u64,
    rtt_min: u64,
    rtt_max: u64,
}

/// The timer wheel's tick: timers fire at most this late. A quarter millisecond, so that the duplicate window
/// after a sweep's last reply ([`reply::SETTLE_MIN`]) ends within a quarter of its length.
const TICK: Duration = Duration::from_micros(250);

/// Entries the in-flight table starts with (see [`Prober::new`]): 512 buckets, 16 KB, within the first-level
/// cache. A loopback sweep at full speed holds one or two batches in flight; at 4,096 entries (256 KB) the
/// random tags of its inserts and lookups missed that cache, about a point of a 60,000-host sweep's time
/// (BENCHMARKS.md, "Stop 29").
const INFLIGHT_START: u64 = 256;

/// The sweep of one host list as a state machine that the caller drives: [`engine::sweep`](crate::engine::sweep)
/// with the sockets and the clock, the unit tests and benchmarks with byte slices and a fake clock.
///
/// Build it with [`new`](Self::new) from the targets, the probe settings, the run's key and the current time.
/// Then, until [`is_done`](Self::is_done), each turn:
///
/// 1. [`handle_packet`](Self::handle_packet) for every packet a socket delivered, with its receive time (the
///    kernel's stamp when there is one) and the address the kernel says it came from;
/// 2. [`handle_timeout`](Self::handle_timeout) with the current time (or, when a read was cut short, no later than
///    the receive time of the last packet read): expires deadlines and duplicate windows, makes later probes due;
/// 3. [`poll_transmit`](Self::poll_transmit) until it returns `None` (nothing due, or the rate says wait), sending
///    each echo request it writes; a send the kernel pushed back goes back with [`defer`](Self::defer), one it
///    refused for good with [`send_failed`](Self::send_failed);
/// 4. [`poll_result`](Self::poll_result) until it returns `None`: each host's final result, exactly once;
/// 5. sleep until a socket is readable or [`poll_timeout`](Self::poll_timeout), whichever comes first.
///
/// Every call returns at once and takes the time as a value on the driver's monotonic timeline (the prober never
/// reads a clock), so a test can replay any timing. [`stats`](Self::stats) counts packets for the summary.
pub struct Prober {
    cfg: ProbeConfig,
    key: Key,
    targets: Addrs,
    /// The state of the hosts started and not finished.
    hosts: Window,
    /// The first error seen per host; rare, so kept beside the dense per-host state.
    errors: HashMap<HostId, ProbeError>,
    /// Hosts whose newest probe the kernel pushed back, with when its retry left (`None` while it waits). The
    /// refused send's `Resend` fires an interval after the refusal, too early: only one due an interval after
    /// the retry may release the next probe, or `--interval` would shrink by the time the retry took. Rare, so
    /// kept beside the dense per-host state, and empty (not even looked up) while the kernel takes every send.
    retried: HashMap<HostId, Option<Time>>,
    inflight: Inflight,
    wheel: Wheel<Timer, { TICK.as_nanos() as u64 }>,
    fired: Vec<Timer>,
    bucket: Bucket,
    /// Next host whose first probe has not been sent.
    next_host: HostId,
    /// Later probes whose time has come, and deferred sends, in order.
    due: VecDeque<(HostId, u16)>,
    /// Final results, made when each host finished (its state is gone by then).
    results: VecDeque<HostResult>,
    finished: usize,
    stats: Stats,
}

impl Prober {
    pub fn new(targets: Addrs, cfg: ProbeConfig, key: Key, now: Time) -> Result<Prober, ProbeSetupError> {
        if cfg.probes == 0 {
            return Err(ProbeSetupError::NoProbes);
        }
        let total = targets.len() as u64 * u64::from(cfg.probes);
        if total > 1 << 32 {
            return Err(ProbeSetupError::TooManyProbes { hosts: targets.len(), probes: cfg.probes });
        }
        let horizon = (cfg.timeout.as_nanos() as u64).max(cfg.interval.as_nanos() as u64);
        Ok(Prober {
            // Small at first, grown by the table as probes pile up (a slow network at a high rate): a table sized
            // for every probe a sweep might have in flight is megabytes the keyed-random tags spread over, a
            // cache miss and a page fault on every insert, while a loopback sweep at full speed holds a few
            // hundred. Growing costs a rehash now and then, not a copy per probe.
            inflight: Inflight::with_capacity(total.min(INFLIGHT_START) as usize),
            wheel: Wheel::new(horizon, now),
            fired: Vec::with_capacity(1024),
            bucket: Bucket::new(cfg.rate, Bucket::default_burst(cfg.rate)),
            next_host: 0,
            due: VecDeque::new(),
            results: VecDeque::with_capacity(1024),
            finished: 0,
            stats: Stats::default(),
            errors: HashMap::new(),
            retried: HashMap::new(),
            hosts: Window::default(),
            targets,
            cfg,
            key,
        })
    }

    /// `--rate` is set (probes are paced rather than sent as fast as possible).
    pub fn rate_limited(&self) -> bool {
        self.cfg.rate > 0
    }

    pub fn has_ipv6(&self) -> bool {
        self.targets.has_ipv6()
    }

    pub fn host_count(&self) -> usize {
        self.targets.len()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Probes sent and not yet answered, expired or refused (for the tests' invariants).
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// The next echo request to send, if one is due and the rate allows; written into `buf`
    /// (at least [`ECHO_LEN`](crate::wire::ECHO_LEN) bytes). The probe counts as sent at `now`.
    pub fn poll_transmit(&mut self, now: Time, buf: &mut [u8]) -> Option<Transmit> {
        let (host, probe) = match self.due.front() {
            Some(&next) => next,
            None if (self.next_host as usize) < self.targets.len() => (self.next_host, 0),
            None => return None,
        };
        if !self.bucket.try_take(now) {
            return None;
        }
        if self.due.pop_front().is_none() {
            // Probe 0 of every host is released by `next_host`, not by a `Resend`.
            self.hosts.start(host, HostState { pending: self.cfg.probes, next: 1, ..HostState::default() });
            self.next_host += 1;
        }
        let tag = self.tag_of(host, probe);
        let dst = self.targets.of(host);
        let mac = self.key.mac(tag, host, probe, now.0, dst);
        let request =
            EchoRequest { id: tag.id(), seq: tag.seq(), payload: EchoPayload { host, probe, sent_ns: now.0, mac } };
        let len = match dst {
            IpAddr::V4(_) => request.emit_v4(buf),
            IpAddr::V6(_) => request.emit_v6(buf),
        };
        let fresh = self.inflight.insert(tag, Flight { host, probe, sent_at: now, mac });
        debug_assert!(fresh, "tag reused within a run");
        self.wheel.insert_or_merge(
            now + self.cfg.timeout,
            Timer::Deadlines { probe, hosts: Hosts::one(host) },
            Timer::absorb,
        );
        let st = self.hosts.get(host).expect("a host with a probe to send is being probed");
        // The host's newest probe (first send or retry) arms the next one, an interval after it really left. An
        // older probe retried late (a driver that defers after later probes went out) must not arm a second chain.
        if probe + 1 == st.next && st.next < self.cfg.probes {
            self.wheel.insert(now + self.cfg.interval, Timer::Resend(host, st.next));
            if !self.retried.is_empty() {
                if let Some(left) = self.retried.get_mut(&host) {
                    *left = Some(now);
                }
            }
        }
        st.pending -= 1;
        st.outstanding += 1;
        st.sent += 1;
        self.stats.sent += 1;
        Some(Transmit { host, tag, dst, len })
    }

    /// The driver could not send `tag` now (EAGAIN, ENOBUFS): it goes back to the head of the queue and is
    /// sent again, with a fresh send time, as soon as the driver calls [`poll_transmit`](Self::poll_transmit).
    pub fn defer(&mut self, tag: Tag) {
        if let Some(f) = self.inflight.remove(tag) {
            let st = self.hosts.get(f.host).expect("a host with a probe in flight is being probed");
            st.pending += 1;
            st.outstanding -= 1;
            st.sent -= 1;
            self.stats.sent -= 1;
            self.stats.send_deferred += 1;
            // The refused send armed the next probe's `Resend`; the retry arms a fresh one. Until the retry has
            // left, and until an interval after it, the next probe stays where it is (see `retried`).
            if f.probe + 1 == st.next && st.next < self.cfg.probes {
                self.retried.insert(f.host, None);
            }
            self.due.push_front((f.host, f.probe));
        }
    }

    /// The kernel refused to send `tag` for good (`errno`, e.g. ENETUNREACH, or EPERM from a firewall rule on
    /// output). The probe stays counted in the host's `sent`, as lost, and in its `refused`: a host that lost
    /// one of three probes to the local firewall shows it, not `sent 2` as if all were well. The packet never
    /// left, so the sweep's packet count ([`Stats::sent`]) leaves it out. Without a reply the host is
    /// unreachable from here.
    pub fn send_failed(&mut self, now: Time, tag: Tag, errno: i32) {
        if let Some(f) = self.inflight.remove(tag) {
            let st = self.hosts.get(f.host).expect("a host with a probe in flight is being probed");
            st.outstanding -= 1;
            st.refused = st.refused.saturating_add(1);
            self.stats.sent -= 1;
            self.stats.send_failed += 1;
            self.errors.entry(f.host).or_insert(ProbeError::Local { errno });
            self.finish_if_settled(f.host, now);
        }
    }

    fn tag_of(&self, host: HostId, probe: u16) -> Tag {
        // Fits: `new` refuses lists with more than 2^32 probes.
        self.key.tag((u64::from(host) * u64::from(self.cfg.probes) + u64::from(probe)) as u32)
    }

    /// Expires deadlines and releases later probes whose interval has passed.
    pub fn handle_timeout(&mut self, now: Time) {
        let mut fired = std::mem::take(&mut self.fired);
        self.wheel.expire(now, |t| fired.push(t));
        for t in fired.drain(..) {
            match t {
                Timer::Resend(host, probe) => {
                    // Already due or sent: the timer of a send the kernel pushed back, after the retry's fired.
                    if self.hosts.get(host).is_none_or(|st| probe != st.next) {
                        continue;
                    }
                    if !self.retried.is_empty() {
                        match self.retried.get(&host) {
                            // The previous probe waits to be resent, or left again less than an interval ago:
                            // this is the refused send's timer, and the retry's own comes later.
                            Some(None) => continue,
                            Some(&Some(left)) if now < left + self.cfg.interval => continue,
                            Some(Some(_)) => {
                                self.retried.remove(&host);
                            }
                            None => {}
                        }
                    }
                    if let Some(st) = self.hosts.get(host) {
                        st.next += 1;
                    }
                    self.due.push_back((host, probe));
                }
                Timer::Settle(hosts) => {
                    for host in hosts.iter() {
                        if let Some(st) = self.hosts.get(host) {
                            st.settling = false;
                        }
                        self.finish_if_settled(host, now);
                    }
                }
                Timer::Deadlines { probe, hosts } => {
                    for host in hosts.iter() {
                        self.expire_probe(self.tag_of(host, probe), now);
                    }
                }
            }
        }
        self.fired = fired;
    }

    /// The deadline of the probe tagged `tag` has come: if it is still unanswered, it is lost.
    fn expire_probe(&mut self, tag: Tag, now: Time) {
        // A deferred probe sent again has a later deadline of its own: it stays.
        let timeout = self.cfg.timeout;
        let Some(f) = self.inflight.remove_if(tag, |f| now >= f.sent_at + timeout) else { return };
        if let Some(st) = self.hosts.get(f.host) {
            st.outstanding -= 1;
        }
        self.finish_if_settled(f.host, now);
    }

    /// A host with nothing pending, outstanding or settling is finished: its result is made now, and its state
    /// and error are dropped.
    fn finish_if_settled(&mut self, host: HostId, now: Time) {
        let Some(st) = self.hosts.get(host) else { return };
        if st.settling || st.pending > 0 || st.outstanding > 0 {
            return;
        }
        st.done = true;
        let st = *st;
        // Errors are rare: while the map is empty, no host's address is hashed to look into it.
        let error = if self.errors.is_empty() { None } else { self.errors.remove(&host) };
        let status = match (st.received, error) {
            (0, Some(_)) => Status::Unreachable,
            (0, None) => Status::Timeout,
            _ => Status::Alive,
        };
        let rtt = (st.received > 0).then(|| Rtt {
            avg: Duration::from_nanos(st.rtt_sum / u64::from(st.received)),
            min: Duration::from_nanos(st.rtt_min),
            max: Duration::from_nanos(st.rtt_max),
        });
        self.results.push_back(HostResult {
            host: self.targets.of(host),
            status,
            sent: st.sent,
            refused: st.refused,
            received: st.received,
            duplicates: st.duplicates,
            late: st.late,
            rtt,
            error: if status == Status::Alive { None } else { error },
            finished_at: now,
        });
        self.finished += 1;
        self.hosts.retire();
    }

    /// When the driver must call back at the latest (a deadline, a later probe, or the next rate token);
    /// a time in the past means now.
    pub fn poll_timeout(&self) -> Option<Time> {
        let has_work = !self.due.is_empty() || (self.next_host as usize) < self.targets.len();
        let send = has_work.then(|| self.bucket.ready_at(Time::ZERO));
        match (send, self.wheel.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A host whose verdict is final; each host comes out exactly once.
    pub fn poll_result(&mut self) -> Option<HostResult> {
        self.results.pop_front()
    }

    /// Every host has a final verdict (results may still wait in [`poll_result`](Self::poll_result)).
    pub fn is_done(&self) -> bool {
        self.finished == self.targets.len()
    }

    /// Hosts whose verdict is final (for the tests' messages).
    #[cfg(test)]
    pub(crate) fn finished(&self) -> usize {
        self.finished
    }
}
