//! Circuit breaker: stops calling a failing dependency so that it can recover.

mod config;
mod events;
mod fleet;
mod history;
mod machine;
mod settings;
mod ticket;
mod window;
mod word;

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::Duration;

pub use config::CircuitBreakerConfig;
pub use events::CircuitBreakerEvent;
#[cfg(feature = "redis")]
pub(crate) use fleet::FleetView;
use history::History;
use machine::{Machine, Now, Pass, Transition};
use settings::Settings;
use ticket::Ticket;
use window::{Outcome, Tally};
use word::Phase;

use crate::clock::Epoch;
use crate::config::ConfigError;
use crate::event::{emit, Event, ListenerId, Listeners};
use crate::live::Live;
use crate::stats::Counter;
use crate::{Error, Name};

/// Where a circuit breaker stands.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls pass and their outcomes are counted.
    Closed,
    /// Calls are rejected with [`Error::CircuitOpen`] until the open time has passed.
    Open,
    /// A limited number of probe calls pass; their outcomes close or reopen the circuit.
    HalfOpen,
    /// Set by [`CircuitBreaker::force_open`]: every call is rejected until another manual state.
    ForcedOpen,
    /// Set by [`CircuitBreaker::disable`]: every call passes and nothing is recorded.
    Disabled,
    /// Set by [`CircuitBreaker::metrics_only`]: every call passes; metrics and
    /// events are recorded, but the state never changes by itself.
    MetricsOnly,
}

impl CircuitState {
    /// Every state, in declaration order.
    pub const ALL: [CircuitState; 6] = [
        CircuitState::Closed,
        CircuitState::Open,
        CircuitState::HalfOpen,
        CircuitState::ForcedOpen,
        CircuitState::Disabled,
        CircuitState::MetricsOnly,
    ];
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CircuitState::Closed => "CLOSED",
            CircuitState::Open => "OPEN",
            CircuitState::HalfOpen => "HALF_OPEN",
            CircuitState::ForcedOpen => "FORCED_OPEN",
            CircuitState::Disabled => "DISABLED",
            CircuitState::MetricsOnly => "METRICS_ONLY",
        })
    }
}

impl Phase {
    fn state(self) -> CircuitState {
        match self {
            Phase::Closed { .. } => CircuitState::Closed,
            Phase::Open => CircuitState::Open,
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
            Phase::ForcedOpen => CircuitState::ForcedOpen,
            Phase::Disabled => CircuitState::Disabled,
            Phase::MetricsOnly => CircuitState::MetricsOnly,
        }
    }
}

/// A point-in-time copy of a breaker's state and counters.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircuitBreakerMetrics {
    /// The state when the snapshot was taken.
    pub state: CircuitState,
    /// The share of failed calls in the window; `None` without a window or
    /// before it holds `minimum_calls`.
    pub failure_rate: Option<f64>,
    /// The share of slow calls in the window, likewise.
    pub slow_call_rate: Option<f64>,
    /// Calls in the window (zero without one).
    pub window_calls: u32,
    /// Failed calls in the window.
    pub window_failed_calls: u32,
    /// Successful calls in the window.
    pub window_successful_calls: u32,
    /// Slow calls in the window.
    pub window_slow_calls: u32,
    /// Calls that succeeded, since creation or the last reset.
    pub successful_calls: u64,
    /// Calls that failed.
    pub failed_calls: u64,
    /// Calls, successful or failed, that took longer than `slow_call_duration`.
    pub slow_calls: u64,
    /// Calls that ended with an error `on` does not count.
    pub ignored_calls: u64,
    /// Calls refused by an open, forced-open or probe-saturated circuit.
    pub not_permitted_calls: u64,
    /// With `store = "redis"`: syncs with Redis that failed (no answer in
    /// time, or an error), since creation; the breaker judged its own calls
    /// alone meanwhile.
    pub store_errors: u64,
    /// How long the breaker has been in `state`.
    pub state_duration: Duration,
    /// Time spent OPEN, HALF_OPEN or FORCED_OPEN since creation, the current
    /// stretch included: with the transitions to CLOSED, the recovery time.
    /// Not cleared by [`reset`](CircuitBreaker::reset).
    pub open_duration: Duration,
}

type EventListener = dyn Fn(&CircuitBreakerEvent) + Send + Sync;

/// A circuit breaker; lock-free, shared by every function naming it.
///
/// In the default consecutive mode, `failure_threshold` failures in a row open
/// it. With `failure_rate_threshold`, it opens when that share of the calls in
/// its window failed (the last `window_size` calls, or those of the last
/// `window_duration`), once the window holds `minimum_calls`. With
/// `slow_call_duration`, it also opens when the share of slow calls reaches
/// `slow_call_rate_threshold`. After the open time it turns half-open on the
/// next call or state read, admits `half_open_max_calls` probes, closes after
/// that many successes and reopens on any failure, for longer each time by
/// `recovery_backoff`.
///
/// [`reconfigure`](Self::reconfigure) changes its settings while in use,
/// keeping its state, its counters and the outcomes in its window.
///
/// ```
/// use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
/// use resilience_runtime::{CircuitBreaker, CircuitState, Error};
///
/// let breaker = CircuitBreaker::new("inventory", CircuitBreakerConfig::default().failure_threshold(2)).unwrap();
/// breaker.try_acquire().unwrap().failure();
/// breaker.try_acquire().unwrap().failure();
/// assert_eq!(breaker.state(), CircuitState::Open);
/// assert!(matches!(breaker.try_acquire(), Err(Error::CircuitOpen { .. })));
///
/// breaker.reset();
/// assert_eq!(breaker.state(), CircuitState::Closed);
/// assert_eq!(breaker.metrics().failed_calls, 0);
/// ```
pub struct CircuitBreaker {
    machine: Machine,
    settings: Live<Settings>,
    clock: Epoch,
    name: Name,
    successful: Counter,
    failed: Counter,
    slow: Counter,
    ignored: Counter,
    not_permitted: Counter,
    history: History,
    listeners: Listeners<EventListener>,
    /// With `store = "redis"`: how the fleet's syncer reaches the breaker.
    #[cfg(feature = "redis")]
    fleet: crate::stores::redis::breaker::Link,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("config", self.config())
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl CircuitBreaker {
    /// A closed breaker named `name`. With `store = "redis"`, make it with
    /// [`new_shared`](Self::new_shared) instead, which the fleet's syncer
    /// can reach.
    pub fn new(name: impl Into<Name>, config: CircuitBreakerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(CircuitBreaker {
            machine: Machine::new(),
            settings: Live::new(Settings::new(config)),
            clock: Epoch::now(),
            name: name.into(),
            successful: Counter::default(),
            failed: Counter::default(),
            slow: Counter::default(),
            ignored: Counter::default(),
            not_permitted: Counter::default(),
            history: History::new(),
            listeners: Listeners::new(),
            #[cfg(feature = "redis")]
            fleet: Default::default(),
        })
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The breaker's settings in force now.
    #[inline]
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.settings.get().config
    }

    /// Applies new settings while the breaker is in use. An invalid
    /// configuration is returned as the error and changes nothing.
    ///
    /// - Calls in flight are not disturbed; their outcomes are judged by the
    ///   new settings.
    /// - The state stays, forced states included, and so do the counters of
    ///   [`metrics`](Self::metrics).
    /// - The window keeps the most recent outcomes that fit: a count window
    ///   shrunk from 10 to 5 calls keeps the last 5, one grown keeps them
    ///   all; a time window keeps the calls of its new duration (to within a
    ///   bucket of about 100 ms). A window that changes kind (count to time
    ///   or back), or that the breaker did not keep before, starts empty;
    ///   one the new settings need no longer is dropped. Outcomes recorded
    ///   in the instant of the reload itself may be left out of the window
    ///   (never out of the counters).
    /// - New thresholds apply from the next decision: a lower
    ///   `failure_threshold` opens the circuit on the next failure if as
    ///   many have already come in a row. Switching between the consecutive
    ///   and the rate mode starts the consecutive count over.
    /// - An OPEN circuit keeps the deadline it was given, and a HALF_OPEN one
    ///   its `half_open_max_wait`; new timeouts apply from the next
    ///   transition. A HALF_OPEN circuit admits and needs the new
    ///   `half_open_max_calls`, counting the probes already taken.
    ///
    /// ```
    /// use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
    /// use resilience_runtime::{CircuitBreaker, CircuitState};
    ///
    /// let breaker = CircuitBreaker::new("inventory", CircuitBreakerConfig::default().failure_threshold(5)).unwrap();
    /// breaker.try_acquire().unwrap().failure();
    /// breaker.try_acquire().unwrap().failure();
    /// breaker.reconfigure(CircuitBreakerConfig::default().failure_threshold(3)).unwrap();
    /// breaker.try_acquire().unwrap().failure();
    /// assert_eq!(breaker.state(), CircuitState::Open);
    /// assert_eq!(breaker.metrics().failed_calls, 3);
    /// ```
    pub fn reconfigure(&self, config: CircuitBreakerConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let mut mode_changed = false;
        self.settings.update(|current| {
            if current.config == config {
                return None;
            }
            mode_changed = current.config.failure_rate_threshold.is_some()
                != config.failure_rate_threshold.is_some();
            Some(current.following(config, self.clock.nanos()))
        });
        if mode_changed {
            // A count kept by the other mode means nothing to this one.
            self.machine.closed_success(self.machine.load().epoch());
        }
        self.follow_store();
        Ok(())
    }

    /// The current state; an OPEN circuit whose open time has passed turns
    /// HALF_OPEN here, and a HALF_OPEN one whose probes outlived
    /// `half_open_max_wait` turns OPEN.
    pub fn state(&self) -> CircuitState {
        self.machine
            .current(
                &self.settings.get().timing,
                &mut self.now(),
                &mut |transition| self.announce(transition),
            )
            .phase()
            .state()
    }

    /// A snapshot of the state, the window and the counters.
    pub fn metrics(&self) -> CircuitBreakerMetrics {
        let state = self.state();
        let now = self.clock.nanos();
        let settings = self.settings.get();
        let tally = settings
            .windows
            .as_ref()
            .map_or(Tally::default(), |windows| {
                windows[usize::from(self.machine.load().window())].tally(|| self.clock.nanos())
            });
        let judged = tally.calls >= settings.judged_from && tally.calls > 0;
        let rate = |n: u32| judged.then(|| f64::from(n) / f64::from(tally.calls));
        CircuitBreakerMetrics {
            state,
            failure_rate: rate(tally.failures),
            slow_call_rate: rate(tally.slow),
            window_calls: tally.calls,
            window_failed_calls: tally.failures,
            window_successful_calls: tally.calls - tally.failures.min(tally.calls),
            window_slow_calls: tally.slow,
            successful_calls: self.successful.get(),
            failed_calls: self.failed.get(),
            slow_calls: self.slow.get(),
            ignored_calls: self.ignored.get(),
            not_permitted_calls: self.not_permitted.get(),
            store_errors: self.store_errors(),
            state_duration: self.history.in_state(now),
            open_duration: self.history.refusing(state, now),
        }
    }

    /// How long the breaker has refused calls, if `state` (its state as just
    /// read) refuses them (OPEN, HALF_OPEN or FORCED_OPEN): the time since it
    /// last left a state that lets calls through. Moves between OPEN and
    /// HALF_OPEN do not restart it; only closing (or a reset) ends it.
    pub(crate) fn outage_duration(&self, state: CircuitState) -> Option<Duration> {
        self.history.outage(state, self.clock.nanos())
    }

    /// Each pair of states this breaker has moved between since creation,
    /// with how often, in the order of [`CircuitState::ALL`].
    ///
    /// ```
    /// use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
    /// use resilience_runtime::{CircuitBreaker, CircuitState};
    ///
    /// let breaker = CircuitBreaker::new("inventory", CircuitBreakerConfig::default()).unwrap();
    /// breaker.force_open();
    /// breaker.reset();
    /// assert_eq!(breaker.transitions(), [
    ///     (CircuitState::Closed, CircuitState::ForcedOpen, 1),
    ///     (CircuitState::ForcedOpen, CircuitState::Closed, 1),
    /// ]);
    /// ```
    pub fn transitions(&self) -> Vec<(CircuitState, CircuitState, u64)> {
        self.history.transitions()
    }

    /// Asks to make one call. The permit records its outcome with
    /// [`success`](CircuitPermit::success), [`failure`](CircuitPermit::failure)
    /// or [`ignore`](CircuitPermit::ignore); dropped without one (the call
    /// panicked or was cancelled) it records nothing and frees its probe slot.
    #[inline(always)]
    pub fn try_acquire(&self) -> Result<CircuitPermit<'_>, Error> {
        // The common case, kept small enough to inline into every call site:
        // a CLOSED circuit that times nothing.
        let word = self.machine.load();
        let settings = self.settings.get();
        if settings.slow_nanos.is_none() {
            if let Phase::Closed { .. } = word.phase() {
                let pass = Pass::Counted {
                    epoch: word.epoch(),
                    window: word.window(),
                };
                return Ok(CircuitPermit {
                    breaker: self,
                    ticket: Ticket::new(pass),
                    started: UNTIMED,
                });
            }
        }
        self.acquire_slow(settings)
    }

    // The settings block read once per call: a reload between two reads
    // would judge one call by two settings.
    fn acquire_slow(&self, settings: &Settings) -> Result<CircuitPermit<'_>, Error> {
        let mut now = self.now();
        if let Some(left) = self.machine.open_time_left(&mut now) {
            return Err(self.reject(Some(Duration::from_nanos(left))));
        }
        match self
            .machine
            .acquire(&settings.timing, &mut now, &mut |transition| {
                self.announce(transition)
            }) {
            Ok(pass) => {
                let started = match (settings.slow_nanos, pass) {
                    (Some(_), pass) if pass != Pass::Free => now.get(),
                    _ => UNTIMED,
                };
                Ok(CircuitPermit {
                    breaker: self,
                    ticket: Ticket::new(pass),
                    started,
                })
            }
            Err(refused) => Err(self.reject(refused.retry_after.map(Duration::from_nanos))),
        }
    }

    /// A success in CLOSED with nothing to record but the count: consecutive
    /// mode, no slow-call timing, no listener, no failure to forget.
    #[inline(always)]
    fn succeed(&self, pass: Pass, started: u64) {
        if let Pass::Counted { epoch, .. } = pass {
            // A breaker that times calls keeps a window too.
            if self.settings.get().windows.is_none() && !self.listeners.any() {
                let word = self.machine.load();
                if word.epoch() == epoch && word.phase() == (Phase::Closed { failures: 0 }) {
                    self.successful.add();
                    return;
                }
            }
        }
        self.settle(pass, started, false);
    }

    /// Runs `f` if the circuit lets it, recording every `Err` as a failure.
    #[inline]
    pub fn call<T, E: From<Error>>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let permit = self.try_acquire()?;
        let result = f();
        permit.record(result.is_ok());
        result
    }

    /// Awaits the future `f` makes if the circuit lets it, recording every
    /// `Err` as a failure. A cancelled call records nothing.
    #[inline]
    pub async fn call_async<T, E, Fut>(&self, f: impl FnOnce() -> Fut) -> Result<T, E>
    where
        E: From<Error>,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire()?;
        let result = f().await;
        permit.record(result.is_ok());
        result
    }

    /// Rejects every call until another manual state is set.
    pub fn force_open(&self) {
        self.force(Phase::ForcedOpen);
    }

    /// Lets every call through and records nothing, until another manual state is set.
    pub fn disable(&self) {
        self.force(Phase::Disabled);
    }

    /// Lets every call through while recording metrics and events as usual,
    /// but never changes state by itself, until another manual state is set.
    pub fn metrics_only(&self) {
        self.force(Phase::MetricsOnly);
    }

    /// Returns to a fresh CLOSED: empty window, zero counters, no growth of
    /// the open time.
    pub fn reset(&self) {
        for counter in [
            &self.successful,
            &self.failed,
            &self.slow,
            &self.ignored,
            &self.not_permitted,
        ] {
            counter.reset();
        }
        self.force(Phase::Closed { failures: 0 });
        self.notify(CircuitBreakerEvent::Reset);
    }

    /// Calls `listener` with every [`CircuitBreakerEvent`] of this breaker from
    /// now on, until [`remove_listener`](Self::remove_listener).
    pub fn on_event(
        &self,
        listener: impl Fn(&CircuitBreakerEvent) + Send + Sync + 'static,
    ) -> ListenerId {
        self.listeners.add(Arc::new(listener))
    }

    /// Stops calling a listener; `false` if it was not registered here.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
    }

    #[inline]
    fn now(&self) -> Now<impl Fn() -> u64 + '_> {
        Now::new(|| self.clock.nanos())
    }

    fn force(&self, target: Phase) {
        let transition = self
            .machine
            .force(target, |window| self.clear_window(window));
        self.announce(transition);
    }

    fn clear_window(&self, window: u8) {
        if let Some(windows) = &self.settings.get().windows {
            windows[usize::from(window)].reset();
        }
    }

    // Inline: built in the caller, the error lands in its return slot
    // without a copy through the stack (a store-forwarding stall).
    #[inline]
    fn reject(&self, retry_after: Option<Duration>) -> Error {
        self.not_permitted.add();
        self.notify(CircuitBreakerEvent::NotPermitted);
        let error = Error::CircuitOpen {
            name: self.name.clone(),
            retry_after,
        };
        emit(Event::CallRejected { error: &error });
        error
    }

    #[inline]
    fn notify(&self, event: CircuitBreakerEvent) {
        self.listeners.notify(|listener| listener(&event));
    }

    #[cold]
    fn announce(&self, (from, to): Transition) {
        let (from, to) = (from.state(), to.state());
        if from == to {
            return;
        }
        self.history.record(from, to, self.clock.nanos());
        self.wake_fleet();
        emit(Event::StateTransition {
            name: &self.name,
            from,
            to,
        });
        self.notify(CircuitBreakerEvent::StateTransition { from, to });
    }

    fn settle(&self, pass: Pass, started: u64, failed: bool) {
        let (epoch, window, counted) = match pass {
            Pass::Free => return,
            Pass::Probe { epoch } => (epoch, None, false),
            Pass::Counted { epoch, window } => (epoch, Some(window), true),
            Pass::Observed { epoch, window } => (epoch, Some(window), false),
        };
        let settings = self.settings.get();
        let mut now = self.now();
        // An untimed permit's start, the clock's end, makes no call slow.
        let slow = settings
            .slow_nanos
            .is_some_and(|limit| now.get().saturating_sub(started) > limit);
        if failed {
            &self.failed
        } else {
            &self.successful
        }
        .add();
        if slow {
            self.slow.add();
        }
        self.notify(if failed {
            CircuitBreakerEvent::Failure { slow }
        } else {
            CircuitBreakerEvent::Success { slow }
        });
        let Some(window) = window else {
            let transition = if failed {
                self.machine
                    .probe_failure(&settings.timing, epoch, &mut now)
            } else {
                self.machine
                    .probe_success(&settings.timing, epoch, |window| self.clear_window(window))
            };
            if let Some(transition) = transition {
                self.announce(transition);
            }
            return;
        };
        // Recorded before a consecutive-mode transition, which would make this
        // call's own outcome look late.
        let tally = self.record(settings, epoch, window, Outcome { failed, slow }, &mut now);
        if counted && settings.config.failure_rate_threshold.is_none() {
            if !failed {
                self.machine.closed_success(epoch);
            } else if let Some(transition) =
                self.machine
                    .closed_failure(&settings.timing, epoch, &mut now)
            {
                self.announce(transition);
            }
        }
        // Only a failure or a slow call can push a rate over its threshold.
        let Some(tally) = tally.filter(|_| failed || slow) else {
            return;
        };
        if self.exceeded(settings, tally, failed, slow) && counted {
            if let Some(transition) = self.machine.trip(&settings.timing, epoch, &mut now) {
                self.announce(transition);
            }
        }
    }

    /// Records an outcome in the window it was admitted to, unless the state
    /// it ran in has ended: a late result is left out of the new one.
    #[inline]
    fn record<F: Fn() -> u64>(
        &self,
        settings: &Settings,
        epoch: u32,
        window: u8,
        outcome: Outcome,
        now: &mut Now<F>,
    ) -> Option<Tally> {
        let windows = settings.windows.as_ref()?;
        if self.machine.load().epoch() != epoch {
            return None;
        }
        Some(windows[usize::from(window)].record(outcome, || now.get()))
    }

    /// Judges the window after a failure or a slow call, reporting each rate
    /// that reached its threshold.
    #[cold]
    fn exceeded(&self, settings: &Settings, tally: Tally, failed: bool, slow: bool) -> bool {
        if tally.calls < settings.judged_from || tally.calls == 0 {
            return false;
        }
        let rate = |n: u32| f64::from(n) / f64::from(tally.calls);
        let mut exceeded = false;
        if let (true, Some(threshold)) = (failed, settings.config.failure_rate_threshold) {
            let rate = rate(tally.failures);
            if rate >= threshold {
                self.notify(CircuitBreakerEvent::FailureRateExceeded { rate });
                exceeded = true;
            }
        }
        if slow && rate(tally.slow) >= settings.config.slow_call_rate_threshold {
            let rate = rate(tally.slow);
            self.notify(CircuitBreakerEvent::SlowCallRateExceeded { rate });
            exceeded = true;
        }
        exceeded
    }

    #[inline]
    fn ignore(&self, pass: Pass) {
        if pass == Pass::Free {
            return;
        }
        self.ignored.add();
        self.notify(CircuitBreakerEvent::IgnoredError);
        self.abandon(pass);
    }

    #[inline]
    fn abandon(&self, pass: Pass) {
        if let Pass::Probe { epoch } = pass {
            self.machine.abandon(epoch);
        }
    }
}

/// Leave to make one call through a [`CircuitBreaker`].
#[must_use = "a permit records nothing unless its outcome is reported"]
pub struct CircuitPermit<'a> {
    breaker: &'a CircuitBreaker,
    ticket: Ticket,
    /// When the call started, in the breaker's clock, if slow calls are
    /// detected; else `UNTIMED`.
    started: u64,
}

/// The start of a call that was not timed: the end of the clock, so that
/// even settings reloaded to time calls never find it slow.
const UNTIMED: u64 = u64::MAX;

impl fmt::Debug for CircuitPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitPermit")
            .field("breaker", &self.breaker.name)
            .field("pass", &self.ticket.pass())
            .finish()
    }
}

// Reporting an outcome consumes the permit without running its `Drop`, which
// stands for "no outcome": no flag is written and read back on the hot path.
impl CircuitPermit<'_> {
    /// The call succeeded.
    #[inline(always)]
    pub fn success(self) {
        let permit = ManuallyDrop::new(self);
        permit.breaker.succeed(permit.ticket.pass(), permit.started);
    }

    /// The call failed.
    #[inline]
    pub fn failure(self) {
        let permit = ManuallyDrop::new(self);
        permit
            .breaker
            .settle(permit.ticket.pass(), permit.started, true);
    }

    /// The call ended with an error the breaker does not count: it affects
    /// the circuit neither way, and frees a probe slot.
    #[inline]
    pub fn ignore(self) {
        let permit = ManuallyDrop::new(self);
        permit.breaker.ignore(permit.ticket.pass());
    }

    /// Records a success if `ok`, else a failure.
    #[inline]
    pub fn record(self, ok: bool) {
        if ok {
            self.success()
        } else {
            self.failure()
        }
    }
}

impl Drop for CircuitPermit<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.breaker.abandon(self.ticket.pass());
    }
}
