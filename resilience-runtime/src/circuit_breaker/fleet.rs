//! What a breaker with `store = "redis"` lets its fleet's syncer
//! (`stores::redis::breaker`) read and do: its counts and state, an OPEN
//! until the fleet's deadline, a close when the fleet's probes succeeded,
//! and the probe slots its replica holds. Nothing here is on the call path.

#[cfg(feature = "redis")]
use std::sync::atomic::Ordering;
use std::sync::Arc;
#[cfg(feature = "redis")]
use std::time::Duration;

use super::{CircuitBreaker, CircuitBreakerConfig};
#[cfg(feature = "redis")]
use super::{CircuitBreakerEvent, CircuitState, Now, Phase};

use crate::config::ConfigError;
#[cfg(feature = "redis")]
use crate::event::{emit, Event};
#[cfg(feature = "redis")]
use crate::stores::Store;
use crate::stores::StoreStatus;
use crate::Name;

/// The breaker as the fleet's syncer reads it at one tick.
#[cfg(feature = "redis")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FleetView {
    pub(crate) state: CircuitState,
    /// Grows with every transition: a state seen twice with the same epoch
    /// was not left in between.
    pub(crate) epoch: u32,
    /// While OPEN, the open time left.
    pub(crate) open_left: Option<Duration>,
    /// While HALF_OPEN, the probes taken: in flight and succeeded.
    pub(crate) probes_taken: u32,
    /// Calls that succeeded, failed, and were refused, since creation or
    /// the last reset.
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) refused: u64,
}

impl CircuitBreaker {
    /// A closed breaker named `name`, in an `Arc`: with `store = "redis"`,
    /// one that shares its counts and its OPEN with every replica using the
    /// name, in the background (as the registry's breakers do).
    ///
    /// A breaker made by [`new`](Self::new) cannot be reached by the
    /// background syncer, which holds a weak reference to the `Arc` it is
    /// in: with `store = "redis"` it works as a local breaker. Make it here,
    /// or get it from the registry.
    ///
    /// ```
    /// use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
    /// use resilience_runtime::{CircuitBreaker, CircuitState};
    ///
    /// let breaker = CircuitBreaker::new_shared("inventory", CircuitBreakerConfig::default()).unwrap();
    /// assert_eq!(breaker.state(), CircuitState::Closed);
    /// ```
    pub fn new_shared(
        name: impl Into<Name>,
        config: CircuitBreakerConfig,
    ) -> Result<Arc<Self>, ConfigError> {
        let breaker = Arc::new(Self::new(name, config)?);
        Self::attach(&breaker);
        Ok(breaker)
    }

    /// Whether the breaker reaches its store: [`Local`](StoreStatus::Local)
    /// with `store = "local"`, or for a breaker the syncer cannot reach (see
    /// [`new_shared`](Self::new_shared)). A breaker without its store judges
    /// its own calls alone, its probes bounded by its own
    /// `half_open_max_calls`.
    pub fn store_status(&self) -> StoreStatus {
        #[cfg(feature = "redis")]
        if self.config().store == Store::Redis && self.fleet.syncing() {
            return match self.fleet.down_since() {
                None => StoreStatus::Available,
                Some(since) => StoreStatus::Unavailable {
                    for_: Duration::from_nanos(self.clock.nanos().saturating_sub(since)),
                },
            };
        }
        StoreStatus::Local
    }

    /// Lets the syncer reach `breaker` from now on, and starts syncing it
    /// if its store is Redis. Every `Arc` the crate makes a breaker into
    /// passes here.
    pub(crate) fn attach(breaker: &Arc<Self>) {
        #[cfg(feature = "redis")]
        if breaker.fleet.attach(breaker) {
            breaker.follow_store();
        }
        #[cfg(not(feature = "redis"))]
        let _ = breaker;
    }

    /// Starts syncing after a change of settings to `store = "redis"`, or
    /// wakes the syncer to apply the new settings at once.
    pub(super) fn follow_store(&self) {
        #[cfg(feature = "redis")]
        if self.config().store == Store::Redis {
            crate::stores::redis::breaker::sync(self);
        } else {
            self.wake_fleet();
        }
    }

    /// Syncs with the store that failed, since creation.
    pub(super) fn store_errors(&self) -> u64 {
        #[cfg(feature = "redis")]
        return self.fleet.errors.load(Ordering::Relaxed);
        #[cfg(not(feature = "redis"))]
        0
    }

    /// Wakes the syncer after a transition, so that an OPEN is published,
    /// and probe slots are asked for, without waiting for the next tick.
    #[inline]
    pub(super) fn wake_fleet(&self) {
        #[cfg(feature = "redis")]
        self.fleet.wake();
    }
}

#[cfg(feature = "redis")]
impl CircuitBreaker {
    pub(crate) fn link(&self) -> &crate::stores::redis::breaker::Link {
        &self.fleet
    }

    /// The state (after the transitions due by time), the counts, and the
    /// open time left.
    pub(crate) fn fleet_view(&self) -> FleetView {
        // Read for the transitions it makes when due.
        self.state();
        let word = self.machine.load();
        FleetView {
            state: word.phase().state(),
            epoch: word.epoch(),
            open_left: self
                .machine
                .open_time_left(&mut self.now())
                .map(Duration::from_nanos),
            probes_taken: match word.phase() {
                Phase::HalfOpen {
                    in_flight,
                    successes,
                } => in_flight + successes,
                _ => 0,
            },
            successes: self.successful.get(),
            failures: self.failed.get(),
            refused: self.not_permitted.get(),
        }
    }

    /// Opens the circuit, CLOSED or HALF_OPEN in `epoch`, for `left`: the
    /// fleet's OPEN has that long to go.
    pub(crate) fn fleet_open(&self, epoch: u32, left: Duration) -> bool {
        let until = self
            .clock
            .nanos()
            .saturating_add(crate::clock::saturating_nanos(left));
        match self.machine.open_until_deadline(epoch, until) {
            Some(transition) => {
                self.announce(transition);
                true
            }
            None => false,
        }
    }

    /// Opens the circuit, CLOSED in `epoch`, for its recovery timeout: the
    /// fleet's window failed at `rate`.
    pub(crate) fn fleet_trip(&self, epoch: u32, rate: f64) -> bool {
        let settings = self.settings.get();
        let mut now = Now::new(|| self.clock.nanos());
        match self.machine.trip(&settings.timing, epoch, &mut now) {
            Some(transition) => {
                self.notify(CircuitBreakerEvent::FailureRateExceeded { rate });
                self.announce(transition);
                true
            }
            None => false,
        }
    }

    /// Closes the circuit, HALF_OPEN in `epoch`: the fleet's probes succeeded.
    pub(crate) fn fleet_close(&self, epoch: u32) -> bool {
        match self
            .machine
            .close_probing(epoch, |window| self.clear_window(window))
        {
            Some(transition) => {
                self.announce(transition);
                true
            }
            None => false,
        }
    }

    /// Bounds the probes by the slots granted with [`grant_probes`](Self::grant_probes)
    /// (`true`), or by the settings alone (`false`, without the store).
    pub(crate) fn bound_probes(&self, bounded: bool) {
        if bounded == self.machine.probes_bounded() {
            return;
        }
        if bounded {
            self.machine.bound_probes();
        } else {
            self.machine.unbound_probes();
        }
    }

    /// Lets the HALF_OPEN state of `epoch` admit `probes` probes in all.
    pub(crate) fn grant_probes(&self, epoch: u32, probes: u32) {
        self.machine.grant_probes(epoch, probes);
    }

    /// Withdraws the probes of the HALF_OPEN state of `epoch`, before its
    /// slots go back to the fleet: `false` if one was taken meanwhile.
    pub(crate) fn withdraw_probes(&self, epoch: u32) -> bool {
        self.machine.withdraw_probes(epoch)
    }

    /// Notes a tick the store failed; the first of an outage is an event.
    #[cold]
    pub(crate) fn store_failed(&self, error: &dyn std::fmt::Display) {
        self.fleet.errors.fetch_add(1, Ordering::Relaxed);
        if self.fleet.went_down(self.clock.nanos()) {
            let error = error.to_string();
            emit(Event::StoreUnavailable {
                name: &self.name,
                error: &error,
            });
        }
    }

    /// Notes a tick the store answered; the first after an outage is an event.
    pub(crate) fn store_answered(&self) {
        if self.fleet.came_back() {
            emit(Event::StoreRecovered { name: &self.name });
        }
    }
}
