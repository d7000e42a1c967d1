//! The attempts of one call: the wait before each retry, and the rules that
//! end the retries early.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{backoff, Retry, RetryEvent, Settings, StopReason};
use crate::clock::Epoch;
use crate::event::{emit, Event};

/// The attempts of one call under a [`Retry`], with the settings in force
/// when the call started.
///
/// ```
/// use resilience_runtime::retry::{Retry, RetryConfig};
/// use std::time::Duration;
///
/// let retry = Retry::new("docs-attempts", RetryConfig::default().max_attempts(3)).unwrap();
/// let mut attempts = retry.attempts();
/// let mut outcomes = [Err("busy"), Err("busy"), Ok(7)].into_iter();
/// let value = loop {
///     match outcomes.next().unwrap() {
///         Ok(value) => {
///             attempts.finished(true);
///             break Ok(value);
///         }
///         // No hint here; pass the error's `Retry-After` if it has one.
///         Err(error) => match attempts.next_wait(None) {
///             Some(wait) => std::thread::sleep(wait),
///             None => break Err(error),
///         },
///     }
/// };
/// assert_eq!(value, Ok(7));
/// assert_eq!(attempts.made(), 2);
/// ```
#[derive(Debug)]
pub struct Attempts<'a> {
    retry: &'a Retry,
    settings: &'a Settings,
    made: u32,
    /// The previous wait, for decorrelated jitter; set at the first failure.
    previous: Duration,
    hooked: bool,
    started: Started,
}

/// When the first attempt started, if `max_duration` needs it.
#[derive(Debug, Clone, Copy)]
enum Started {
    Untimed,
    /// Nanoseconds of the policy's clock.
    Policy(u64),
    Tokio(tokio::time::Instant),
}

impl<'a> Attempts<'a> {
    #[inline(always)]
    pub(super) fn start(retry: &'a Retry, tokio_clock: bool) -> Self {
        let settings = retry.settings.get();
        let hooked = retry.hooked.load(Ordering::Relaxed);
        let started = if hooked {
            start_clock(retry, settings, tokio_clock)
        } else {
            Started::Untimed
        };
        Attempts {
            retry,
            settings,
            made: 0,
            previous: Duration::ZERO,
            hooked,
            started,
        }
    }

    /// Records a failed attempt that should be retried. Returns the wait
    /// before the next attempt, or `None` when the retries end and the
    /// error should be returned: once `max_attempts` are used up, when
    /// `hint` (the error's `retry_after`, or a rate limiter's) is longer
    /// than `max_delay` or is [`Duration::MAX`], when the wait would end
    /// past `max_duration`, or when the retry budget is spent.
    ///
    /// The wait is the backoff's (scaled by the success rate when
    /// `adaptive`, capped at `max_delay`), raised to `hint` if that is longer.
    pub fn next_wait(&mut self, hint: Option<Duration>) -> Option<Duration> {
        self.made += 1;
        let (retry, settings) = (self.retry, self.settings);
        let config = &settings.config;
        if self.made == 1 {
            retry.deposit(settings);
        }
        if self.made >= config.max_attempts {
            retry.exhausted.fetch_add(1, Ordering::Relaxed);
            let attempts = self.made;
            self.failed(attempts);
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
            // The first retry's "previous wait" is the delay.
            let previous = if self.made == 1 {
                config.delay
            } else {
                self.previous
            };
            backoff::wait(config, self.made - 1, previous, crate::rng::unit())
        };
        self.previous = drawn;
        let mut wait = drawn;
        if config.adaptive && !wait.is_zero() {
            let scaled = retry.history.scale(wait);
            wait = config.max_delay.map_or(scaled, |cap| scaled.min(cap));
        }
        if let Some(hint) = hint {
            let too_long = hint == Duration::MAX || config.max_delay.is_some_and(|cap| hint > cap);
            if too_long {
                return self.stop(StopReason::RetryAfter { hint });
            }
            wait = wait.max(hint);
        }
        if let Some(max) = config.max_duration {
            let elapsed = self.elapsed();
            if elapsed.saturating_add(wait) > max {
                return self.stop(StopReason::MaxDuration { elapsed, wait });
            }
        }
        if let Some(budget) = settings.budget() {
            if !budget.withdraw() {
                return self.stop(StopReason::Budget);
            }
        }
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
        if self.hooked || crate::event::routine_wanted() {
            retry.report_success(self.settings, attempts);
        }
    }

    #[cold]
    fn not_retried(&self, attempts: u32) {
        let retry = self.retry;
        if attempts == 1 {
            retry.deposit(self.settings);
        }
        self.failed(attempts);
        retry
            .listeners
            .notify(|listener| listener(&RetryEvent::NotRetried { attempts }));
        emit(Event::RetryNotRetried {
            name: &retry.name,
            attempts,
        });
    }

    /// Ends the retries before `max_attempts`: the error is returned.
    #[cold]
    fn stop(&self, reason: StopReason) -> Option<Duration> {
        let (retry, attempts) = (self.retry, self.made);
        self.failed(attempts);
        retry
            .listeners
            .notify(|listener| listener(&RetryEvent::Stopped { attempts, reason }));
        emit(Event::RetryStopped {
            name: &retry.name,
            attempts,
            reason,
            budget: self.settings.config.budget.as_deref(),
        });
        None
    }

    /// Counts a call that ended with an error after `attempts`.
    fn failed(&self, attempts: u32) {
        let retry = self.retry;
        if attempts > 1 {
            retry.failed_later.add();
        } else {
            retry.failed_first.add();
        }
        retry.record_call(self.settings, false);
    }

    /// Time since the first attempt started; zero when untimed (settings
    /// that gained `max_duration` while the call ran).
    fn elapsed(&self) -> Duration {
        match self.started {
            Started::Untimed => Duration::ZERO,
            Started::Policy(start) => Duration::from_nanos(
                self.retry
                    .clock
                    .get()
                    .map_or(start, |clock| clock.nanos())
                    .saturating_sub(start),
            ),
            Started::Tokio(start) => tokio::time::Instant::now().saturating_duration_since(start),
        }
    }

    /// Attempts made so far.
    pub fn made(&self) -> u32 {
        self.made
    }
}

/// The start of a call that `max_duration` times, on the clock its waits use.
#[cold]
#[inline(never)]
fn start_clock(retry: &Retry, settings: &Settings, tokio_clock: bool) -> Started {
    match settings.config.max_duration {
        None => Started::Untimed,
        Some(_) if tokio_clock => Started::Tokio(tokio::time::Instant::now()),
        Some(_) => Started::Policy(retry.clock.get_or_init(Epoch::now).nanos()),
    }
}
