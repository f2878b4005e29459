//! Sliding-window counting, used to slow down password guessing per account
//! and per client address and sign-ups per address. Callers record an
//! attempt when it starts ([`SlidingWindow::try_record`]), so attempts still
//! in flight count against the limit, not only finished ones. Pure: the
//! caller passes `now`.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use jiff::{SignedDuration, Timestamp};

/// Counts events per key within a window and says when a key is over its limit.
#[derive(Debug)]
pub struct SlidingWindow<K> {
    limit: u32,
    window: SignedDuration,
    events: HashMap<K, VecDeque<Timestamp>>,
}

impl<K: Hash + Eq + Clone> SlidingWindow<K> {
    pub fn new(limit: u32, window: SignedDuration) -> Self {
        Self {
            limit,
            window,
            events: HashMap::new(),
        }
    }

    fn prune(&mut self, key: &K, now: Timestamp) {
        let window = self.window;
        if let Some(q) = self.events.get_mut(key) {
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
            if q.is_empty() {
                self.events.remove(key);
            }
        }
    }

    /// `Some(retry_after)` when `key` has used up its allowance.
    pub fn blocked(&mut self, key: &K, now: Timestamp) -> Option<SignedDuration> {
        self.prune(key, now);
        let q = self.events.get(key)?;
        if q.len() < self.limit as usize {
            return None;
        }
        let oldest = *q.front()?;
        Some(self.window - now.duration_since(oldest))
    }

    pub fn record(&mut self, key: &K, now: Timestamp) {
        self.prune(key, now);
        self.events.entry(key.clone()).or_default().push_back(now);
        // Memory stays bounded: a key never keeps more than `limit` events.
        let q = self.events.get_mut(key).expect("just inserted");
        while q.len() > self.limit as usize {
            q.pop_front();
        }
    }

    /// Records an attempt unless `key` has used up its allowance (then
    /// `Err(retry_after)` and nothing is recorded).
    pub fn try_record(&mut self, key: &K, now: Timestamp) -> Result<(), SignedDuration> {
        match self.blocked(key, now) {
            Some(wait) => Err(wait),
            None => {
                self.record(key, now);
                Ok(())
            }
        }
    }

    /// Takes back the newest recorded event of `key` (an attempt that
    /// turned out fine).
    pub fn forget_one(&mut self, key: &K) {
        if let Some(q) = self.events.get_mut(key) {
            q.pop_back();
            if q.is_empty() {
                self.events.remove(key);
            }
        }
    }

    pub fn clear(&mut self, key: &K) {
        self.events.remove(key);
    }

    /// Drops keys whose events all left the window (call now and then).
    pub fn sweep(&mut self, now: Timestamp) {
        let window = self.window;
        self.events
            .retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
    }
}

/// Failures per key that slow further attempts down instead of locking the
/// key: after `free` failures within `window`, each attempt must wait
/// `base`, then twice that, and so on up to `max`, counted from the last
/// attempt. Used per account, so someone failing on purpose can slow the
/// account's owner by at most `max`, never lock them out.
#[derive(Debug)]
pub struct Backoff<K> {
    free: u32,
    window: SignedDuration,
    base: SignedDuration,
    max: SignedDuration,
    keys: HashMap<K, (u32, Timestamp)>,
}

impl<K: Hash + Eq + Clone> Backoff<K> {
    pub fn new(free: u32, window: SignedDuration) -> Self {
        Self {
            free,
            window,
            base: SignedDuration::from_secs(1),
            max: SignedDuration::from_secs(60),
            keys: HashMap::new(),
        }
    }

    /// The failures of `key` still counted at `now`.
    fn failures(&mut self, key: &K, now: Timestamp) -> u32 {
        match self.keys.get(key) {
            Some(&(_, last)) if now.duration_since(last) >= self.window => {
                self.keys.remove(key);
                0
            }
            Some(&(n, _)) => n,
            None => 0,
        }
    }

    /// The delay after `n` failures.
    fn delay(&self, n: u32) -> SignedDuration {
        if n < self.free {
            return SignedDuration::ZERO;
        }
        let doublings = (n - self.free).min(20);
        let secs = self.base.as_secs().saturating_mul(1i64 << doublings);
        SignedDuration::from_secs(secs).min(self.max)
    }

    /// `Some(retry_after)` while `key` must wait before its next attempt.
    pub fn blocked(&mut self, key: &K, now: Timestamp) -> Option<SignedDuration> {
        let n = self.failures(key, now);
        let &(_, last) = self.keys.get(key)?;
        let wait = self.delay(n) - now.duration_since(last);
        (wait > SignedDuration::ZERO).then_some(wait)
    }

    /// Counts an attempt (it starts now; take it back if it succeeds).
    pub fn record(&mut self, key: &K, now: Timestamp) {
        let n = self.failures(key, now);
        self.keys.insert(key.clone(), (n.saturating_add(1), now));
    }

    /// Takes back the newest attempt of `key` (it never ran).
    pub fn forget_one(&mut self, key: &K) {
        if let Some((n, _)) = self.keys.get_mut(key) {
            *n = n.saturating_sub(1);
        }
    }

    pub fn clear(&mut self, key: &K) {
        self.keys.remove(key);
    }

    /// Drops keys whose last attempt left the window.
    pub fn sweep(&mut self, now: Timestamp) {
        let window = self.window;
        self.keys
            .retain(|_, (_, last)| now.duration_since(*last) < window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_slows_down_and_never_locks() {
        let t0: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        let s = SignedDuration::from_secs;
        let mut b = Backoff::new(3, SignedDuration::from_mins(15));
        let k = "owner@example.org".to_owned();
        for i in 0..3 {
            assert_eq!(b.blocked(&k, t0 + s(i)), None, "the first three are free");
            b.record(&k, t0 + s(i));
        }
        // Then 1 s, 2 s, 4 s ... after the last attempt.
        let mut t = t0 + s(2);
        for want in [1, 2, 4, 8, 16, 32, 60, 60, 60] {
            assert_eq!(b.blocked(&k, t), Some(s(want)));
            t += s(want);
            assert_eq!(
                b.blocked(&k, t),
                None,
                "after {want} s the next attempt may run"
            );
            b.record(&k, t);
        }
        // A quiet window forgives everything.
        assert_eq!(b.blocked(&k, t + SignedDuration::from_mins(15)), None);
        b.record(&k, t + SignedDuration::from_mins(15));
        assert_eq!(b.blocked(&k, t + SignedDuration::from_mins(15)), None);
        b.sweep(t + SignedDuration::from_mins(31));
        assert!(b.keys.is_empty());
    }

    #[test]
    fn blocks_after_limit_and_recovers_after_window() {
        let t0: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let mut w = SlidingWindow::new(3, SignedDuration::from_mins(15));
        let k = "ada".to_owned();
        for i in 0..3 {
            assert!(w.blocked(&k, t0 + SignedDuration::from_secs(i)).is_none());
            w.record(&k, t0 + SignedDuration::from_secs(i));
        }
        let retry = w.blocked(&k, t0 + SignedDuration::from_secs(10)).unwrap();
        assert_eq!(retry, SignedDuration::from_secs(15 * 60 - 10));
        assert!(w.blocked(&"other".to_owned(), t0).is_none());
        assert!(w.blocked(&k, t0 + SignedDuration::from_mins(15)).is_none());
        w.record(&k, t0);
        w.clear(&k);
        assert!(w.blocked(&k, t0).is_none());
        w.record(&k, t0);
        w.sweep(t0 + SignedDuration::from_mins(16));
        assert!(w.events.is_empty());
    }

    #[test]
    fn attempts_in_flight_count_and_successes_are_taken_back() {
        let t0: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let mut w = SlidingWindow::new(2, SignedDuration::from_mins(15));
        let k = "10.0.0.1".to_owned();
        // Two attempts started, none finished: the third is refused.
        assert!(w.try_record(&k, t0).is_ok());
        assert!(w.try_record(&k, t0).is_ok());
        assert_eq!(w.try_record(&k, t0), Err(SignedDuration::from_mins(15)));
        // One of them succeeded: its place is free again.
        w.forget_one(&k);
        assert!(w.try_record(&k, t0).is_ok());
        w.forget_one(&k);
        w.forget_one(&k);
        assert!(w.events.is_empty());
    }
}
