//! The breaker's whole state machine in one `u64`, changed only by
//! compare-and-swap:
//!
//! | bits  | meaning |
//! |-------|---------|
//! | 0-2   | phase: CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, DISABLED, METRICS_ONLY |
//! | 3     | which of the two rate windows the calls of this phase record into |
//! | 4-31  | CLOSED: consecutive failures; HALF_OPEN: probes in flight (4-17) and successes (18-31) |
//! | 32-63 | epoch |
//!
//! The epoch grows with every transition. A permit remembers the epoch (and
//! the window) it was issued in, and its outcome only counts while that epoch
//! lasts, so a late result can neither close, reopen nor skew a state it did
//! not run in. Entering CLOSED or METRICS_ONLY flips the window, so even a
//! result that races the transition lands in the window that was left.

/// Largest `failure_threshold` the word can count to.
pub(crate) const MAX_FAILURE_THRESHOLD: u32 = (1 << 28) - 1;
/// Largest `half_open_max_calls` the word can count to.
pub(crate) const MAX_HALF_OPEN_CALLS: u32 = (1 << 14) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Closed { failures: u32 },
    Open,
    HalfOpen { in_flight: u32, successes: u32 },
    ForcedOpen,
    Disabled,
    MetricsOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    #[inline]
    pub(crate) fn new(epoch: u32, window: u8, phase: Phase) -> Word {
        let (code, payload) = match phase {
            Phase::Closed { failures } => (0, u64::from(failures)),
            Phase::Open => (1, 0),
            Phase::HalfOpen {
                in_flight,
                successes,
            } => (2, u64::from(in_flight) | u64::from(successes) << 14),
            Phase::ForcedOpen => (3, 0),
            Phase::Disabled => (4, 0),
            Phase::MetricsOnly => (5, 0),
        };
        Word(u64::from(epoch) << 32 | payload << 4 | u64::from(window & 1) << 3 | code)
    }

    #[inline]
    pub(crate) fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }

    #[inline]
    pub(crate) fn window(self) -> u8 {
        ((self.0 >> 3) & 1) as u8
    }

    #[inline]
    pub(crate) fn phase(self) -> Phase {
        let payload = (self.0 as u32) >> 4;
        match self.0 & 0b111 {
            0 => Phase::Closed { failures: payload },
            1 => Phase::Open,
            2 => Phase::HalfOpen {
                in_flight: payload & MAX_HALF_OPEN_CALLS,
                successes: payload >> 14,
            },
            3 => Phase::ForcedOpen,
            4 => Phase::Disabled,
            _ => Phase::MetricsOnly,
        }
    }

    /// The same epoch and window, in another phase.
    #[inline]
    pub(crate) fn with(self, phase: Phase) -> Word {
        Word::new(self.epoch(), self.window(), phase)
    }

    /// The next epoch, in `phase`, recording into the same window.
    #[inline]
    pub(crate) fn next(self, phase: Phase) -> Word {
        Word::new(self.epoch().wrapping_add(1), self.window(), phase)
    }

    /// The next epoch, in `phase`, recording into the other window.
    pub(crate) fn next_with_fresh_window(self, phase: Phase) -> Word {
        Word::new(self.epoch().wrapping_add(1), self.window() ^ 1, phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_round_trips_at_its_limits() {
        for epoch in [0, 1, u32::MAX] {
            for window in [0, 1] {
                for phase in [
                    Phase::Closed { failures: 0 },
                    Phase::Closed {
                        failures: MAX_FAILURE_THRESHOLD,
                    },
                    Phase::Open,
                    Phase::HalfOpen {
                        in_flight: MAX_HALF_OPEN_CALLS,
                        successes: 0,
                    },
                    Phase::HalfOpen {
                        in_flight: 1,
                        successes: MAX_HALF_OPEN_CALLS,
                    },
                    Phase::ForcedOpen,
                    Phase::Disabled,
                    Phase::MetricsOnly,
                ] {
                    let word = Word::new(epoch, window, phase);
                    assert_eq!(
                        (word.epoch(), word.window(), word.phase()),
                        (epoch, window, phase)
                    );
                }
            }
        }
    }

    #[test]
    fn a_fresh_window_flips_and_the_epoch_wraps() {
        let word = Word::new(u32::MAX, 1, Phase::Open);
        let closed = word.next_with_fresh_window(Phase::Closed { failures: 0 });
        assert_eq!((closed.epoch(), closed.window()), (0, 0));
        assert_eq!(word.next(Phase::Disabled).window(), 1);
    }
}
