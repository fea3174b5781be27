//! The per-host state of the hosts that are being probed, and of no other.
//!
//! Hosts start in list order (the prober's `next_host`) and finish within a timeout or so of starting, so the
//! hosts with state are a window of the list: from the oldest one not yet finished to the newest started. Hosts
//! before it are finished (their results are out), hosts after it have not started. The state is a deque over
//! that window, indexed by host id minus the window's base, so a sweep holds as many states as hosts in flight
//! (its rate times their lifetime), not one per host of the list: a /8 held 48 bytes for each of its 16.7M
//! hosts, 805 MB, for the whole sweep. A host that lives long (a long `--interval` with many probes) holds the
//! window open behind it: at worst it spans the list, as the dense vector did.

use std::collections::VecDeque;

use super::{HostId, HostState};

#[derive(Default)]
pub(super) struct Window {
    /// The id of `states[0]`.
    base: HostId,
    states: VecDeque<HostState>,
}

impl Window {
    /// `host` starts with `state`; hosts start in id order, one after another.
    pub(super) fn start(&mut self, host: HostId, state: HostState) {
        debug_assert_eq!(host as usize, self.base as usize + self.states.len(), "hosts start in order");
        self.states.push_back(state);
    }

    /// The state of a started host that has not finished; `None` before the window (finished: a late or duplicate
    /// reply, or a timer the host no longer needs) or after it.
    pub(super) fn get(&mut self, host: HostId) -> Option<&mut HostState> {
        let i = host.checked_sub(self.base)?;
        self.states.get_mut(i as usize).filter(|st| !st.done)
    }

    /// Drops the states of the finished hosts at the front.
    pub(super) fn retire(&mut self) {
        while self.states.front().is_some_and(|st| st.done) {
            self.states.pop_front();
            self.base += 1;
        }
    }

    /// States held (for the tests: the window stays small).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.states.len()
    }
}
