//! The breaker's whole state machine in one `u64`, changed only by
//! compare-and-swap:
//!
//! | bits  | CLOSED               | OPEN | HALF_OPEN                          |
//! |-------|----------------------|------|------------------------------------|
//! | 0-1   | 0                    | 1    | 2                                  |
//! | 2-31  | consecutive failures | 0    | probes in flight (2-16), successes (17-31) |
//! | 32-63 | epoch                | epoch | epoch                             |
//!
//! The epoch grows with every transition. A permit remembers the epoch it was
//! issued in, and its outcome only counts while that epoch lasts, so a late
//! result can neither close, reopen nor skew a state it did not run in.

/// Largest `failure_threshold` the word can count to.
pub(crate) const MAX_FAILURE_THRESHOLD: u32 = (1 << 30) - 1;
/// Largest `half_open_max_calls` the word can count to.
pub(crate) const MAX_HALF_OPEN_CALLS: u32 = (1 << 15) - 1;

const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Closed { failures: u32 },
    Open,
    HalfOpen { in_flight: u32, successes: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    pub(crate) fn new(epoch: u32, phase: Phase) -> Word {
        let low = match phase {
            Phase::Closed { failures } => CLOSED | u64::from(failures) << 2,
            Phase::Open => OPEN,
            Phase::HalfOpen {
                in_flight,
                successes,
            } => HALF_OPEN | u64::from(in_flight) << 2 | u64::from(successes) << 17,
        };
        Word(u64::from(epoch) << 32 | low)
    }

    pub(crate) fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub(crate) fn phase(self) -> Phase {
        let low = self.0 as u32;
        match u64::from(low & 0b11) {
            CLOSED => Phase::Closed { failures: low >> 2 },
            OPEN => Phase::Open,
            _ => Phase::HalfOpen {
                in_flight: (low >> 2) & MAX_HALF_OPEN_CALLS,
                successes: (low >> 17) & MAX_HALF_OPEN_CALLS,
            },
        }
    }

    /// The same epoch in another phase.
    pub(crate) fn with(self, phase: Phase) -> Word {
        Word::new(self.epoch(), phase)
    }

    /// The next epoch, in `phase`.
    pub(crate) fn next(self, phase: Phase) -> Word {
        Word::new(self.epoch().wrapping_add(1), phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_round_trips_at_its_limits() {
        for epoch in [0, 1, u32::MAX] {
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
            ] {
                let word = Word::new(epoch, phase);
                assert_eq!((word.epoch(), word.phase()), (epoch, phase));
            }
        }
    }

    #[test]
    fn next_moves_to_a_new_epoch_and_wraps() {
        let word = Word::new(u32::MAX, Phase::Open).next(Phase::Closed { failures: 0 });
        assert_eq!(word.epoch(), 0);
    }
}
