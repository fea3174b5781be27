//! The `--rate` token bucket, as a GCRA (one timestamp, no floating point).
//!
//! A burst of up to `burst` packets may go at once (so a driver that wakes every millisecond still reaches the
//! rate); over any longer window the average never exceeds `rate` packets per second.

use crate::time::Time;

pub struct Bucket {
    /// Nanoseconds per packet; zero means unlimited.
    period: u64,
    /// How far ahead of `now` the theoretical arrival time may run.
    tolerance: u64,
    tat: u64,
}

impl Bucket {
    /// `rate` packets per second (0 = unlimited), bursts of `burst` packets.
    pub fn new(rate: u32, burst: u32) -> Bucket {
        let period = if rate == 0 { 0 } else { 1_000_000_000 / u64::from(rate).max(1) };
        Bucket { period, tolerance: period * u64::from(burst.max(1)), tat: 0 }
    }

    /// The burst that lets a driver waking once per millisecond keep up with `rate`.
    pub fn default_burst(rate: u32) -> u32 {
        (rate / 250).max(1)
    }

    /// Takes one token if one is there.
    pub fn try_take(&mut self, now: Time) -> bool {
        if self.period == 0 {
            return true;
        }
        let tat = self.tat.max(now.0);
        if tat + self.period > now.0 + self.tolerance {
            return false;
        }
        self.tat = tat + self.period;
        true
    }

    /// When the next token will be there (now, if one is).
    pub fn ready_at(&self, now: Time) -> Time {
        if self.period == 0 {
            return now;
        }
        let tat = self.tat.max(now.0);
        Time((tat + self.period).saturating_sub(self.tolerance).max(now.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_holds_over_a_second_with_a_burst_at_the_start() {
        let mut b = Bucket::new(1000, 10);
        let mut sent = 0;
        for us in (0..1_000_000u64).step_by(50) {
            while b.try_take(Time(us * 1000)) {
                sent += 1;
            }
        }
        assert!((1000..=1010).contains(&sent), "{sent} packets in one second at 1000/s");
        let mut fresh = Bucket::new(1000, 10);
        assert_eq!((0..100).filter(|_| fresh.try_take(Time::ZERO)).count(), 10);
        assert_eq!(fresh.ready_at(Time::ZERO), Time(1_000_000));
    }

    #[test]
    fn rate_zero_is_unlimited() {
        let mut b = Bucket::new(0, 1);
        assert!((0..100_000).all(|_| b.try_take(Time::ZERO)));
    }
}
