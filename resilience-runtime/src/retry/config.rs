//! A retry's settings.

use std::time::Duration;

use crate::config::{check, ConfigError};

/// How a retry's wait is randomised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    /// The wait is exactly the backoff's, capped at `max_delay`.
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

/// How the wait grows from one retry to the next, before jitter and the cap.
///
/// A number converts to [`Exponential`](Backoff::Exponential), so
/// `RetryConfig::default().backoff(2.0)` doubles the wait each time; a file
/// writes `backoff = 2.0` or `backoff = "linear"`.
///
/// ```
/// use resilience_runtime::retry::{Backoff, RetryConfig};
///
/// assert_eq!(RetryConfig::default().backoff(2.0).backoff, Backoff::Exponential(2.0));
/// assert_eq!(RetryConfig::default().backoff(Backoff::Linear).backoff, Backoff::Linear);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backoff {
    /// The wait before retry `n` (from 0) is `delay * factor^n`; 1.0 keeps it constant.
    Exponential(f64),
    /// The wait before retry `n` (from 0) is `delay * (n + 1)`.
    Linear,
}

impl From<f64> for Backoff {
    fn from(factor: f64) -> Self {
        Backoff::Exponential(factor)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::Exponential(1.0)
    }
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
///     .max_duration(Duration::from_secs(10))
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
    /// How the wait grows with each retry. Default a factor of 1.0 (constant).
    pub backoff: Backoff,
    /// The longest wait. A retry-after hint (the error's, or a rate
    /// limiter's) longer than this ends the retries at once. Default none.
    pub max_delay: Option<Duration>,
    /// How the wait is randomised. Default none.
    pub jitter: Jitter,
    /// A budget for the whole call, attempts and waits included, counted
    /// from the start of the first attempt: a retry whose wait would end
    /// past it is not started, and the last error is returned. Default none.
    pub max_duration: Option<Duration>,
    /// Scales each wait by the success rate of this retry's last 100 calls
    /// (a call is one whole retried call, counted when it ends): 0.7 above
    /// 90%, 1.0 above 70%, 1.5 above 50%, 2.0 otherwise; 1.0 before any
    /// call has ended. The scaled wait is still capped at `max_delay`.
    /// Default false.
    pub adaptive: bool,
    /// The name of a shared [`RetryBudget`](crate::retry_budget::RetryBudget)
    /// in the [`registry`](crate::registry) that every call deposits into and
    /// every retry withdraws from; when it is spent, the retry stops and the
    /// last error is returned. Default none.
    pub budget: Option<String>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            delay: Duration::ZERO,
            backoff: Backoff::default(),
            max_delay: None,
            jitter: Jitter::None,
            max_duration: None,
            adaptive: false,
            budget: None,
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
    /// Sets [`backoff`](Self::backoff): a factor (`2.0`) or [`Backoff::Linear`].
    pub fn backoff(mut self, backoff: impl Into<Backoff>) -> Self {
        self.backoff = backoff.into();
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
    /// Sets [`max_duration`](Self::max_duration).
    pub fn max_duration(mut self, max: Duration) -> Self {
        self.max_duration = Some(max);
        self
    }
    /// Sets [`adaptive`](Self::adaptive).
    pub fn adaptive(mut self, adaptive: bool) -> Self {
        self.adaptive = adaptive;
        self
    }
    /// Sets [`budget`](Self::budget), the name of a shared retry budget.
    pub fn budget(mut self, name: impl Into<String>) -> Self {
        self.budget = Some(name.into());
        self
    }

    /// Checks every setting, naming the first one at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(self.max_attempts >= 1, "max_attempts", || {
            "must be at least 1 (it counts the first call)".into()
        })?;
        if let Backoff::Exponential(factor) = self.backoff {
            check(factor.is_finite() && factor > 0.0, "backoff", || {
                format!("must be a positive number or \"linear\", got {factor}")
            })?;
        }
        if let Jitter::Fraction(j) = self.jitter {
            check((0.0..=1.0).contains(&j), "jitter", || {
                format!("a fraction must be in [0, 1], got {j}")
            })?;
        }
        if let Some(max) = self.max_duration {
            check(!max.is_zero(), "max_duration", || {
                "must be longer than zero".into()
            })?;
        }
        if let Some(name) = &self.budget {
            check(!name.trim().is_empty(), "budget", || {
                "must name a retry budget, e.g. \"api\"".into()
            })?;
        }
        Ok(())
    }

    /// Whether a call needs more than the plain loop: a clock, a history or a budget.
    pub(crate) fn tracked(&self) -> bool {
        self.max_duration.is_some() || self.adaptive || self.budget.is_some()
    }
}
