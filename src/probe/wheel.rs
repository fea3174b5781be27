//! A hashed timer wheel: deadlines, re-probe times and duplicate windows, in ticks of the caller's choosing.
//!
//! Entries are never cancelled: a deadline whose probe was already answered simply finds nothing when it fires
//! (the in-flight table is the truth). That keeps insert O(1) with no handles. Entries fire at or after their due
//! time, at most one tick late; callers that need the exact moment compare against the time they stored.

use crate::time::Time;

/// `TICK_NS` is the tick in nanoseconds, a constant so that turning a time into its tick is a multiply and a
/// shift: as a field it was a 64-bit division on every insert, a third of an insert's time.
pub struct Wheel<T, const TICK_NS: u64> {
    slots: Vec<Vec<(u64, T)>>,
    mask: u64,
    /// Every tick up to and including this one has been fired.
    done_tick: u64,
    len: usize,
    scratch: Vec<(u64, T)>,
}

impl<T: Copy, const TICK_NS: u64> Wheel<T, TICK_NS> {
    /// A wheel with enough slots to cover `horizon_ns` in one turn (longer delays work too,
    /// they just go round more than once).
    pub fn new(horizon_ns: u64, start: Time) -> Wheel<T, TICK_NS> {
        let slots = (horizon_ns / TICK_NS + 2).clamp(64, 1 << 16).next_power_of_two();
        Wheel {
            slots: (0..slots).map(|_| Vec::new()).collect(),
            mask: slots - 1,
            done_tick: start.0 / TICK_NS,
            len: 0,
            scratch: Vec::new(),
        }
    }

    /// Entries held (for the tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Schedules `item` to fire once `now >= due`.
    pub fn insert(&mut self, due: Time, item: T) {
        self.insert_or_merge(due, item, |_, _| false);
    }

    /// Schedules `item` like [`insert`](Self::insert), unless the entry inserted last into the same tick takes it
    /// in: `merge(last, item)` returns true when it did. Both fire together, which is when either would have (a
    /// tick is the wheel's resolution), so many timers due in one tick can share one entry.
    ///
    /// Inlined, as the sweep's two per-host timers (a deadline per probe, a duplicate window per reply) merge
    /// almost every time: as a call it was the prober's largest item after the loop itself.
    #[inline(always)]
    pub fn insert_or_merge(&mut self, due: Time, item: T, merge: impl FnOnce(&mut T, T) -> bool) {
        let tick = due.0.div_ceil(TICK_NS).max(self.done_tick + 1);
        let slot = &mut self.slots[(tick & self.mask) as usize];
        if let Some((t, last)) = slot.last_mut() {
            if *t == tick && merge(last, item) {
                return;
            }
        }
        self.push(tick, item);
    }

    #[inline(never)]
    fn push(&mut self, tick: u64, item: T) {
        self.slots[(tick & self.mask) as usize].push((tick, item));
        self.len += 1;
    }

    /// Fires every entry due at `now`, in tick order.
    pub fn expire(&mut self, now: Time, mut fire: impl FnMut(T)) {
        let now_tick = now.0 / TICK_NS;
        if now_tick <= self.done_tick || self.len == 0 {
            self.done_tick = self.done_tick.max(now_tick);
            return;
        }
        // After a long stall, one pass over every slot is enough.
        let first = self.done_tick + 1;
        let last = now_tick.min(first + self.mask);
        for t in first..=last {
            let slot = (t & self.mask) as usize;
            if self.slots[slot].is_empty() {
                continue;
            }
            std::mem::swap(&mut self.scratch, &mut self.slots[slot]);
            for &(tick, item) in &self.scratch {
                if tick <= now_tick {
                    self.len -= 1;
                    fire(item);
                } else {
                    self.slots[slot].push((tick, item));
                }
            }
            self.scratch.clear();
        }
        self.done_tick = now_tick;
    }

    /// The earliest time at which [`expire`](Self::expire) may fire something (possibly early, never late).
    pub fn next_due(&self) -> Option<Time> {
        if self.len == 0 {
            return None;
        }
        let first = self.done_tick + 1;
        (first..=first + self.mask)
            .find(|t| !self.slots[(t & self.mask) as usize].is_empty())
            .map(|t| Time(t * TICK_NS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn entries_fire_in_order_not_before_due_and_at_most_a_tick_late() {
        let mut w = Wheel::<_, MS>::new(100 * MS, Time::ZERO);
        for (i, due) in [5, 1, 250, 3, 100].iter().enumerate() {
            w.insert(Time(due * MS + 1), i);
        }
        let mut fired = Vec::new();
        for ms in 0..=300u64 {
            w.expire(Time(ms * MS), |i| fired.push((ms, i)));
        }
        assert_eq!(fired, vec![(2, 1), (4, 3), (6, 0), (101, 4), (251, 2)]);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn timers_merged_into_one_entry_fire_together_when_the_first_would() {
        let mut w = Wheel::<_, MS>::new(100 * MS, Time::ZERO);
        // Counts of consecutive items merge while their due times fall in the same tick.
        let merge = |last: &mut (u32, u32), item: (u32, u32)| {
            let ok = last.0 + last.1 == item.0;
            if ok {
                last.1 += item.1;
            }
            ok
        };
        for (i, due) in [(0, 5 * MS + 1), (1, 5 * MS + 2), (2, 6 * MS), (3, 6 * MS + 1), (5, 6 * MS + 1)] {
            w.insert_or_merge(Time(due), (i, 1), merge);
        }
        assert_eq!(w.len(), 3, "0, 1 and 2 are due in tick 6; 3 and 5 in tick 7 but not consecutive");
        let mut fired = Vec::new();
        for ms in 0..=10u64 {
            w.expire(Time(ms * MS), |i| fired.push((ms, i)));
        }
        assert_eq!(fired, vec![(6, (0, 3)), (7, (3, 1)), (7, (5, 1))]);
    }

    #[test]
    fn a_long_stall_fires_everything_due_and_keeps_the_rest() {
        let mut w = Wheel::<_, MS>::new(64 * MS, Time::ZERO);
        for ms in 1..=1000u64 {
            w.insert(Time(ms * MS), ms);
        }
        let mut n = 0;
        w.expire(Time(500 * MS), |ms| {
            assert!(ms <= 500);
            n += 1;
        });
        assert_eq!((n, w.len()), (500, 500));
        assert_eq!(w.next_due(), Some(Time(501 * MS)));
    }
}
