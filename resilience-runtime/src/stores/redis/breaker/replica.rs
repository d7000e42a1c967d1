//! What one replica's task remembers from tick to tick, and what it makes
//! of the fleet's answer: obey a new OPEN, close with the fleet's probes,
//! take the probe slots it holds, or open on the fleet's window.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::window::Tally;
use crate::circuit_breaker::{CircuitBreakerConfig, FleetView};
use crate::{CircuitBreaker, CircuitState};

#[derive(Debug)]
pub(super) struct Replica {
    /// This replica, in the probe slots it holds and the OPENs it publishes.
    pub(super) id: String,
    /// The counts as last sent: each tick sends what they grew by.
    pub(super) sent: (u64, u64),
    /// Refused calls as the last tick read them: more since are callers
    /// waiting for a probe slot.
    pub(super) refused: u64,
    /// Redis's clock minus this host's, in milliseconds, from the last `TIME`.
    pub(super) offset_ms: i64,
    /// The first bucket judged: those before hold the outcomes of before
    /// the breaker last closed.
    pub(super) judged_from: u64,
    /// The breaker's epoch at the last tick.
    pub(super) seen: Option<u32>,
    /// The OPEN state (its epoch) the fleet knows of: published by this
    /// replica, or taken from the fleet's.
    pub(super) published: Option<u32>,
    /// The value of the fleet's OPEN this replica last published or obeyed,
    /// which tells a new OPEN from one already obeyed.
    pub(super) round: Option<String>,
    /// The probe slots held, for the HALF_OPEN state of `slots_epoch`.
    pub(super) slots: Vec<u32>,
    pub(super) slots_epoch: u32,
}

/// What one tick read back, beyond the clock.
#[derive(Debug, Default)]
pub(super) struct Answer {
    /// The OPEN this tick published, if it tried: its value, and whether
    /// it was set (else another was there).
    pub(super) published: Option<(String, bool)>,
    /// The fleet's OPEN: its value and time left.
    pub(super) open: Option<(String, Duration)>,
    /// While HALF_OPEN: the slots held now, and the OPEN the fleet's probes
    /// closed, if any.
    pub(super) held: Vec<u32>,
    pub(super) closed: Option<String>,
    /// While CLOSED: the fleet's window.
    pub(super) window: Option<Tally>,
}

impl Replica {
    pub(super) fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // Process ids repeat across hosts: a random part keeps ids apart.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(n);
        Replica {
            id: format!("{}-{n}-{:016x}", std::process::id(), hasher.finish()),
            sent: (0, 0),
            refused: 0,
            offset_ms: 0,
            judged_from: 0,
            seen: None,
            published: None,
            round: None,
            slots: Vec::new(),
            slots_epoch: 0,
        }
    }

    /// The store failed a tick: the slots held lapse with their lease, as
    /// a replica without its store admits its own probes.
    pub(super) fn lost(&mut self) {
        self.slots.clear();
    }

    /// The outcomes counted since the last tick, which are sent now (or
    /// lost with it, if it fails: see `docs/redis.md`).
    pub(super) fn counted_since(&mut self, view: FleetView) -> (u64, u64) {
        let now = (view.successes, view.failures);
        // Fewer than sent: the breaker was reset, and counts from zero.
        if now.0 < self.sent.0 || now.1 < self.sent.1 {
            self.sent = (0, 0);
        }
        let counted = (now.0 - self.sent.0, now.1 - self.sent.1);
        self.sent = now;
        counted
    }

    /// Makes of the fleet's `answer` what the breaker, seen as `view` when
    /// the tick began, does.
    pub(super) fn apply(
        &mut self,
        breaker: &CircuitBreaker,
        view: FleetView,
        config: &CircuitBreakerConfig,
        answer: Answer,
    ) {
        match answer.published {
            Some((value, true)) => {
                self.round = Some(value);
                self.published = Some(view.epoch);
            }
            // Another replica opened the fleet first: this OPEN is that one.
            Some((_, false))
                if answer.open.as_ref().map(|(value, _)| value) != self.round.as_ref() =>
            {
                self.round = answer.open.as_ref().map(|(value, _)| value.clone());
                self.published = Some(view.epoch);
            }
            // Else the OPEN already obeyed has yet to expire: the next tick
            // publishes again.
            _ => {}
        }
        if view.state == CircuitState::HalfOpen {
            self.slots = answer.held;
        }
        if let Some((value, left)) = answer.open {
            if self.round.as_ref() != Some(&value) {
                if obey(breaker, view, left, config) {
                    self.published = Some(view.epoch.wrapping_add(1));
                } else if view.state == CircuitState::Open {
                    self.published = Some(view.epoch);
                }
                self.round = Some(value);
                return;
            }
        }
        if view.state == CircuitState::HalfOpen {
            if answer.closed.is_some() && answer.closed == self.round {
                breaker.fleet_close(view.epoch);
            } else {
                breaker.grant_probes(view.epoch, self.slots.len() as u32);
            }
        }
        let threshold = config.failure_rate_threshold.unwrap_or(1.0);
        if let Some(rate) = answer
            .window
            .and_then(|tally| tally.exceeds(config.judged_from(), threshold))
        {
            breaker.fleet_trip(view.epoch, rate);
        }
    }
}

/// Opens the breaker for the fleet's OPEN with `left` to go, unless it is
/// OPEN already for as long (within a sync interval) or in a state of its
/// own (forced, disabled, metrics only).
fn obey(
    breaker: &CircuitBreaker,
    view: FleetView,
    left: Duration,
    config: &CircuitBreakerConfig,
) -> bool {
    match view.state {
        CircuitState::Closed | CircuitState::HalfOpen => breaker.fleet_open(view.epoch, left),
        CircuitState::Open
            if view
                .open_left
                .unwrap_or_default()
                .saturating_add(config.sync_interval)
                < left =>
        {
            breaker.fleet_open(view.epoch, left)
        }
        _ => false,
    }
}
