//! The outcomes of a retry's last 100 calls, for `adaptive` waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Calls remembered.
const CALLS: u64 = 100;

/// A ring of 100 bits (1 for a call that succeeded) in two words, written
/// with one `fetch_add` and one `fetch_or` or `fetch_and`: no lock.
#[derive(Debug, Default)]
pub(crate) struct History {
    bits: [AtomicU64; 2],
    /// Calls recorded since creation; the next one's slot is this modulo 100.
    cursor: AtomicU64,
}

impl History {
    /// Records one ended call.
    pub(crate) fn record(&self, ok: bool) {
        let slot = self.cursor.fetch_add(1, Ordering::Relaxed) % CALLS;
        let (word, bit) = (&self.bits[(slot / 64) as usize], 1u64 << (slot % 64));
        if ok {
            word.fetch_or(bit, Ordering::Relaxed);
        } else {
            word.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// The share of the remembered calls that succeeded; `None` before any.
    pub(crate) fn success_rate(&self) -> Option<f64> {
        let calls = self.cursor.load(Ordering::Relaxed).min(CALLS);
        if calls == 0 {
            return None;
        }
        // Unwritten slots are zero, so the ones counted are all written ones.
        let ones = self.bits[0].load(Ordering::Relaxed).count_ones()
            + self.bits[1].load(Ordering::Relaxed).count_ones();
        Some((f64::from(ones) / calls as f64).min(1.0))
    }

    /// SysManage's factor for the wait, as a fraction so that waits scale
    /// exactly: 0.7 above 90% successes, 1.0 above 70%, 1.5 above 50%, 2.0
    /// otherwise; 1.0 with no history yet.
    pub(crate) fn factor(&self) -> (u32, u32) {
        match self.success_rate() {
            None => (1, 1),
            Some(rate) if rate > 0.9 => (7, 10),
            Some(rate) if rate > 0.7 => (1, 1),
            Some(rate) if rate > 0.5 => (3, 2),
            Some(_) => (2, 1),
        }
    }

    /// `wait` scaled by [`factor`](Self::factor), saturating.
    pub(crate) fn scale(&self, wait: Duration) -> Duration {
        let (numerator, denominator) = self.factor();
        wait.checked_mul(numerator)
            .map_or(Duration::MAX, |wait| wait / denominator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(successes: usize, failures: usize) -> History {
        let history = History::default();
        for _ in 0..failures {
            history.record(false);
        }
        for _ in 0..successes {
            history.record(true);
        }
        history
    }

    #[test]
    fn each_band_has_its_factor() {
        let wait = Duration::from_millis(100);
        let scaled = |h: History| h.scale(wait).as_millis();
        assert_eq!(scaled(History::default()), 100);
        assert_eq!(scaled(history(91, 9)), 70);
        assert_eq!(scaled(history(90, 10)), 100, "90% is not above 90%");
        assert_eq!(scaled(history(71, 29)), 100);
        assert_eq!(scaled(history(70, 30)), 150);
        assert_eq!(scaled(history(51, 49)), 150);
        assert_eq!(scaled(history(50, 50)), 200);
        assert_eq!(scaled(history(0, 3)), 200);
        assert_eq!(history(0, 1).scale(Duration::MAX), Duration::MAX);
    }

    #[test]
    fn only_the_last_hundred_calls_count() {
        let history = history(0, 250);
        assert_eq!(history.success_rate(), Some(0.0));
        for _ in 0..95 {
            history.record(true);
        }
        assert_eq!(history.success_rate(), Some(0.95));
        for _ in 0..100 {
            history.record(false);
        }
        assert_eq!(history.success_rate(), Some(0.0));
    }

    #[test]
    fn a_short_history_is_judged_on_the_calls_it_has() {
        assert_eq!(history(3, 1).success_rate(), Some(0.75));
    }
}
