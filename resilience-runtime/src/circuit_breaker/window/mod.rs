//! The rate windows: the outcomes of the last `window_size` calls, or of the
//! calls of the last `window_duration`. Both are lock-free and O(1) per record
//! and per judgement.

mod count;
mod time;

pub(crate) use count::CountWindow;
pub(crate) use time::TimeWindow;

/// Calls in a window, and how many of them failed or were slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Tally {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
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
    pub(crate) fn record(&self, outcome: Outcome, now: impl FnOnce() -> u64) -> Tally {
        match self {
            Window::Count(window) => window.record(outcome),
            Window::Time(window) => window.record(outcome, now()),
        }
    }

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
