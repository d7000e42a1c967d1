//! Keyed policies: one circuit breaker per downstream host, one rate limiter
//! per tenant, one bulkhead per API key, as a [`Family`] under one name.
//!
//! An attribute selects its member with `key = expr`, evaluated per call from
//! the arguments; the registry hands out the family by name
//! ([`circuit_breaker_family`](crate::Registry::circuit_breaker_family),
//! [`rate_limiter_family`](crate::Registry::rate_limiter_family),
//! [`bulkhead_family`](crate::Registry::bulkhead_family)), the same one the
//! attributes with that name use.
//!
//! ```
//! use resilience_runtime::{rate_limiter, registry};
//!
//! #[derive(Debug)]
//! enum ApiError { Limited }
//! impl From<resilience_runtime::Error> for ApiError {
//!     fn from(_: resilience_runtime::Error) -> Self { ApiError::Limited }
//! }
//!
//! #[rate_limiter(name = "docs-keyed-tenant", key = tenant, max_tokens = 2, refill_rate = 0.0)]
//! fn search(tenant: &str, query: &str) -> Result<usize, ApiError> {
//!     Ok(query.len())
//! }
//!
//! assert!(search("acme", "a").is_ok());
//! assert!(search("acme", "b").is_ok());
//! assert!(search("acme", "c").is_err(), "acme used its two calls");
//! assert!(search("globex", "d").is_ok(), "globex has a bucket of its own");
//! assert_eq!(registry().rate_limiter_family("docs-keyed-tenant").len(), 2);
//! ```

mod evict;
mod family;
mod key;
mod slot;
mod table;

pub use family::Family;
pub use key::Key;

use crate::bulkhead::BulkheadConfig;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::config::{check, ConfigError};
use crate::rate_limiter::RateLimiterConfig;
use crate::registry::Policy;
use crate::{Bulkhead, CircuitBreaker, CircuitState, RateLimiter};

/// `max_keys` when none is given.
pub(crate) const DEFAULT_MAX_KEYS: usize = 10_000;

/// The largest `max_keys`: a family is memory for this many instances.
pub(crate) const MAX_MAX_KEYS: usize = 10_000_000;

pub(crate) fn check_max_keys(max_keys: usize) -> Result<(), ConfigError> {
    check((1..=MAX_MAX_KEYS).contains(&max_keys), "max_keys", || {
        format!("must be in 1..={MAX_MAX_KEYS}, got {max_keys}")
    })
}

/// A kind of policy that can be keyed.
#[doc(hidden)]
pub trait Keyed: Policy {
    /// The family's bound on members.
    fn max_keys(config: &Self::Config) -> usize;
    /// Whether dropping it loses nothing a later call would miss.
    fn is_idle(&self) -> bool;
}

impl Keyed for CircuitBreaker {
    fn max_keys(config: &CircuitBreakerConfig) -> usize {
        config.max_keys
    }
    fn is_idle(&self) -> bool {
        self.state() == CircuitState::Closed
    }
}

impl Keyed for RateLimiter {
    fn max_keys(config: &RateLimiterConfig) -> usize {
        config.max_keys
    }
    fn is_idle(&self) -> bool {
        self.available_tokens() >= f64::from(self.config().max_tokens)
    }
}

impl Keyed for Bulkhead {
    fn max_keys(config: &BulkheadConfig) -> usize {
        config.max_keys
    }
    fn is_idle(&self) -> bool {
        self.available_slots() >= self.max_concurrent()
    }
}
