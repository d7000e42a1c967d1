//! What a breaker's transitions add up to, for operators: how often it moved
//! between each pair of states, since when it is in the current one, and how
//! long it has refused calls in all. Written only on transitions, off the
//! call path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::CircuitState;

const STATES: usize = CircuitState::ALL.len();

#[derive(Debug)]
pub(super) struct History {
    transitions: [AtomicU64; STATES * STATES],
    /// When the current state was entered, in nanoseconds of the breaker's clock.
    entered: AtomicU64,
    /// Nanoseconds spent refusing calls, in states left already.
    refusing: AtomicU64,
    /// When the breaker last began refusing calls after letting them through,
    /// in nanoseconds of its clock: the start of the current outage, which
    /// moves between OPEN and HALF_OPEN do not restart.
    outage_began: AtomicU64,
}

impl History {
    pub(super) fn new() -> Self {
        History {
            transitions: [const { AtomicU64::new(0) }; STATES * STATES],
            entered: AtomicU64::new(0),
            refusing: AtomicU64::new(0),
            outage_began: AtomicU64::new(0),
        }
    }

    /// Records a transition announced at `now`. Two transitions announced at
    /// once may be recorded in either order; the durations stay close.
    pub(super) fn record(&self, from: CircuitState, to: CircuitState, now: u64) {
        self.transitions[index(from) * STATES + index(to)].fetch_add(1, Ordering::Relaxed);
        let entered = self.entered.swap(now, Ordering::AcqRel);
        if refuses(from) {
            self.refusing
                .fetch_add(now.saturating_sub(entered), Ordering::Relaxed);
        } else if refuses(to) {
            self.outage_began.store(now, Ordering::Release);
        }
    }

    /// How long the breaker has been in `state` (its current one) at `now`.
    pub(super) fn in_state(&self, now: u64) -> Duration {
        Duration::from_nanos(now.saturating_sub(self.entered.load(Ordering::Acquire)))
    }

    /// Time spent OPEN, HALF_OPEN or FORCED_OPEN, the current stretch included.
    pub(super) fn refusing(&self, state: CircuitState, now: u64) -> Duration {
        let mut nanos = self.refusing.load(Ordering::Relaxed);
        if refuses(state) {
            nanos += now.saturating_sub(self.entered.load(Ordering::Acquire));
        }
        Duration::from_nanos(nanos)
    }

    /// How long the breaker has refused calls without a break at `now`, if
    /// `state` (its current one) refuses them.
    pub(super) fn outage(&self, state: CircuitState, now: u64) -> Option<Duration> {
        refuses(state).then(|| {
            Duration::from_nanos(now.saturating_sub(self.outage_began.load(Ordering::Acquire)))
        })
    }

    /// Each pair of states the breaker has moved between, with how often.
    pub(super) fn transitions(&self) -> Vec<(CircuitState, CircuitState, u64)> {
        let mut found = Vec::new();
        for from in CircuitState::ALL {
            for to in CircuitState::ALL {
                let count =
                    self.transitions[index(from) * STATES + index(to)].load(Ordering::Relaxed);
                if count > 0 {
                    found.push((from, to, count));
                }
            }
        }
        found
    }
}

fn index(state: CircuitState) -> usize {
    CircuitState::ALL
        .iter()
        .position(|candidate| *candidate == state)
        .expect("every state is listed in `ALL`")
}

/// The states in which a breaker turns calls away, for want of recovery or
/// by hand (DISABLED and METRICS_ONLY let every call through).
fn refuses(state: CircuitState) -> bool {
    matches!(
        state,
        CircuitState::Open | CircuitState::HalfOpen | CircuitState::ForcedOpen
    )
}
