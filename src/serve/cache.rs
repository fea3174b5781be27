//! The overview's slow answers, kept for a while: the least available hosts over a window scan every host's
//! rollups (0.6 s for 15,000 hosts over 24 hours), and the heatmap two weeks of daily rows. A value younger than
//! [`FRESH`] is served as it is; an older one (up to [`STALE`]) is served while one background thread computes
//! the next; with none, the request computes it. So a page waits for these queries only the first time, and
//! shows data at most a refresh old (sweeps come a minute apart anyway).
//!
//! Time is a parameter ([`Cache::lookup`] takes `now`), so the policy is tested without a clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const FRESH: Duration = Duration::from_secs(30);
/// Past this a value is not shown at all: the request computes a new one.
pub const STALE: Duration = Duration::from_secs(600);

struct Entry<V> {
    value: Option<(Instant, Arc<V>)>,
    refreshing: bool,
}

/// What a lookup found, and what the caller is to do.
pub enum Lookup<V> {
    /// Serve it.
    Fresh(Arc<V>),
    /// Serve it, and refresh it in the background: the caller has the refresh to itself.
    Refresh(Arc<V>),
    /// Serve it; another refresh is under way.
    Stale(Arc<V>),
    /// Nothing to serve: compute it now.
    Missing,
}

pub struct Cache<V> {
    entries: Mutex<HashMap<String, Entry<V>>>,
}

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Cache { entries: Mutex::new(HashMap::new()) }
    }
}

impl<V> Cache<V> {
    pub fn lookup(&self, key: &str, now: Instant) -> Lookup<V> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = map.entry(key.to_string()).or_insert(Entry { value: None, refreshing: false });
        match &e.value {
            Some((at, v)) if now.saturating_duration_since(*at) < FRESH => Lookup::Fresh(Arc::clone(v)),
            Some((at, v)) if now.saturating_duration_since(*at) < STALE => {
                let v = Arc::clone(v);
                if e.refreshing {
                    Lookup::Stale(v)
                } else {
                    e.refreshing = true;
                    Lookup::Refresh(v)
                }
            }
            _ => Lookup::Missing,
        }
    }

    /// A value computed at `at` (its query's start); ends a refresh.
    pub fn store(&self, key: &str, at: Instant, value: Arc<V>) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = map.entry(key.to_string()).or_insert(Entry { value: None, refreshing: false });
        if e.value.as_ref().is_none_or(|(old, _)| *old <= at) {
            e.value = Some((at, value));
        }
        e.refreshing = false;
    }

    /// A refresh that failed: the next lookup may try again.
    pub fn failed(&self, key: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = map.get_mut(key) {
            e.refreshing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_values_are_served_stale_ones_refreshed_once_and_old_ones_recomputed() {
        let c: Cache<u32> = Cache::default();
        let t0 = Instant::now();
        assert!(matches!(c.lookup("24h", t0), Lookup::Missing));
        c.store("24h", t0, Arc::new(1));
        assert!(matches!(c.lookup("24h", t0 + FRESH / 2), Lookup::Fresh(v) if *v == 1));
        let later = t0 + FRESH + Duration::from_secs(1);
        assert!(matches!(c.lookup("24h", later), Lookup::Refresh(v) if *v == 1), "the first stale lookup refreshes");
        assert!(matches!(c.lookup("24h", later), Lookup::Stale(_)), "only one refresh at a time");
        c.failed("24h");
        assert!(matches!(c.lookup("24h", later), Lookup::Refresh(_)), "a failed refresh is tried again");
        c.store("24h", later, Arc::new(2));
        assert!(matches!(c.lookup("24h", later), Lookup::Fresh(v) if *v == 2));
        c.store("24h", t0, Arc::new(3));
        assert!(matches!(c.lookup("24h", later), Lookup::Fresh(v) if *v == 2), "an older result never wins");
        assert!(matches!(c.lookup("24h", later + STALE), Lookup::Missing), "too old to show");
        assert!(matches!(c.lookup("7d", later), Lookup::Missing), "windows are kept apart");
    }
}
