//! Circuit breaker: stops calling a failing dependency so that it can recover.

mod config;
mod events;
mod machine;
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
use machine::{Machine, Now, Pass, Timing, Transition};
use ticket::Ticket;
use window::{CountWindow, Outcome, Tally, TimeWindow, Window};
use word::Phase;

use crate::clock::{saturating_nanos, Epoch};
use crate::config::ConfigError;
use crate::event::{emit, Event, ListenerId, Listeners};
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
    /// Two windows, so that a close starts a fresh one while late results of
    /// the state that ended still land in the old one.
    windows: Option<[Window; 2]>,
    clock: Epoch,
    slow_nanos: Option<u64>,
    judged_from: u32,
    name: Name,
    config: CircuitBreakerConfig,
    successful: Counter,
    failed: Counter,
    slow: Counter,
    ignored: Counter,
    not_permitted: Counter,
    listeners: Listeners<EventListener>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl CircuitBreaker {
    /// A closed breaker named `name`.
    pub fn new(name: impl Into<Name>, config: CircuitBreakerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let window = || match config.window_duration {
            Some(duration) => Window::Time(TimeWindow::new(saturating_nanos(duration))),
            None => Window::Count(CountWindow::new(config.window_size)),
        };
        let timing = Timing {
            failure_threshold: config.failure_threshold,
            probes: config.half_open_max_calls,
            recovery: saturating_nanos(config.recovery_timeout),
            recovery_backoff: config.recovery_backoff,
            max_recovery: config
                .max_recovery_timeout
                .map_or(u64::MAX, saturating_nanos),
            half_open_wait: config.half_open_max_wait.map(saturating_nanos),
        };
        Ok(CircuitBreaker {
            machine: Machine::new(timing),
            windows: config.has_window().then(|| [window(), window()]),
            clock: Epoch::now(),
            slow_nanos: config.slow_call_duration.map(saturating_nanos),
            judged_from: config.judged_from(),
            name: name.into(),
            config,
            successful: Counter::default(),
            failed: Counter::default(),
            slow: Counter::default(),
            ignored: Counter::default(),
            not_permitted: Counter::default(),
            listeners: Listeners::new(),
        })
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The breaker's settings.
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    /// The current state; an OPEN circuit whose open time has passed turns
    /// HALF_OPEN here, and a HALF_OPEN one whose probes outlived
    /// `half_open_max_wait` turns OPEN.
    pub fn state(&self) -> CircuitState {
        self.machine
            .current(&mut self.now(), &mut |transition| self.announce(transition))
            .phase()
            .state()
    }

    /// A snapshot of the state, the window and the counters.
    pub fn metrics(&self) -> CircuitBreakerMetrics {
        let state = self.state();
        let tally = self.windows.as_ref().map_or(Tally::default(), |windows| {
            windows[usize::from(self.machine.load().window())].tally(|| self.clock.nanos())
        });
        let judged = tally.calls >= self.judged_from && tally.calls > 0;
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
        }
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
        if self.slow_nanos.is_none() {
            if let Phase::Closed { .. } = word.phase() {
                let pass = Pass::Counted {
                    epoch: word.epoch(),
                    window: word.window(),
                };
                return Ok(CircuitPermit {
                    breaker: self,
                    ticket: Ticket::new(pass),
                    started: 0,
                });
            }
        }
        self.acquire_slow()
    }

    fn acquire_slow(&self) -> Result<CircuitPermit<'_>, Error> {
        let mut now = self.now();
        match self
            .machine
            .acquire(&mut now, &mut |transition| self.announce(transition))
        {
            Ok(pass) => {
                let started = match (self.slow_nanos, pass) {
                    (Some(_), pass) if pass != Pass::Free => now.get(),
                    _ => 0,
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
            if self.windows.is_none() && self.slow_nanos.is_none() && !self.listeners.any() {
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
        if let Some(windows) = &self.windows {
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
        let mut now = self.now();
        let slow = self
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
                self.machine.probe_failure(epoch, &mut now)
            } else {
                self.machine
                    .probe_success(epoch, |window| self.clear_window(window))
            };
            if let Some(transition) = transition {
                self.announce(transition);
            }
            return;
        };
        // Recorded before a consecutive-mode transition, which would make this
        // call's own outcome look late.
        let tally = self.record(epoch, window, Outcome { failed, slow }, &mut now);
        if counted && self.config.failure_rate_threshold.is_none() {
            if !failed {
                self.machine.closed_success(epoch);
            } else if let Some(transition) = self.machine.closed_failure(epoch, &mut now) {
                self.announce(transition);
            }
        }
        // Only a failure or a slow call can push a rate over its threshold.
        let Some(tally) = tally.filter(|_| failed || slow) else {
            return;
        };
        if self.exceeded(tally, failed, slow) && counted {
            if let Some(transition) = self.machine.trip(epoch, &mut now) {
                self.announce(transition);
            }
        }
    }

    /// Records an outcome in the window it was admitted to, unless the state
    /// it ran in has ended: a late result is left out of the new one.
    #[inline]
    fn record<F: Fn() -> u64>(
        &self,
        epoch: u32,
        window: u8,
        outcome: Outcome,
        now: &mut Now<F>,
    ) -> Option<Tally> {
        let windows = self.windows.as_ref()?;
        if self.machine.load().epoch() != epoch {
            return None;
        }
        Some(windows[usize::from(window)].record(outcome, || now.get()))
    }

    /// Judges the window after a failure or a slow call, reporting each rate
    /// that reached its threshold.
    #[cold]
    fn exceeded(&self, tally: Tally, failed: bool, slow: bool) -> bool {
        if tally.calls < self.judged_from || tally.calls == 0 {
            return false;
        }
        let rate = |n: u32| f64::from(n) / f64::from(tally.calls);
        let mut exceeded = false;
        if let (true, Some(threshold)) = (failed, self.config.failure_rate_threshold) {
            let rate = rate(tally.failures);
            if rate >= threshold {
                self.notify(CircuitBreakerEvent::FailureRateExceeded { rate });
                exceeded = true;
            }
        }
        if slow && rate(tally.slow) >= self.config.slow_call_rate_threshold {
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
    /// When the call started, in the breaker's clock, if slow calls are detected.
    started: u64,
}

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
