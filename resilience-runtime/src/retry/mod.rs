//! Retry with exponential backoff, a cap and jitter.

mod backoff;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{check, ConfigError};
use crate::event::{emit, Event, Listeners};
use crate::live::Live;
use crate::stats::{Counter, PerThreadCounter};
use crate::{ListenerId, Name};

/// How a retry's wait is randomised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    /// The wait is exactly `delay * backoff^n`, capped at `max_delay`.
    None,
    /// The wait moves by up to this fraction of itself either way (`+-j * wait`), then is capped.
    Fraction(f64),
    /// AWS "full jitter": `U(0, w)`.
    Full,
    /// AWS "equal jitter": `w/2 + U(0, w/2)`.
    Equal,
    /// AWS "decorrelated jitter": `min(max_delay, U(delay, 3 * previous wait))`.
    Decorrelated,
}

/// A retry's settings; the attribute's arguments, with the same defaults.
///
/// ```
/// use resilience_runtime::retry::{Jitter, RetryConfig};
/// use std::time::Duration;
///
/// let config = RetryConfig::default()
///     .max_attempts(5)
///     .delay(Duration::from_millis(200))
///     .backoff(2.0)
///     .max_delay(Duration::from_secs(5))
///     .jitter(Jitter::Full);
/// assert!(config.validate().is_ok());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Attempts in all, the first call included (at least 1). Default 3.
    pub max_attempts: u32,
    /// The wait before the first retry. Default zero.
    pub delay: Duration,
    /// The factor the wait grows by with each retry. Default 1.0.
    pub backoff: f64,
    /// The longest wait. Default none.
    pub max_delay: Option<Duration>,
    /// How the wait is randomised. Default none.
    pub jitter: Jitter,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            delay: Duration::ZERO,
            backoff: 1.0,
            max_delay: None,
            jitter: Jitter::None,
        }
    }
}

impl RetryConfig {
    /// Sets [`max_attempts`](Self::max_attempts).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }
    /// Sets [`delay`](Self::delay).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
    /// Sets [`backoff`](Self::backoff).
    pub fn backoff(mut self, factor: f64) -> Self {
        self.backoff = factor;
        self
    }
    /// Sets [`max_delay`](Self::max_delay).
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.max_delay = Some(max);
        self
    }
    /// Sets [`jitter`](Self::jitter).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Checks every setting, naming the first one at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(self.max_attempts >= 1, "max_attempts", || {
            "must be at least 1 (it counts the first call)".into()
        })?;
        check(
            self.backoff.is_finite() && self.backoff > 0.0,
            "backoff",
            || format!("must be a positive number, got {}", self.backoff),
        )?;
        if let Jitter::Fraction(j) = self.jitter {
            check((0.0..=1.0).contains(&j), "jitter", || {
                format!("a fraction must be in [0, 1], got {j}")
            })?;
        }
        Ok(())
    }
}

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
    config: Live<RetryConfig>,
    retries: AtomicU64,
    exhausted: AtomicU64,
    succeeded_first: PerThreadCounter,
    succeeded_later: Counter,
    failed_first: Counter,
    failed_later: Counter,
    listeners: Listeners<EventListener>,
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
        Ok(Retry {
            name: name.into(),
            config: Live::new(config),
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
        self.config.get()
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
        self.config
            .update(|current| (*current != config).then_some(config));
        Ok(())
    }

    /// Retries scheduled so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Calls that failed on their last allowed attempt.
    pub fn exhausted(&self) -> u64 {
        self.exhausted.load(Ordering::Relaxed)
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
        self.listeners.add(Arc::new(listener))
    }

    /// Stops calling a listener; `false` if it was not registered here.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
    }

    // Out of line, so that a call nobody listens to pays a branch; and a
    // method of the retry, so that the caller's `Attempts` stays in registers.
    #[cold]
    #[inline(never)]
    fn report_success(&self, attempts: u32) {
        self.listeners
            .notify(|listener| listener(&RetryEvent::Succeeded { attempts }));
        emit(Event::RetrySucceeded {
            name: &self.name,
            attempts,
        });
    }

    /// A fresh count of attempts for one call, to drive a retry loop by hand.
    #[inline]
    pub fn attempts(&self) -> Attempts<'_> {
        let config = self.config.get();
        Attempts {
            retry: self,
            config,
            made: 0,
            previous: config.delay,
        }
    }

    /// Runs `f` until it succeeds or `max_attempts` are used, sleeping the
    /// thread between attempts; returns the last error.
    #[inline]
    pub fn call<T, E>(&self, mut f: impl FnMut() -> Result<T, E>) -> Result<T, E> {
        let mut attempts = self.attempts();
        loop {
            match f() {
                Ok(value) => {
                    attempts.finished(true);
                    return Ok(value);
                }
                Err(error) => match attempts.next_wait(None) {
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
    pub async fn call_async<T, E, F, Fut>(&self, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempts = self.attempts();
        loop {
            match f().await {
                Ok(value) => {
                    attempts.finished(true);
                    return Ok(value);
                }
                // A zero sleep would still wait for the timer's next tick (1 ms).
                Err(error) => match attempts.next_wait(None) {
                    Some(wait) if wait.is_zero() => {}
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return Err(error),
                },
            }
        }
    }
}

/// The attempts of one call under a [`Retry`], with the settings in force
/// when the call started.
#[derive(Debug)]
pub struct Attempts<'a> {
    retry: &'a Retry,
    config: &'a RetryConfig,
    made: u32,
    previous: Duration,
}

impl Attempts<'_> {
    /// Records a failed attempt that should be retried. Returns the wait
    /// before the next attempt, or `None` once `max_attempts` are used up.
    /// `at_least` raises the wait (to honour a rate limiter's `retry_after`),
    /// never above `max_delay`.
    pub fn next_wait(&mut self, at_least: Option<Duration>) -> Option<Duration> {
        self.made += 1;
        let (retry, config) = (self.retry, self.config);
        if self.made >= config.max_attempts {
            retry.exhausted.fetch_add(1, Ordering::Relaxed);
            let attempts = self.made;
            if attempts > 1 {
                retry.failed_later.add();
            } else {
                retry.failed_first.add();
            }
            retry
                .listeners
                .notify(|listener| listener(&RetryEvent::Exhausted { attempts }));
            emit(Event::RetriesExhausted {
                name: &retry.name,
                attempts,
            });
            return None;
        }
        // Every formula gives zero for a zero delay: skip the arithmetic and the draw.
        let drawn = if config.delay.is_zero() {
            Duration::ZERO
        } else {
            backoff::wait(config, self.made - 1, self.previous, crate::rng::unit())
        };
        self.previous = drawn;
        let floored = at_least.map_or(drawn, |floor| drawn.max(floor));
        let wait = config.max_delay.map_or(floored, |cap| floored.min(cap));
        retry.retries.fetch_add(1, Ordering::Relaxed);
        let attempt = self.made;
        retry.listeners.notify(|listener| {
            listener(&RetryEvent::Scheduled {
                attempt,
                delay: wait,
            })
        });
        emit(Event::RetryScheduled {
            name: &retry.name,
            attempt: self.made,
            delay: wait,
        });
        Some(wait)
    }

    /// Records how the call ended, when it did not end by
    /// [`next_wait`](Self::next_wait) returning `None`: `ok` for a success,
    /// or not for an error that is not retried.
    #[inline]
    pub fn finished(&self, ok: bool) {
        let retry = self.retry;
        let attempts = self.made + 1;
        if !ok {
            self.not_retried(attempts);
            return;
        }
        if attempts == 1 {
            retry.succeeded_first.add();
        } else {
            retry.succeeded_later.add();
        }
        if retry.listeners.routine_wanted() {
            retry.report_success(attempts);
        }
    }

    #[cold]
    fn not_retried(&self, attempts: u32) {
        let retry = self.retry;
        if attempts == 1 {
            retry.failed_first.add();
        } else {
            retry.failed_later.add();
        }
        retry
            .listeners
            .notify(|listener| listener(&RetryEvent::NotRetried { attempts }));
        emit(Event::RetryNotRetried {
            name: &retry.name,
            attempts,
        });
    }

    /// Attempts made so far.
    pub fn made(&self) -> u32 {
        self.made
    }
}
