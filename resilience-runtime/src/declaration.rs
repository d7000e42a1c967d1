//! The named policies every annotated function declares, gathered at link
//! time: the registry knows them all before any of them is called.

use crate::bulkhead::BulkheadConfig;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::hedge::HedgeConfig;
use crate::rate_limiter::RateLimiterConfig;
use crate::registry::CallSite;
use crate::retry::RetryConfig;
use crate::retry_budget::RetryBudgetConfig;
use crate::time_limiter::TimeLimiterConfig;

/// One call site's use of a named policy. The attribute expansions put one in
/// [`DECLARATIONS`] per named policy; nothing runs before `main`.
#[doc(hidden)]
#[derive(Debug)]
pub struct Declaration {
    /// The instance's name.
    pub name: &'static str,
    /// Where the attribute is.
    pub site: CallSite,
    /// Whether the attribute has a `key`: the name is a keyed family's, and
    /// no plain instance of it is made for listings or telemetry.
    pub keyed: bool,
    /// The settings given inline, as the attribute spells them.
    pub keys: &'static [&'static str],
    /// Builds the inline configuration; a function, so that any `Duration`
    /// expression works.
    pub config: InlineConfig,
}

/// A kind of policy and the function that builds its inline configuration.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum InlineConfig {
    Retry(fn() -> RetryConfig),
    CircuitBreaker(fn() -> CircuitBreakerConfig),
    RateLimiter(fn() -> RateLimiterConfig),
    Bulkhead(fn() -> BulkheadConfig),
    TimeLimiter(fn() -> TimeLimiterConfig),
    Hedge(fn() -> HedgeConfig),
    RetryBudget(fn() -> RetryBudgetConfig),
}

/// Every named policy of the binary, one entry per call site.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static DECLARATIONS: [Declaration];
