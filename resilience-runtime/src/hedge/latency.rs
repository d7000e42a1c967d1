//! The recent latencies of a hedge's successful copies, and their percentile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How many latencies are kept: the percentile is of the last this many.
pub(crate) const WINDOW: usize = 128;

/// How many latencies must be recorded before the percentile replaces the
/// floor: fewer say little about the tail.
pub(crate) const MIN_SAMPLES: u64 = 20;

/// The percentile is computed again after this many new latencies; in
/// between, timers are armed with the one computed last.
const REFRESH_EVERY: u64 = 16;

/// A fixed ring of the last [`WINDOW`] latencies in atomics: recording one is
/// a `fetch_add` and a store, with no lock and no allocation.
pub(crate) struct Latencies {
    ring: [AtomicU64; WINDOW],
    /// Latencies recorded since creation; the next one goes to `recorded % WINDOW`.
    recorded: AtomicU64,
    /// The last computed percentile in nanoseconds, for the percentile in
    /// `cached_for` (its bits), computed when `recorded` was `cached_at`.
    cached: AtomicU64,
    cached_for: AtomicU64,
    cached_at: AtomicU64,
}

impl Latencies {
    pub(crate) fn new() -> Self {
        Latencies {
            ring: [const { AtomicU64::new(0) }; WINDOW],
            recorded: AtomicU64::new(0),
            cached: AtomicU64::new(0),
            cached_for: AtomicU64::new(f64::NAN.to_bits()),
            cached_at: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn record(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let slot = self.recorded.fetch_add(1, Ordering::Relaxed) as usize % WINDOW;
        self.ring[slot].store(nanos, Ordering::Relaxed);
    }

    /// The latency below which `percentile` percent of the recent ones fall
    /// (nearest rank), or `None` while fewer than [`MIN_SAMPLES`] are known.
    pub(crate) fn percentile(&self, percentile: f64) -> Option<Duration> {
        let recorded = self.recorded.load(Ordering::Relaxed);
        if recorded < MIN_SAMPLES {
            return None;
        }
        let fresh = self.cached_for.load(Ordering::Relaxed) == percentile.to_bits()
            && recorded.wrapping_sub(self.cached_at.load(Ordering::Relaxed)) < REFRESH_EVERY;
        if fresh {
            return Some(Duration::from_nanos(self.cached.load(Ordering::Relaxed)));
        }
        let count = recorded.min(WINDOW as u64) as usize;
        let mut sorted = [0u64; WINDOW];
        for (copy, slot) in sorted.iter_mut().zip(&self.ring).take(count) {
            *copy = slot.load(Ordering::Relaxed);
        }
        let samples = &mut sorted[..count];
        let rank = ((percentile / 100.0 * count as f64).ceil() as usize).clamp(1, count) - 1;
        let (_, nanos, _) = samples.select_nth_unstable(rank);
        let nanos = *nanos;
        // Racing refreshes write values computed from the same ring: any of
        // them will do.
        self.cached.store(nanos, Ordering::Relaxed);
        self.cached_for
            .store(percentile.to_bits(), Ordering::Relaxed);
        self.cached_at.store(recorded, Ordering::Relaxed);
        Some(Duration::from_nanos(nanos))
    }

    /// How many latencies have been recorded.
    pub(crate) fn recorded(&self) -> u64 {
        self.recorded.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latencies")
            .field("recorded", &self.recorded())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn no_percentile_before_enough_samples() {
        let latencies = Latencies::new();
        for _ in 0..MIN_SAMPLES - 1 {
            latencies.record(ms(5));
        }
        assert_eq!(latencies.percentile(95.0), None);
        latencies.record(ms(5));
        assert_eq!(latencies.percentile(95.0), Some(ms(5)));
    }

    #[test]
    fn nearest_rank_of_the_recent_window() {
        let latencies = Latencies::new();
        for n in 1..=100 {
            latencies.record(ms(n));
        }
        assert_eq!(latencies.percentile(95.0), Some(ms(95)));
        assert_eq!(latencies.percentile(50.0), Some(ms(50)));
        assert_eq!(latencies.percentile(99.9), Some(ms(100)));
        // The oldest fall out of the window: 128 of 1000 ms push 100 of the
        // small ones out.
        for _ in 0..WINDOW {
            latencies.record(ms(1000));
        }
        assert_eq!(latencies.percentile(50.0), Some(ms(1000)));
    }

    #[test]
    fn the_cached_percentile_is_refreshed_after_a_few_samples() {
        let latencies = Latencies::new();
        for _ in 0..WINDOW {
            latencies.record(ms(1));
        }
        assert_eq!(latencies.percentile(90.0), Some(ms(1)));
        for _ in 0..REFRESH_EVERY - 1 {
            latencies.record(ms(9));
        }
        assert_eq!(
            latencies.percentile(90.0),
            Some(ms(1)),
            "served from the cache"
        );
        latencies.record(ms(9));
        assert_eq!(latencies.percentile(90.0), Some(ms(9)));
    }
}
