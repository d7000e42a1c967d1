//! Time as the policies see it.
//!
//! Policies keep time as nanoseconds since their own creation so that it fits
//! in one atomic word. They read the CPU's counter through quanta (calibrated
//! once per process against the monotonic clock, which it falls back to on a
//! CPU without an invariant counter): about 10 ns on the benchmark VM, where
//! `Instant::now()` costs 24 ns and was most of a rate limiter's check.
//!
//! A policy created while tokio's clock is paused (inside a runtime started
//! with `start_paused = true`, or after `tokio::time::pause()`) reads
//! `tokio::time::Instant` instead, so tests that advance the paused clock see
//! exact times.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::time::Instant;

/// A policy's time origin.
#[derive(Debug, Clone)]
pub(crate) struct Epoch(Source);

#[derive(Debug, Clone)]
enum Source {
    // The process's clock by reference: a policy's own copy of its
    // calibration would be another cache line to miss in a keyed family.
    Counter {
        clock: &'static quanta::Clock,
        origin: u64,
    },
    Tokio(Instant),
}

impl Epoch {
    pub(crate) fn now() -> Self {
        if tokio_clock_is_paused() {
            return Epoch(Source::Tokio(Instant::now()));
        }
        let clock = counter();
        Epoch(Source::Counter {
            origin: clock.raw(),
            clock,
        })
    }

    /// Nanoseconds since this origin (zero if the clock reads earlier, as a
    /// paused clock in another runtime may).
    #[inline]
    pub(crate) fn nanos(&self) -> u64 {
        match &self.0 {
            Source::Counter { clock, origin } => clock.delta_as_nanos(*origin, clock.raw()),
            Source::Tokio(origin) => {
                saturating_nanos(Instant::now().saturating_duration_since(*origin))
            }
        }
    }
}

/// The process's calibrated counter; quanta calibrates it once, spinning for
/// at least half a millisecond.
fn counter() -> &'static quanta::Clock {
    static COUNTER: OnceLock<quanta::Clock> = OnceLock::new();
    COUNTER.get_or_init(quanta::Clock::new)
}

/// Whether the calling thread runs a tokio runtime whose clock is paused.
fn tokio_clock_is_paused() -> bool {
    // Only a current-thread runtime can pause its clock.
    let paused_possible = Handle::try_current()
        .is_ok_and(|runtime| runtime.runtime_flavor() == RuntimeFlavor::CurrentThread);
    if !paused_possible {
        return false;
    }
    // A paused clock stands still until advanced (auto-advance waits for the
    // runtime to go idle, which it cannot while this runs); a running one
    // moves within a microsecond.
    let before = Instant::now();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_micros(1) {
        std::hint::spin_loop();
    }
    Instant::now() == before
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (584 years).
#[inline]
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_policy_made_on_a_paused_clock_follows_it() {
        let epoch = Epoch::now();
        assert!(matches!(epoch.0, Source::Tokio(_)));
        assert_eq!(epoch.nanos(), 0);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(epoch.nanos(), 30_000_000_000);
    }

    #[tokio::test]
    async fn a_policy_made_on_a_running_clock_reads_the_counter() {
        let before = std::time::Instant::now();
        let epoch = Epoch::now();
        let after = std::time::Instant::now();
        assert!(matches!(epoch.0, Source::Counter { .. }));
        while before.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        // Bracketed by the monotonic clock, so preemption cannot fail it; 1%
        // is far more than quanta's calibration error.
        let shortest = saturating_nanos(after.elapsed());
        let counted = epoch.nanos();
        let longest = saturating_nanos(before.elapsed());
        assert!(
            counted >= shortest * 99 / 100 && counted <= longest * 101 / 100,
            "the counter said {counted} ns, the monotonic clock {shortest}-{longest} ns"
        );
    }

    #[test]
    fn outside_a_runtime_the_counter_is_read() {
        assert!(matches!(Epoch::now().0, Source::Counter { .. }));
    }
}
