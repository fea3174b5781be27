//! The sans-IO sweep core: [`Prober`].
//!
//! It is handed host addresses, bytes and times, and answers with echo requests to send, the time it wants to be
//! woken, and final per-host results. It never touches a socket, a clock or a thread, so every hostile packet a
//! network can deliver is a unit test (`tests.rs`) that runs in microseconds without root.
//!
//! The rules for crediting a reply live here and nowhere else: right checksum (checked by `wire`), an echo reply,
//! a payload whose keyed check value binds it to this run, the tag we derive for that host and probe, from the
//! address we probed, outstanding, and before its deadline. An ICMP error counts only when it quotes an
//! outstanding probe to the address it was sent to; it makes the host `unreachable` unless a reply still comes.

mod inflight;
mod rate;
pub mod tag;
mod wheel;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use crate::outcome::{HostResult, ProbeError, Rtt, Stats, Status};
use crate::time::Time;
use crate::wire::{self, EchoPayload, Icmp, Reject, PAYLOAD_LEN};
use inflight::{Flight, Inflight};
use rate::Bucket;
pub use tag::{Key, Tag};
use wheel::Wheel;

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

#[derive(Clone, Copy, Debug)]
enum Timer {
    Deadline(Tag),
    /// Release this probe of the host, if it is still the next one and its predecessor really left an interval ago.
    Resend(HostId, u16),
    /// The duplicate window after a host's last reply has passed.
    Settle(HostId),
}

/// How long a host stays open after its last reply so that duplicates of it are counted on its own line: twice
/// that reply's round trip (duplicates travel the same path), at least 10 ms, at most 50 ms and never past the
/// probe's deadline. The sweep ends that much later than its last reply, not a timeout later.
fn settle_window(rtt: Duration, until_deadline: Duration) -> Duration {
    (rtt * 2).clamp(Duration::from_millis(10), Duration::from_millis(50)).min(until_deadline)
}

#[derive(Clone, Copy, Debug, Default)]
struct HostState {
    /// Probes not yet handed to the driver.
    pending: u16,
    /// The next probe a `Resend` may release; lower ones are already due or sent. The wheel cannot take a timer
    /// back, so a send the kernel pushed back leaves its `Resend` behind when the retry arms another: once one
    /// has released the probe, any other finds it below this and does nothing. (Sits in padding: still 40 bytes.)
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

pub struct Prober {
    cfg: ProbeConfig,
    key: Key,
    targets: Vec<IpAddr>,
    hosts: Vec<HostState>,
    /// The first error seen per host; rare, so kept beside the dense per-host state.
    errors: HashMap<HostId, ProbeError>,
    /// Hosts whose newest probe the kernel pushed back, with when its retry left (`None` while it waits). The
    /// refused send's `Resend` fires an interval after the refusal, too early: only one due an interval after
    /// the retry may release the next probe, or `--interval` would shrink by the time the retry took. Rare, so
    /// kept beside the dense per-host state, and empty (not even looked up) while the kernel takes every send.
    retried: HashMap<HostId, Option<Time>>,
    inflight: Inflight,
    wheel: Wheel<Timer>,
    fired: Vec<Timer>,
    bucket: Bucket,
    /// Next host whose first probe has not been sent.
    next_host: HostId,
    /// Later probes whose time has come, and deferred sends, in order.
    due: VecDeque<(HostId, u16)>,
    results: VecDeque<(HostId, Time)>,
    finished: usize,
    stats: Stats,
}

impl Prober {
    pub fn new(targets: Vec<IpAddr>, cfg: ProbeConfig, key: Key, now: Time) -> Result<Prober, ProbeSetupError> {
        if cfg.probes == 0 {
            return Err(ProbeSetupError::NoProbes);
        }
        let total = targets.len() as u64 * u64::from(cfg.probes);
        if total > 1 << 32 {
            return Err(ProbeSetupError::TooManyProbes { hosts: targets.len(), probes: cfg.probes });
        }
        let timeout_ns = cfg.timeout.as_nanos() as u64;
        let horizon = timeout_ns.max(cfg.interval.as_nanos() as u64);
        let expected_inflight = match cfg.rate {
            0 => 1 << 16,
            r => (u64::from(r) * (timeout_ns / 1_000_000 + 1000) / 1000).max(1 << 12),
        };
        // Probe 0 of every host is released by `next_host`, not by a `Resend`.
        let hosts = vec![HostState { pending: cfg.probes, next: 1, ..HostState::default() }; targets.len()];
        Ok(Prober {
            inflight: Inflight::with_capacity(total.min(expected_inflight) as usize),
            wheel: Wheel::new(1_000_000, horizon, now),
            fired: Vec::with_capacity(1024),
            bucket: Bucket::new(cfg.rate, Bucket::default_burst(cfg.rate)),
            next_host: 0,
            due: VecDeque::new(),
            results: VecDeque::with_capacity(1024),
            finished: 0,
            stats: Stats::default(),
            errors: HashMap::new(),
            retried: HashMap::new(),
            hosts,
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
        self.targets.iter().any(IpAddr::is_ipv6)
    }

    pub fn host_count(&self) -> usize {
        self.targets.len()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// The next echo request to send, if one is due and the rate allows; written into `buf`
    /// (at least [`wire::ECHO_LEN`] bytes). The probe counts as sent at `now`.
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
            self.next_host += 1;
        }
        let tag = self.tag_of(host, probe);
        let dst = self.targets[host as usize];
        let mac = self.key.mac(tag, host, probe, now.0, dst);
        let payload = EchoPayload { host, probe, sent_ns: now.0, mac };
        let len = match dst {
            IpAddr::V4(_) => wire::emit_echo_v4(buf, tag.id(), tag.seq(), &payload),
            IpAddr::V6(_) => wire::emit_echo_v6(buf, tag.id(), tag.seq(), &payload),
        };
        let fresh = self.inflight.insert(tag, Flight { host, probe, errored: false, sent_at: now });
        debug_assert!(fresh, "tag reused within a run");
        self.wheel.insert(now + self.cfg.timeout, Timer::Deadline(tag));
        let st = &mut self.hosts[host as usize];
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
            let st = &mut self.hosts[f.host as usize];
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
            let st = &mut self.hosts[f.host as usize];
            st.outstanding -= 1;
            st.refused = st.refused.saturating_add(1);
            self.stats.sent -= 1;
            self.stats.send_failed += 1;
            self.errors.entry(f.host).or_insert(ProbeError::Local { errno });
            self.finish_if_settled(f.host, now);
        }
    }

    /// Any packet the socket delivered, with the time it arrived (kernel timestamp when there is one) and the
    /// address the kernel says it came from.
    pub fn handle_packet(&mut self, rx: Time, from: IpAddr, bytes: &[u8]) {
        self.stats.received += 1;
        let parsed = match if from.is_ipv6() { wire::parse_v6(bytes) } else { wire::parse_v4(bytes) } {
            Ok(p) => p,
            Err(Reject::BadChecksum) => return self.stats.rx_bad_checksum += 1,
            Err(Reject::Malformed) => return self.stats.rx_malformed += 1,
            Err(Reject::OtherType | Reject::ForeignQuote) => return self.stats.rx_foreign += 1,
        };
        self.stats.ip_options += u64::from(parsed.ip_options);
        match parsed.icmp {
            Icmp::EchoReply { id, seq, payload } => self.on_reply(rx, from, Tag::from_parts(id, seq), payload),
            Icmp::Error { kind, probe_dst, id, seq, quoted_payload } => {
                let error = ProbeError::Icmp { icmp_type: kind.icmp_type, code: kind.code, from };
                self.on_error(rx, error, probe_dst, Tag::from_parts(id, seq), quoted_payload)
            }
        }
    }

    fn on_reply(&mut self, rx: Time, from: IpAddr, tag: Tag, payload: &[u8]) {
        let Some(p) = self.authentic(tag, payload) else {
            return self.stats.rx_foreign += 1;
        };
        if from != self.targets[p.host as usize] {
            return self.stats.rx_spoofed += 1;
        }
        let timeout = self.cfg.timeout.as_nanos() as u64;
        let outstanding = self.inflight.get(tag).filter(|f| f.sent_at.0 == p.sent_ns).copied();
        let st = &mut self.hosts[p.host as usize];
        match outstanding {
            Some(f) if rx <= f.sent_at + self.cfg.timeout => {
                self.inflight.remove(tag);
                let rtt = rx.since(f.sent_at).as_nanos() as u64;
                st.rtt_min = if st.received == 0 { rtt } else { st.rtt_min.min(rtt) };
                st.rtt_max = st.rtt_max.max(rtt);
                st.rtt_sum += rtt;
                st.received += 1;
                st.outstanding -= 1;
                self.stats.rx_credited += 1;
                if st.pending == 0 && st.outstanding == 0 && !st.done && !st.settling {
                    st.settling = true;
                    let window = settle_window(Duration::from_nanos(rtt), (f.sent_at + self.cfg.timeout).since(rx));
                    self.wheel.insert(rx + window, Timer::Settle(p.host));
                }
            }
            // Ours, but its probe is past its deadline (the wheel will expire it) or already answered.
            _ if rx.0.saturating_sub(p.sent_ns) > timeout => {
                st.late = st.late.saturating_add(1);
                self.stats.rx_late += 1;
            }
            _ => {
                st.duplicates = st.duplicates.saturating_add(1);
                self.stats.rx_duplicate += 1;
            }
        }
    }

    fn on_error(&mut self, rx: Time, error: ProbeError, probe_dst: IpAddr, tag: Tag, quoted: &[u8]) {
        let Some(f) = self.inflight.get(tag).copied() else {
            return self.stats.rx_foreign += 1;
        };
        // Routers often quote only the 8-byte echo header; when they quote our payload, it must check out too.
        let quote_ok = quoted.len() < PAYLOAD_LEN || self.authentic(tag, quoted).is_some_and(|p| p.host == f.host);
        if probe_dst != self.targets[f.host as usize] || !quote_ok {
            return self.stats.rx_foreign += 1;
        }
        if rx > f.sent_at + self.cfg.timeout {
            return self.stats.rx_late += 1;
        }
        if let Some(f) = self.inflight.get_mut(tag) {
            f.errored = true;
        }
        self.errors.entry(f.host).or_insert(error);
        self.stats.rx_errors += 1;
    }

    /// The payload, if its check value proves this run sent it with this tag.
    fn authentic(&self, tag: Tag, payload: &[u8]) -> Option<EchoPayload> {
        let p = EchoPayload::parse(payload)?;
        let dst = *self.targets.get(p.host as usize)?;
        let ok = p.probe < self.cfg.probes
            && self.tag_of(p.host, p.probe) == tag
            && self.key.mac(tag, p.host, p.probe, p.sent_ns, dst) == p.mac;
        ok.then_some(p)
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
                    if probe != self.hosts[host as usize].next {
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
                    self.hosts[host as usize].next += 1;
                    self.due.push_back((host, probe));
                }
                Timer::Settle(host) => {
                    self.hosts[host as usize].settling = false;
                    self.finish_if_settled(host, now);
                }
                Timer::Deadline(tag) => {
                    let Some(f) = self.inflight.get(tag) else { continue };
                    // A deferred probe sent again has a later deadline of its own.
                    if now < f.sent_at + self.cfg.timeout {
                        continue;
                    }
                    let host = f.host;
                    self.inflight.remove(tag);
                    self.hosts[host as usize].outstanding -= 1;
                    self.finish_if_settled(host, now);
                }
            }
        }
        self.fired = fired;
    }

    fn finish_if_settled(&mut self, host: HostId, now: Time) {
        let st = &mut self.hosts[host as usize];
        if !st.done && !st.settling && st.pending == 0 && st.outstanding == 0 {
            st.done = true;
            self.finished += 1;
            self.results.push_back((host, now));
        }
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
        let (host, at) = self.results.pop_front()?;
        let st = &self.hosts[host as usize];
        let error = self.errors.get(&host).copied();
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
        Some(HostResult {
            host: self.targets[host as usize],
            status,
            sent: st.sent,
            refused: st.refused,
            received: st.received,
            duplicates: st.duplicates,
            late: st.late,
            rtt,
            error: if status == Status::Alive { None } else { error },
            finished_at: at,
        })
    }

    /// Every host has a final verdict (results may still wait in [`poll_result`](Self::poll_result)).
    pub fn is_done(&self) -> bool {
        self.finished == self.targets.len()
    }

    pub fn finished(&self) -> usize {
        self.finished
    }
}
