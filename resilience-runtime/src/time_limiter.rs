//! Time limiter: a deadline on an async call.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use crate::config::ConfigError;
use crate::event::{emit, Event};
use crate::live::Live;
use crate::stats::Counter;
use crate::{Error, Name};
use tokio::time::{Instant, Sleep};

/// A time limiter's settings.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct TimeLimiterConfig {
    /// The longest a call may take. The attribute requires it; default 30 s.
    pub timeout: Duration,
}

impl Default for TimeLimiterConfig {
    fn default() -> Self {
        TimeLimiterConfig {
            timeout: Duration::from_secs(30),
        }
    }
}

impl TimeLimiterConfig {
    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks every setting; every timeout is valid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// Cancels a call that runs past its timeout by dropping its future.
///
/// A future that is ready on its first poll always completes, whatever the
/// timeout.
///
/// ```
/// use resilience_runtime::time_limiter::{TimeLimiter, TimeLimiterConfig};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let limiter = TimeLimiter::new("report", TimeLimiterConfig::default().timeout(Duration::from_millis(10))).unwrap();
/// let slow = limiter.run(tokio::time::sleep(Duration::from_secs(1))).await;
/// assert!(slow.unwrap_err().is_timeout());
/// assert_eq!(limiter.timeouts(), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct TimeLimiter {
    name: Name,
    config: Live<TimeLimiterConfig>,
    timeouts: Counter,
}

impl TimeLimiter {
    /// A time limiter named `name`.
    pub fn new(name: impl Into<Name>, config: TimeLimiterConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(TimeLimiter {
            name: name.into(),
            config: Live::new(config),
            timeouts: Counter::default(),
        })
    }

    /// The limiter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limiter's settings in force now.
    #[inline]
    pub fn config(&self) -> &TimeLimiterConfig {
        self.config.get()
    }

    /// Applies new settings from the next call on; a call in progress keeps
    /// the deadline it started with. An invalid configuration is returned as
    /// the error and changes nothing.
    ///
    /// ```
    /// use resilience_runtime::time_limiter::{TimeLimiter, TimeLimiterConfig};
    /// use std::time::Duration;
    ///
    /// let limiter = TimeLimiter::new("report", TimeLimiterConfig::default()).unwrap();
    /// limiter.reconfigure(TimeLimiterConfig::default().timeout(Duration::from_secs(5))).unwrap();
    /// assert_eq!(limiter.config().timeout, Duration::from_secs(5));
    /// ```
    pub fn reconfigure(&self, config: TimeLimiterConfig) -> Result<(), ConfigError> {
        config.validate()?;
        self.config
            .update(|current| (*current != config).then_some(config));
        Ok(())
    }

    /// Calls that timed out so far.
    pub fn timeouts(&self) -> u64 {
        self.timeouts.get()
    }

    /// Awaits `future`, or drops it and returns [`Error::Timeout`] once the
    /// timeout has passed (on tokio's clock). The deadline counts from the
    /// call, as with `tokio::time::timeout`; the timer itself is only set up
    /// once a poll finds the future pending, so a future ready at once costs
    /// one clock read.
    #[inline]
    pub async fn run<F: Future>(&self, future: F) -> Result<F::Output, Error> {
        let timeout = self.config.get().timeout;
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            // Beyond the clock's range: no deadline can pass.
            return Ok(future.await);
        };
        let mut future = pin!(future);
        let mut timer = pin!(None::<Sleep>);
        poll_fn(|context| {
            if let Poll::Ready(output) = future.as_mut().poll(context) {
                return Poll::Ready(Ok(output));
            }
            if timer.is_none() {
                timer.set(Some(tokio::time::sleep_until(deadline)));
            }
            match timer.as_mut().as_pin_mut().map(|timer| timer.poll(context)) {
                Some(Poll::Ready(())) => Poll::Ready(Err(self.timed_out(timeout))),
                _ => Poll::Pending,
            }
        })
        .await
    }

    #[cold]
    fn timed_out(&self, timeout: Duration) -> Error {
        self.timeouts.add();
        emit(Event::TimedOut {
            name: &self.name,
            timeout,
        });
        Error::Timeout {
            name: self.name.clone(),
            timeout,
        }
    }
}
