//! The rate windows: the outcomes of the last `window_size` calls, or of the
//! calls of the last `window_duration`. Both are lock-free and O(1) per record
//! and per judgement.

mod count;
mod time;

pub(crate) use count::CountWindow;
pub(crate) use time::TimeWindow;

use crate::sync::atomic::{AtomicI64, Ordering};

/// Calls in a window, and how many of them failed or were slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Tally {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

/// A window's running counts, moved by differences as outcomes enter and
/// leave it. A reading between two moves may be off by one, so it is clamped.
pub(crate) struct Totals {
    calls: AtomicI64,
    failures: AtomicI64,
    slow: AtomicI64,
}

impl Totals {
    pub(crate) fn new() -> Self {
        Totals {
            calls: AtomicI64::new(0),
            failures: AtomicI64::new(0),
            slow: AtomicI64::new(0),
        }
    }

    #[inline]
    pub(crate) fn add(&self, calls: i64, failures: i64, slow: i64) {
        for (total, delta) in [
            (&self.calls, calls),
            (&self.failures, failures),
            (&self.slow, slow),
        ] {
            if delta != 0 {
                total.fetch_add(delta, Ordering::AcqRel);
            }
        }
    }

    #[inline]
    pub(crate) fn read(&self, most: u32) -> Tally {
        let read =
            |total: &AtomicI64| total.load(Ordering::Acquire).clamp(0, i64::from(most)) as u32;
        Tally {
            calls: read(&self.calls),
            failures: read(&self.failures),
            slow: read(&self.slow),
        }
    }

    pub(crate) fn reset(&self) {
        for total in [&self.calls, &self.failures, &self.slow] {
            total.store(0, Ordering::Release);
        }
    }
}

/// One call's outcome, as a window keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) failed: bool,
    pub(crate) slow: bool,
}

pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    /// Records an outcome at `now` (nanoseconds; read only by a time window).
    #[inline]
    pub(crate) fn record(&self, outcome: Outcome, now: impl FnOnce() -> u64) -> Tally {
        match self {
            Window::Count(window) => window.record(outcome),
            Window::Time(window) => window.record(outcome, now()),
        }
    }

    #[inline]
    pub(crate) fn tally(&self, now: impl FnOnce() -> u64) -> Tally {
        match self {
            Window::Count(window) => window.tally(),
            Window::Time(window) => window.tally(now()),
        }
    }

    pub(crate) fn reset(&self) {
        match self {
            Window::Count(window) => window.reset(),
            Window::Time(window) => window.reset(),
        }
    }
}
