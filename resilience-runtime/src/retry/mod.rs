//! Retry with exponential or linear backoff, a cap and jitter; retry-after
//! hints, a time budget for the whole call, adaptive waits and a shared
//! [retry budget](crate::retry_budget).

mod adaptive;
mod attempts;
mod backoff;
mod config;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

pub use attempts::Attempts;
pub use config::{Backoff, Jitter, RetryConfig};

use crate::clock::Epoch;
use crate::config::ConfigError;
use crate::event::{emit, Event, Listeners};
use crate::live::Live;
use crate::retry_budget::RetryBudget;
use crate::stats::{Counter, PerThreadCounter};
use crate::{ListenerId, Name};
use adaptive::History;

/// A retry policy with its counters; shared by every function naming it.
///
/// ```
/// use resilience_runtime::retry::{Retry, RetryConfig};
///
/// let retry = Retry::new("fetch", RetryConfig::default().max_attempts(3)).unwrap();
/// let mut calls = 0;
/// let result: Result<u32, &str> = retry.call(|| {
///     calls += 1;
///     if calls < 3 { Err("flaky") } else { Ok(calls) }
/// });
/// assert_eq!(result, Ok(3));
/// assert_eq!(retry.retries(), 2);
/// ```
#[derive(Debug)]
pub struct Retry {
    name: Name,
    settings: Live<Settings>,
    /// Whether a call's start or success has more to do than count: a
    /// listener, or settings that time, remember or budget the calls.
    hooked: AtomicBool,
    /// Serialises the updates of `hooked`.
    hooks: Mutex<()>,
    /// Made by the first call that `max_duration` times, on that call's
    /// clock (tokio's when it is paused there).
    clock: OnceLock<Epoch>,
    history: History,
    retries: AtomicU64,
    exhausted: AtomicU64,
    succeeded_first: PerThreadCounter,
    succeeded_later: Counter,
    failed_first: Counter,
    failed_later: Counter,
    listeners: Listeners<EventListener>,
}

/// The settings in force, with the budget they name once a call has looked
/// it up (the registry cannot be asked while it configures the retry).
#[derive(Debug)]
struct Settings {
    config: RetryConfig,
    budget: OnceLock<Arc<RetryBudget>>,
}

impl Settings {
    fn budget(&self) -> Option<&RetryBudget> {
        let name = self.config.budget.as_deref()?;
        Some(
            self.budget
                .get_or_init(|| crate::registry().retry_budget(name)),
        )
    }
}

type EventListener = dyn Fn(&RetryEvent) + Send + Sync;

/// What one retry reports to the listeners registered with
/// [`Retry::on_event`]. Listeners run on the calling thread.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryEvent {
    /// An attempt failed and will be retried after `delay`.
    Scheduled {
        /// The attempt that failed, counting from 1.
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// The call succeeded; `attempts` is 1 without a retry.
    Succeeded {
        /// Attempts made, the successful one included.
        attempts: u32,
    },
    /// The last allowed attempt failed; its error is returned.
    Exhausted {
        /// Attempts made.
        attempts: u32,
    },
    /// An attempt failed with an error `on` does not retry; it is returned.
    NotRetried {
        /// Attempts made.
        attempts: u32,
    },
    /// An attempt failed and is not retried although attempts remain, for
    /// `reason`; its error is returned.
    Stopped {
        /// Attempts made.
        attempts: u32,
        /// Why the retries ended.
        reason: StopReason,
    },
}

/// Why a retry ended before using up `max_attempts`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The error's `retry_after` (or a rate limiter's) asked for a wait
    /// longer than `max_delay`, or for [`Duration::MAX`] (never).
    RetryAfter {
        /// The wait asked for.
        hint: Duration,
    },
    /// The wait would end past `max_duration`, counted from the first attempt.
    MaxDuration {
        /// Time since the first attempt started.
        elapsed: Duration,
        /// The wait that would have followed.
        wait: Duration,
    },
    /// The retry's budget is spent.
    Budget,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use resilience_grammar::duration::format;
        match *self {
            StopReason::RetryAfter { hint } if hint == Duration::MAX => {
                f.write_str("the error says never to retry")
            }
            StopReason::RetryAfter { hint } => write!(
                f,
                "the error asks for a wait of {}, longer than max_delay",
                format(hint)
            ),
            StopReason::MaxDuration { elapsed, wait } => write!(
                f,
                "a wait of {} after {} would end past max_duration",
                format(wait),
                format(elapsed)
            ),
            StopReason::Budget => f.write_str("the retry budget is spent"),
        }
    }
}

/// A point-in-time copy of a retry's counters, in Resilience4j's terms.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryMetrics {
    /// Calls that succeeded on their first attempt, since creation.
    pub successful_calls_without_retry: u64,
    /// Calls that succeeded after one retry or more.
    pub successful_calls_with_retry: u64,
    /// Calls that failed on their first attempt and were not retried.
    pub failed_calls_without_retry: u64,
    /// Calls that failed after one retry or more.
    pub failed_calls_with_retry: u64,
    /// Attempts made by every call that ended, the first ones included.
    pub attempts: u64,
}

impl Retry {
    /// A retry policy named `name` (a label in events).
    pub fn new(name: impl Into<Name>, config: RetryConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let hooked = AtomicBool::new(config.tracked());
        Ok(Retry {
            name: name.into(),
            settings: Live::new(Settings {
                config,
                budget: OnceLock::new(),
            }),
            hooked,
            hooks: Mutex::new(()),
            clock: OnceLock::new(),
            history: History::default(),
            retries: AtomicU64::new(0),
            exhausted: AtomicU64::new(0),
            succeeded_first: PerThreadCounter::new(),
            succeeded_later: Counter::default(),
            failed_first: Counter::default(),
            failed_later: Counter::default(),
            listeners: Listeners::new(),
        })
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy's settings in force now.
    #[inline]
    pub fn config(&self) -> &RetryConfig {
        &self.settings.get().config
    }

    /// Applies new settings from the next call on; a call in progress keeps
    /// the settings it started with. An invalid configuration is returned as
    /// the error and changes nothing.
    ///
    /// ```
    /// use resilience_runtime::retry::{Retry, RetryConfig};
    ///
    /// let retry = Retry::new("fetch", RetryConfig::default().max_attempts(3)).unwrap();
    /// retry.reconfigure(RetryConfig::default().max_attempts(1)).unwrap();
    /// let result: Result<(), &str> = retry.call(|| Err("flaky"));
    /// assert_eq!(result, Err("flaky"));
    /// assert_eq!(retry.retries(), 0);
    /// ```
    pub fn reconfigure(&self, config: RetryConfig) -> Result<(), ConfigError> {
        config.validate()?;
        self.settings.update(|current| {
            (current.config != config).then_some(Settings {
                config,
                budget: OnceLock::new(),
            })
        });
        self.rehook();
        Ok(())
    }

    /// Sets `hooked` from the listeners and the settings in force.
    fn rehook(&self) {
        let _serial = self.hooks.lock().unwrap_or_else(PoisonError::into_inner);
        let hooked = self.listeners.any() || self.config().tracked();
        self.hooked.store(hooked, Ordering::Relaxed);
    }

    /// Retries scheduled so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Calls that failed on their last allowed attempt.
    pub fn exhausted(&self) -> u64 {
        self.exhausted.load(Ordering::Relaxed)
    }

    /// The share of this retry's last 100 calls that succeeded, which
    /// [`adaptive`](RetryConfig::adaptive) waits are scaled by; `None` before
    /// any call has ended. Kept only while `adaptive` is on.
    pub fn success_rate(&self) -> Option<f64> {
        self.history.success_rate()
    }

    /// The counters, read now. A call counts once it has ended.
    ///
    /// ```
    /// use resilience_runtime::retry::{Retry, RetryConfig};
    ///
    /// let retry = Retry::new("fetch", RetryConfig::default().max_attempts(3)).unwrap();
    /// let mut calls = 0;
    /// let _: Result<u32, &str> = retry.call(|| { calls += 1; if calls < 2 { Err("flaky") } else { Ok(calls) } });
    /// let _: Result<u32, &str> = retry.call(|| Ok(1));
    /// let metrics = retry.metrics();
    /// assert_eq!(metrics.successful_calls_with_retry, 1);
    /// assert_eq!(metrics.successful_calls_without_retry, 1);
    /// assert_eq!(metrics.attempts, 3);
    /// ```
    pub fn metrics(&self) -> RetryMetrics {
        let successful_calls_without_retry = self.succeeded_first.get();
        let successful_calls_with_retry = self.succeeded_later.get();
        let failed_calls_without_retry = self.failed_first.get();
        let failed_calls_with_retry = self.failed_later.get();
        RetryMetrics {
            successful_calls_without_retry,
            successful_calls_with_retry,
            failed_calls_without_retry,
            failed_calls_with_retry,
            // Every ended call made one first attempt, and every retry one more.
            attempts: successful_calls_without_retry
                + successful_calls_with_retry
                + failed_calls_without_retry
                + failed_calls_with_retry
                + self.retries(),
        }
    }

    /// Calls `listener` with every [`RetryEvent`] of this retry from now on,
    /// until [`remove_listener`](Self::remove_listener).
    pub fn on_event(&self, listener: impl Fn(&RetryEvent) + Send + Sync + 'static) -> ListenerId {
        let id = self.listeners.add(Arc::new(listener));
        self.rehook();
        id
    }

    /// Stops calling a listener; `false` if it was not registered here.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        let removed = self.listeners.remove(id);
        self.rehook();
        removed
    }

    // Out of line, so that a call nobody listens to pays a branch; and a
    // method of the retry, so that the caller's `Attempts` stays in registers.
    #[cold]
    #[inline(never)]
    fn report_success(&self, settings: &Settings, attempts: u32) {
        self.record_call(settings, true);
        if attempts == 1 {
            self.deposit(settings);
        }
        self.listeners
            .notify(|listener| listener(&RetryEvent::Succeeded { attempts }));
        emit(Event::RetrySucceeded {
            name: &self.name,
            attempts,
        });
    }

    /// Adds a call's end to the adaptive history.
    fn record_call(&self, settings: &Settings, ok: bool) {
        if settings.config.adaptive {
            self.history.record(ok);
        }
    }

    /// A call deposits into its budget once, when its first attempt ends:
    /// here for a first attempt that ends the call, in
    /// [`Attempts::next_wait`] for one that fails.
    fn deposit(&self, settings: &Settings) {
        if let Some(budget) = settings.budget() {
            budget.deposit();
        }
    }

    /// A fresh count of attempts for one call, to drive a retry loop by hand;
    /// [`max_duration`](RetryConfig::max_duration) is measured on the
    /// policy's clock. See [`Attempts::next_wait`] for an example.
    #[inline]
    pub fn attempts(&self) -> Attempts<'_> {
        Attempts::start(self, false)
    }

    /// As [`attempts`](Self::attempts), for a loop that waits with
    /// `tokio::time::sleep`: [`max_duration`](RetryConfig::max_duration) is
    /// measured on tokio's clock, which a test can pause and advance.
    #[inline]
    pub fn attempts_async(&self) -> Attempts<'_> {
        Attempts::start(self, true)
    }

    /// Runs `f` until it succeeds or `max_attempts` are used, sleeping the
    /// thread between attempts; returns the last error.
    #[inline]
    pub fn call<T, E>(&self, f: impl FnMut() -> Result<T, E>) -> Result<T, E> {
        self.call_with_retry_after(f, |_| None)
    }

    /// As [`call`](Self::call), with the error's own hint of when to try
    /// again (an HTTP `Retry-After`): the next wait is the larger of the
    /// hint and the computed wait, and a hint longer than `max_delay` (or
    /// [`Duration::MAX`]) ends the retries at once with that error.
    ///
    /// ```
    /// use resilience_runtime::retry::{Retry, RetryConfig};
    /// use std::time::Duration;
    ///
    /// let retry = Retry::new(
    ///     "docs-hint",
    ///     RetryConfig::default().max_attempts(5).max_delay(Duration::from_secs(1)),
    /// )
    /// .unwrap();
    /// let mut calls = 0;
    /// // A server that asks to come back in an hour: not worth the wait.
    /// let result: Result<(), Duration> = retry.call_with_retry_after(
    ///     || { calls += 1; Err(Duration::from_secs(3600)) },
    ///     |asked: &Duration| Some(*asked),
    /// );
    /// assert!(result.is_err());
    /// assert_eq!(calls, 1);
    /// ```
    #[inline]
    pub fn call_with_retry_after<T, E>(
        &self,
        mut f: impl FnMut() -> Result<T, E>,
        retry_after: impl Fn(&E) -> Option<Duration>,
    ) -> Result<T, E> {
        let mut attempts = self.attempts();
        loop {
            match f() {
                Ok(value) => {
                    attempts.finished(true);
                    return Ok(value);
                }
                Err(error) => match attempts.next_wait(retry_after(&error)) {
                    Some(wait) if wait.is_zero() => {}
                    Some(wait) => std::thread::sleep(wait),
                    None => return Err(error),
                },
            }
        }
    }

    /// Runs the future `f` makes until one succeeds or `max_attempts` are
    /// used, waiting with `tokio::time::sleep`; returns the last error.
    #[inline]
    pub async fn call_async<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_async_with_retry_after(f, |_| None).await
    }

    /// As [`call_async`](Self::call_async), with the error's own hint of when
    /// to try again; see [`call_with_retry_after`](Self::call_with_retry_after).
    #[inline]
    pub async fn call_async_with_retry_after<T, E, F, Fut>(
        &self,
        mut f: F,
        retry_after: impl Fn(&E) -> Option<Duration>,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempts = self.attempts_async();
        loop {
            match f().await {
                Ok(value) => {
                    attempts.finished(true);
                    return Ok(value);
                }
                // A zero sleep would still wait for the timer's next tick (1 ms).
                Err(error) => match attempts.next_wait(retry_after(&error)) {
                    Some(wait) if wait.is_zero() => {}
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return Err(error),
                },
            }
        }
    }
}
