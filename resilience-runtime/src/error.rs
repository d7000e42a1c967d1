use crate::Name;
use std::time::Duration;

/// A call that a resilience policy refused to run, or stopped.
///
/// Annotated functions return it as `Err(E::from(error))`, so their error type
/// implements `From<resilience_runtime::Error>`; with thiserror that is one line:
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// enum PriceError {
///     #[error("pricing service unavailable")]
///     Unavailable,
///     #[error(transparent)]
///     Resilience(#[from] resilience_runtime::Error),
/// }
/// # let _ = PriceError::Unavailable;
/// ```
///
/// Each variant carries the name of the policy instance that rejected the call
/// (the `name = "..."` argument, or the function's name for an unnamed one).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The circuit breaker is open, or half-open with all its probe slots taken.
    #[error("circuit breaker `{name}` is open")]
    #[non_exhaustive]
    CircuitOpen {
        /// The breaker's name.
        name: Name,
        /// How long until the breaker admits a probe call; `None` when it is
        /// half-open and waiting for the probes already admitted.
        retry_after: Option<Duration>,
    },
    /// The bulkhead had no free slot (within `max_wait`, when one is set).
    #[error("bulkhead `{name}` is full ({max_concurrent} concurrent calls)")]
    #[non_exhaustive]
    BulkheadFull {
        /// The bulkhead's name.
        name: Name,
        /// The bulkhead's capacity.
        max_concurrent: usize,
    },
    /// The rate limiter had no token (within `max_wait`, when one is set).
    #[error("rate limiter `{name}` is exhausted; {}", RetryAfter(*.retry_after))]
    #[non_exhaustive]
    RateLimited {
        /// The rate limiter's name.
        name: Name,
        /// How long until a token is available; [`Duration::MAX`] when none
        /// ever will (a fixed quota, `refill_rate = 0.0`, used up).
        retry_after: Duration,
    },
    /// The call did not finish within the time limiter's timeout; its future was dropped.
    #[error("`{name}` timed out after {timeout:?}")]
    #[non_exhaustive]
    Timeout {
        /// The time limiter's name.
        name: Name,
        /// The timeout that was exceeded.
        timeout: Duration,
    },
}

impl Error {
    /// The name of the policy instance that produced this error.
    pub fn name(&self) -> &str {
        match self {
            Error::CircuitOpen { name, .. }
            | Error::BulkheadFull { name, .. }
            | Error::RateLimited { name, .. }
            | Error::Timeout { name, .. } => name,
        }
    }

    /// How long the caller should wait before trying again, where the policy knows.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::CircuitOpen { retry_after, .. } => *retry_after,
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            Error::BulkheadFull { .. } | Error::Timeout { .. } => None,
        }
    }

    /// `true` for a timeout, the one error that reports on the wrapped call itself
    /// rather than a local refusal to run it: an outer circuit breaker counts it
    /// as a failure, while it never counts an open circuit, a full bulkhead or an
    /// exhausted rate limiter.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }
}

/// A rate limiter's wait, as its error message says it.
struct RetryAfter(Duration);

impl std::fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == Duration::MAX {
            f.write_str("its fixed quota is used up")
        } else {
            write!(f, "retry after {:?}", self.0)
        }
    }
}
