//! What a sweep produces: one [`HostResult`] per host, and the [`Stats`] of the packets behind them.
//!
//! These small structs are what the output, the metrics and the stores consume; they carry no formatting.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Time;

/// The verdict on one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// At least one valid echo reply.
    Alive,
    /// No reply, but an ICMP error quoting our probe (or a local send error).
    Unreachable,
    /// Nothing came back before the deadline.
    Timeout,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Alive => "alive",
            Status::Unreachable => "unreachable",
            Status::Timeout => "timeout",
        }
    }
}

/// Why a host is unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// An ICMP error (type, code) from `from` (the reporting router) quoting our probe.
    Icmp { icmp_type: u8, code: u8, from: IpAddr },
    /// The kernel refused to send the probe (errno), e.g. no route to the address.
    Local { errno: i32 },
}

/// A [`ProbeError`] as flat, optional parts: the JSON line's `error` object and the Postgres row's columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorParts {
    pub icmp_type: Option<u8>,
    pub code: Option<u8>,
    pub from: Option<IpAddr>,
    pub errno: Option<i32>,
}

/// Round-trip times of the valid replies, from kernel receive timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtt {
    pub avg: Duration,
    pub min: Duration,
    pub max: Duration,
}

/// One host's final result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostResult {
    pub host: IpAddr,
    pub status: Status,
    /// Probes sent, counting those the kernel refused (`refused`) as sent and lost.
    pub sent: u16,
    /// Sends the kernel refused (no route, a local firewall rule): included in `sent`, never answered.
    pub refused: u16,
    pub received: u16,
    /// Extra copies of replies already credited.
    pub duplicates: u16,
    /// Valid replies that came after their probe's deadline (not credited).
    pub late: u16,
    pub rtt: Option<Rtt>,
    pub error: Option<ProbeError>,
    /// When the verdict became final, on the driver's timeline.
    pub finished_at: Time,
}

impl HostResult {
    /// Probes lost, in percent of those sent (0 to 100; 0 when none was sent), as fping shows it. A refused send
    /// is a lost probe.
    pub fn loss_pct(&self) -> f64 {
        match self.sent {
            0 => 0.0,
            s => 100.0 * f64::from(s.saturating_sub(self.received)) / f64::from(s),
        }
    }
}

/// Round-trip times over every reply of a sweep (fping -s's min/avg/max), from the alive hosts' results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RttTotals {
    /// Replies credited.
    pub replies: u64,
    pub sum_ns: u128,
    pub min: Option<Duration>,
    pub max: Option<Duration>,
}

impl RttTotals {
    pub fn add(&mut self, r: &HostResult) {
        let Some(t) = r.rtt else { return };
        // A host's average times its replies gives back its sum (to within a nanosecond per reply).
        self.sum_ns += t.avg.as_nanos() * u128::from(r.received);
        self.replies += u64::from(r.received);
        self.min = Some(self.min.map_or(t.min, |m| m.min(t.min)));
        self.max = Some(self.max.map_or(t.max, |m| m.max(t.max)));
    }

    /// The mean over every reply (not the mean of the hosts' means).
    pub fn avg(&self) -> Option<Duration> {
        let ns = self.sum_ns.checked_div(u128::from(self.replies))?;
        Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)))
    }
}

/// Packet-level counters of one sweep. Every received packet lands in exactly one of the `rx_*` counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub sent: u64,
    pub received: u64,
    /// Echo replies credited to a probe.
    pub rx_credited: u64,
    /// ICMP errors that quoted one of our outstanding probes.
    pub rx_errors: u64,
    pub rx_duplicate: u64,
    pub rx_late: u64,
    /// Right tag and check value, wrong source address.
    pub rx_spoofed: u64,
    pub rx_bad_checksum: u64,
    /// Truncated, malformed, or unusable.
    pub rx_malformed: u64,
    /// Well-formed, but not ours: other programs' echoes, earlier runs, errors about someone else's packets.
    pub rx_foreign: u64,
    /// Replies that carried IPv4 options (also counted in their own class).
    pub ip_options: u64,
    /// Sends the kernel pushed back on (EAGAIN/ENOBUFS); each was retried.
    pub send_deferred: u64,
    /// Sends the kernel refused outright (counted in the host's `sent` and `refused`, not in [`Stats::sent`]).
    pub send_failed: u64,
}

impl Stats {
    /// Packets that were counted and ignored.
    pub fn ignored(&self) -> u64 {
        self.rx_spoofed + self.rx_bad_checksum + self.rx_malformed + self.rx_foreign
    }
}

impl ProbeError {
    /// Its parts, flat (see [`ErrorParts`]).
    pub fn parts(self) -> ErrorParts {
        match self {
            ProbeError::Icmp { icmp_type, code, from } => {
                ErrorParts { icmp_type: Some(icmp_type), code: Some(code), from: Some(from), errno: None }
            }
            ProbeError::Local { errno } => ErrorParts { errno: Some(errno), ..ErrorParts::default() },
        }
    }

    /// A human description, as `ping` would print it.
    pub fn describe(&self) -> String {
        match *self {
            ProbeError::Icmp { icmp_type: 3, code, .. } => {
                let what = match code {
                    0 => "net unreachable",
                    1 => "host unreachable",
                    2 => "protocol unreachable",
                    3 => "port unreachable",
                    4 => "fragmentation needed",
                    5 => "source route failed",
                    6 => "destination net unknown",
                    7 => "destination host unknown",
                    9 | 10 | 13 => "administratively prohibited",
                    _ => "destination unreachable",
                };
                format!("{what} (type 3 code {code})")
            }
            ProbeError::Icmp { icmp_type: 11, code, .. } => {
                let what = if code == 0 { "time to live exceeded" } else { "fragment reassembly time exceeded" };
                format!("{what} (type 11 code {code})")
            }
            ProbeError::Icmp { icmp_type, code, .. } => format!("ICMP type {icmp_type} code {code}"),
            ProbeError::Local { errno } => {
                format!("send failed: {}", std::io::Error::from_raw_os_error(errno))
            }
        }
    }
}
