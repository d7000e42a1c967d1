//! Circuit breaker: stops calling a failing dependency so that it can recover.

mod config;
mod window;
mod word;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use config::CircuitBreakerConfig;
use window::CountWindow;
use word::{Phase, Word};

use crate::clock::{saturating_nanos, Epoch};
use crate::config::ConfigError;
use crate::event::{emit, Event};
use crate::stats::Counter;
use crate::Error;

/// Where a circuit breaker stands.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls pass and their outcomes are counted.
    Closed,
    /// Calls are rejected with [`Error::CircuitOpen`] until `recovery_timeout` has passed.
    Open,
    /// A limited number of probe calls pass; their outcomes close or reopen the circuit.
    HalfOpen,
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CircuitState::Closed => "CLOSED",
            CircuitState::Open => "OPEN",
            CircuitState::HalfOpen => "HALF_OPEN",
        })
    }
}

impl Phase {
    fn state(self) -> CircuitState {
        match self {
            Phase::Closed { .. } => CircuitState::Closed,
            Phase::Open => CircuitState::Open,
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }
}

/// A point-in-time copy of a breaker's state and counters.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircuitBreakerMetrics {
    /// The state when the snapshot was taken.
    pub state: CircuitState,
    /// Calls that succeeded.
    pub successful_calls: u64,
    /// Calls that failed.
    pub failed_calls: u64,
    /// Calls rejected because the circuit was open or its probe slots taken.
    pub not_permitted_calls: u64,
    /// Failed calls among those in the rate window (rate mode only).
    pub window_failures: u32,
    /// Calls in the rate window (rate mode only).
    pub window_calls: u32,
}

/// A circuit breaker; lock-free, shared by every function naming it.
///
/// In the default consecutive mode, `failure_threshold` failures in a row open
/// it. With `failure_rate_threshold`, it opens when that share of the last
/// `window_size` calls failed. After `recovery_timeout` it turns half-open on
/// the next call or state read, admits `half_open_max_calls` probes, closes
/// after that many successes and reopens on any failure.
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
/// ```
pub struct CircuitBreaker {
    word: AtomicU64,
    /// When the current OPEN state began, in nanoseconds of `clock`.
    opened_at: AtomicU64,
    name: Arc<str>,
    config: CircuitBreakerConfig,
    recovery_nanos: u64,
    clock: Epoch,
    window: Option<CountWindow>,
    successful: Counter,
    failed: Counter,
    not_permitted: Counter,
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
    pub fn new(
        name: impl Into<Arc<str>>,
        config: CircuitBreakerConfig,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(CircuitBreaker {
            word: AtomicU64::new(Word::new(0, Phase::Closed { failures: 0 }).0),
            opened_at: AtomicU64::new(0),
            name: name.into(),
            recovery_nanos: saturating_nanos(config.recovery_timeout),
            clock: Epoch::now(),
            window: config
                .failure_rate_threshold
                .map(|_| CountWindow::new(config.window_size)),
            config,
            successful: Counter::default(),
            failed: Counter::default(),
            not_permitted: Counter::default(),
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

    /// The current state; an OPEN circuit whose `recovery_timeout` has passed
    /// turns HALF_OPEN here.
    pub fn state(&self) -> CircuitState {
        self.current().phase().state()
    }

    /// A snapshot of the state and counters.
    pub fn metrics(&self) -> CircuitBreakerMetrics {
        let tally = self.window.as_ref().map(CountWindow::tally);
        CircuitBreakerMetrics {
            state: self.state(),
            successful_calls: self.successful.get(),
            failed_calls: self.failed.get(),
            not_permitted_calls: self.not_permitted.get(),
            window_failures: tally.map_or(0, |t| t.failures),
            window_calls: tally.map_or(0, |t| t.calls),
        }
    }

    /// Asks to make one call. The permit records its outcome with
    /// [`success`](CircuitPermit::success) or [`failure`](CircuitPermit::failure);
    /// dropped without either (the call panicked, was cancelled, or ended with an
    /// error the caller ignores), it affects nothing and frees its probe slot.
    pub fn try_acquire(&self) -> Result<CircuitPermit<'_>, Error> {
        let mut word = self.current();
        loop {
            match word.phase() {
                Phase::Closed { .. } => return Ok(self.permit(word, false)),
                Phase::HalfOpen {
                    in_flight,
                    successes,
                } if in_flight + successes < self.config.half_open_max_calls => {
                    let taken = word.with(Phase::HalfOpen {
                        in_flight: in_flight + 1,
                        successes,
                    });
                    match self.swap(word, taken) {
                        Ok(()) => return Ok(self.permit(word, true)),
                        Err(now) => word = now,
                    }
                }
                Phase::HalfOpen { .. } => return Err(self.reject(None)),
                Phase::Open => {
                    let open_for = self
                        .clock
                        .nanos()
                        .saturating_sub(self.opened_at.load(Ordering::Acquire));
                    let left = self.recovery_nanos.saturating_sub(open_for);
                    return Err(self.reject(Some(Duration::from_nanos(left))));
                }
            }
        }
    }

    /// Runs `f` if the circuit lets it, recording every `Err` as a failure.
    pub fn call<T, E: From<Error>>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let permit = self.try_acquire()?;
        let result = f();
        permit.record(result.is_ok());
        result
    }

    /// Awaits the future `f` makes if the circuit lets it, recording every
    /// `Err` as a failure. A cancelled call records nothing.
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

    fn permit(&self, word: Word, probe: bool) -> CircuitPermit<'_> {
        CircuitPermit {
            breaker: self,
            epoch: word.epoch(),
            probe,
            settled: false,
        }
    }

    fn reject(&self, retry_after: Option<Duration>) -> Error {
        self.not_permitted.add();
        let error = Error::CircuitOpen {
            name: self.name.clone(),
            retry_after,
        };
        emit(Event::CallRejected { error: &error });
        error
    }

    /// The state word, after the lazy OPEN to HALF_OPEN move when it is due.
    fn current(&self) -> Word {
        let word = Word(self.word.load(Ordering::Acquire));
        if word.phase() != Phase::Open {
            return word;
        }
        let open_for = self
            .clock
            .nanos()
            .saturating_sub(self.opened_at.load(Ordering::Acquire));
        if open_for < self.recovery_nanos {
            return word;
        }
        let half_open = word.next(Phase::HalfOpen {
            in_flight: 0,
            successes: 0,
        });
        match self.swap(word, half_open) {
            Ok(()) => {
                self.announce(CircuitState::Open, CircuitState::HalfOpen);
                half_open
            }
            // Someone else moved it first; theirs is the current word.
            Err(now) => now,
        }
    }

    fn swap(&self, from: Word, to: Word) -> Result<(), Word> {
        self.word
            .compare_exchange_weak(from.0, to.0, Ordering::AcqRel, Ordering::Acquire)
            .map(drop)
            .map_err(Word)
    }

    /// Applies `change` to the word while it is still in `epoch`; `change`
    /// returns the new word, or `None` to leave it. Returns the word replaced.
    fn update(
        &self,
        epoch: u32,
        mut change: impl FnMut(Word) -> Option<Word>,
    ) -> Option<(Word, Word)> {
        let mut word = Word(self.word.load(Ordering::Acquire));
        loop {
            if word.epoch() != epoch {
                return None;
            }
            let next = change(word)?;
            if next.phase() == Phase::Open {
                // Published by the swap's release, before any reader sees OPEN.
                self.opened_at.store(self.clock.nanos(), Ordering::Release);
            }
            match self.swap(word, next) {
                Ok(()) => return Some((word, next)),
                Err(now) => word = now,
            }
        }
    }

    fn on_success(&self, epoch: u32, probe: bool) {
        self.successful.add();
        if probe {
            let needed = self.config.half_open_max_calls;
            let changed = self.update(epoch, |word| match word.phase() {
                Phase::HalfOpen { successes, .. } if successes + 1 >= needed => {
                    Some(word.next(Phase::Closed { failures: 0 }))
                }
                Phase::HalfOpen {
                    in_flight,
                    successes,
                } => Some(word.with(Phase::HalfOpen {
                    in_flight: in_flight.saturating_sub(1),
                    successes: successes + 1,
                })),
                _ => None,
            });
            self.after(changed);
        } else if let Some(window) = &self.window {
            if Word(self.word.load(Ordering::Acquire)).epoch() == epoch {
                window.record(false);
            }
        } else {
            let changed = self.update(epoch, |word| match word.phase() {
                Phase::Closed { failures } if failures > 0 => {
                    Some(word.with(Phase::Closed { failures: 0 }))
                }
                _ => None,
            });
            self.after(changed);
        }
    }

    fn on_failure(&self, epoch: u32, probe: bool) {
        self.failed.add();
        let changed = if probe {
            self.update(epoch, |word| match word.phase() {
                Phase::HalfOpen { .. } => Some(word.next(Phase::Open)),
                _ => None,
            })
        } else if let (Some(window), Some(threshold)) =
            (&self.window, self.config.failure_rate_threshold)
        {
            if Word(self.word.load(Ordering::Acquire)).epoch() != epoch {
                return;
            }
            let tally = window.record(true);
            let full = tally.calls >= self.config.window_size;
            if !(full && f64::from(tally.failures) >= threshold * f64::from(tally.calls)) {
                return;
            }
            self.update(epoch, |word| match word.phase() {
                Phase::Closed { .. } => Some(word.next(Phase::Open)),
                _ => None,
            })
        } else {
            let threshold = self.config.failure_threshold;
            self.update(epoch, |word| match word.phase() {
                Phase::Closed { failures } if failures + 1 >= threshold => {
                    Some(word.next(Phase::Open))
                }
                Phase::Closed { failures } => Some(word.with(Phase::Closed {
                    failures: failures + 1,
                })),
                _ => None,
            })
        };
        self.after(changed);
    }

    fn on_abandon(&self, epoch: u32) {
        let changed = self.update(epoch, |word| match word.phase() {
            Phase::HalfOpen {
                in_flight,
                successes,
            } => Some(word.with(Phase::HalfOpen {
                in_flight: in_flight.saturating_sub(1),
                successes,
            })),
            _ => None,
        });
        self.after(changed);
    }

    /// Announces a transition made by `update` and clears the window on close.
    fn after(&self, changed: Option<(Word, Word)>) {
        let Some((from, to)) = changed else { return };
        let (from, to) = (from.phase().state(), to.phase().state());
        if from == to {
            return;
        }
        if to == CircuitState::Closed {
            if let Some(window) = &self.window {
                window.reset();
            }
        }
        self.announce(from, to);
    }

    fn announce(&self, from: CircuitState, to: CircuitState) {
        emit(Event::StateTransition {
            name: &self.name,
            from,
            to,
        });
    }
}

/// Leave to make one call through a [`CircuitBreaker`].
#[must_use = "a permit records nothing unless its outcome is reported"]
#[derive(Debug)]
pub struct CircuitPermit<'a> {
    breaker: &'a CircuitBreaker,
    epoch: u32,
    probe: bool,
    settled: bool,
}

impl CircuitPermit<'_> {
    /// The call succeeded.
    pub fn success(mut self) {
        self.settled = true;
        self.breaker.on_success(self.epoch, self.probe);
    }

    /// The call failed.
    pub fn failure(mut self) {
        self.settled = true;
        self.breaker.on_failure(self.epoch, self.probe);
    }

    /// Records a success if `ok`, else a failure.
    pub fn record(self, ok: bool) {
        if ok {
            self.success()
        } else {
            self.failure()
        }
    }
}

impl Drop for CircuitPermit<'_> {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.on_abandon(self.epoch);
        }
    }
}
