//! `Time`: a point on the driver's monotonic timeline, in nanoseconds.
//!
//! The sans-IO core never reads a clock; it is handed `Time` values. Only the driver (`engine.rs`) knows which
//! OS clock they come from, so tests can drive the core with any timeline they like.

use std::ops::{Add, Sub};
use std::time::Duration;

/// Nanoseconds since an epoch chosen by whoever owns the clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    pub const ZERO: Time = Time(0);

    pub fn from_millis(ms: u64) -> Time {
        Time(ms.saturating_mul(1_000_000))
    }

    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, zero when `earlier` is later.
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// Where the timeline's zero lies on the wall clock: turns a [`Time`] into Unix time. The driver reads it once
/// per run; the output and the writer, which show and store when each verdict became final, convert with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WallClock {
    unix_ns_at_zero: i128,
}

impl WallClock {
    pub fn new(unix_ns_at_zero: i128) -> WallClock {
        WallClock { unix_ns_at_zero }
    }

    /// Microseconds since the Unix epoch at `t`.
    pub fn unix_us(self, t: Time) -> i64 {
        ((i128::from(t.0) + self.unix_ns_at_zero) / 1000) as i64
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
    }
}

impl Sub<Time> for Time {
    type Output = Duration;
    fn sub(self, rhs: Time) -> Duration {
        self.since(rhs)
    }
}
