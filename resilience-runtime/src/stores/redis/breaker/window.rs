//! The fleet's window: every replica's outcomes, counted in Redis in
//! buckets of a tenth of the window, one hash per bucket (`s` successes,
//! `f` failures) that expires once it has left every window.

use std::ops::RangeInclusive;
use std::time::Duration;

/// The window of a breaker without `window_duration` (a count window
/// counts calls, which a fleet cannot order).
pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

/// Buckets in a window: the window slides by a tenth of itself.
const BUCKETS: u64 = 10;

/// How a window is cut into buckets, in milliseconds of Redis's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Buckets {
    length_ms: u64,
    count: u64,
}

impl Buckets {
    /// The buckets of a window of `window_duration`, or of [`DEFAULT_WINDOW`].
    pub(crate) fn new(window_duration: Option<Duration>) -> Self {
        let window_ms = u64::try_from(window_duration.unwrap_or(DEFAULT_WINDOW).as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let length_ms = (window_ms / BUCKETS).max(1);
        Buckets {
            length_ms,
            count: window_ms.div_ceil(length_ms),
        }
    }

    /// The bucket that counts the outcomes of `unix_ms`.
    pub(crate) fn index(self, unix_ms: u64) -> u64 {
        unix_ms / self.length_ms
    }

    /// The buckets judged at `unix_ms`, oldest first: the window's, none
    /// before `from`.
    pub(crate) fn window(self, unix_ms: u64, from: u64) -> RangeInclusive<u64> {
        let current = self.index(unix_ms);
        current.saturating_sub(self.count - 1).max(from)..=current
    }

    /// How long a bucket is kept after its last write: until no window
    /// reaches it any more.
    pub(crate) fn expiry_ms(self) -> u64 {
        (self.count + 1).saturating_mul(self.length_ms)
    }
}

/// The outcomes counted in the buckets judged.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) successes: u64,
    pub(crate) failures: u64,
}

impl Tally {
    /// The failure rate, when the window holds at least `minimum` calls (and
    /// one) and the rate is at or above `threshold`.
    pub(crate) fn exceeds(self, minimum: u32, threshold: f64) -> Option<f64> {
        let calls = self.successes.saturating_add(self.failures);
        if calls == 0 || calls < u64::from(minimum) {
            return None;
        }
        let rate = self.failures as f64 / calls as f64;
        (rate >= threshold).then_some(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_ten_buckets_of_a_tenth_and_ten_seconds_without_a_duration() {
        let default = Buckets::new(None);
        assert_eq!((default.length_ms, default.count), (1_000, 10));
        let minute = Buckets::new(Some(Duration::from_secs(60)));
        assert_eq!((minute.length_ms, minute.count), (6_000, 10));
        // Too short to cut in ten: one-millisecond buckets.
        let tiny = Buckets::new(Some(Duration::from_millis(5)));
        assert_eq!((tiny.length_ms, tiny.count), (1, 5));
        let uneven = Buckets::new(Some(Duration::from_millis(1_005)));
        assert_eq!((uneven.length_ms, uneven.count), (100, 11));
    }

    #[test]
    fn the_window_ends_at_the_current_bucket_and_starts_no_earlier_than_asked() {
        let buckets = Buckets::new(Some(Duration::from_secs(1)));
        assert_eq!(buckets.index(12_345), 123);
        assert_eq!(buckets.window(12_345, 0), 114..=123);
        assert_eq!(buckets.window(12_345, 120), 120..=123);
        assert!(buckets.window(12_345, 124).is_empty());
        assert_eq!(buckets.window(50, 0), 0..=0);
        // Kept until the window has slid past it.
        assert_eq!(buckets.expiry_ms(), 1_100);
    }

    #[test]
    fn a_rate_is_judged_from_the_minimum_calls_at_or_above_the_threshold() {
        let tally = |successes, failures| Tally {
            successes,
            failures,
        };
        assert_eq!(tally(5, 5).exceeds(10, 0.5), Some(0.5));
        assert_eq!(tally(5, 4).exceeds(10, 0.4), None, "9 calls, 10 needed");
        assert_eq!(tally(6, 4).exceeds(10, 0.5), None, "40% is below 50%");
        assert_eq!(tally(0, 0).exceeds(0, 0.5), None);
    }
}
