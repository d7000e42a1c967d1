//! The keys each kind of policy takes, spelled as the attribute arguments,
//! with their types and the configuration fields they set.

use std::fmt;

use serde::Serialize;

use super::value::{Field, Range, Type, Value};
use super::ConfigError;
use crate::bulkhead::BulkheadConfig;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::declaration::InlineConfig;
use crate::hedge::HedgeConfig;
use crate::rate_limiter::RateLimiterConfig;
use crate::retry::RetryConfig;
use crate::retry_budget::RetryBudgetConfig;
use crate::stores::{OnStoreError, Store};
use crate::time_limiter::TimeLimiterConfig;

/// A kind of policy, spelled in a configuration file as its attribute is
/// (and so serialized: `"circuit_breaker"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// `retry`
    Retry,
    /// `circuit_breaker`
    CircuitBreaker,
    /// `rate_limiter`
    RateLimiter,
    /// `bulkhead`
    Bulkhead,
    /// `time_limiter`
    TimeLimiter,
    /// `hedge`
    Hedge,
    /// `retry_budget`
    RetryBudget,
}

impl PolicyKind {
    /// Every kind, in the order of a configuration file's documentation.
    pub const ALL: [PolicyKind; 7] = [
        PolicyKind::Retry,
        PolicyKind::CircuitBreaker,
        PolicyKind::RateLimiter,
        PolicyKind::Bulkhead,
        PolicyKind::TimeLimiter,
        PolicyKind::Hedge,
        PolicyKind::RetryBudget,
    ];

    /// The kind as a file and its attribute spell it: `circuit_breaker`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Retry => "retry",
            PolicyKind::CircuitBreaker => "circuit_breaker",
            PolicyKind::RateLimiter => "rate_limiter",
            PolicyKind::Bulkhead => "bulkhead",
            PolicyKind::TimeLimiter => "time_limiter",
            PolicyKind::Hedge => "hedge",
            PolicyKind::RetryBudget => "retry_budget",
        }
    }

    /// The kind named `text`, as a file spells it.
    pub fn parse(text: &str) -> Option<PolicyKind> {
        PolicyKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    /// The keys a table of this kind takes.
    pub fn keys(self) -> Vec<&'static str> {
        fn names<C: Settings>() -> Vec<&'static str> {
            C::keys().iter().map(|key| key.name).collect()
        }
        match self {
            PolicyKind::Retry => names::<RetryConfig>(),
            PolicyKind::CircuitBreaker => names::<CircuitBreakerConfig>(),
            PolicyKind::RateLimiter => names::<RateLimiterConfig>(),
            PolicyKind::Bulkhead => names::<BulkheadConfig>(),
            PolicyKind::TimeLimiter => names::<TimeLimiterConfig>(),
            PolicyKind::Hedge => names::<HedgeConfig>(),
            PolicyKind::RetryBudget => names::<RetryBudgetConfig>(),
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One key of a policy's configuration.
#[doc(hidden)]
pub struct Key<C> {
    pub(crate) name: &'static str,
    pub(crate) ty: Type,
    /// A valid value, as a file writes it, for suggestions.
    pub(crate) example: &'static str,
    pub(crate) get: fn(&C) -> Value,
    pub(crate) set: fn(&mut C, Value),
}

/// A policy configuration that files and the registry can set key by key.
#[doc(hidden)]
pub trait Settings: Clone + Default + PartialEq + fmt::Debug + Send + Sync + 'static {
    const KIND: PolicyKind;
    fn keys() -> &'static [Key<Self>];
    fn check(&self) -> Result<(), ConfigError>;
    /// The function building a declaration's inline configuration, if it is of this kind.
    fn inline(config: &InlineConfig) -> Option<fn() -> Self>;

    fn key(name: &str) -> Option<&'static Key<Self>> {
        Self::keys().iter().find(|key| key.name == name)
    }
}

macro_rules! keys {
    ($config:ty, $kind:ident, $($field:ident: $ty:expr, $example:literal;)*) => {
        impl Settings for $config {
            const KIND: PolicyKind = PolicyKind::$kind;
            fn keys() -> &'static [Key<Self>] {
                const KEYS: &[Key<$config>] = &[$(Key {
                    name: stringify!($field),
                    ty: $ty,
                    example: $example,
                    get: |config| Field::to_value(&config.$field),
                    set: |config, value| config.$field = Field::from_value(value),
                }),*];
                KEYS
            }
            fn check(&self) -> Result<(), ConfigError> {
                self.validate()
            }
            fn inline(config: &InlineConfig) -> Option<fn() -> Self> {
                match config {
                    InlineConfig::$kind(build) => Some(*build),
                    _ => None,
                }
            }
        }
    };
}

const U32: u64 = u32::MAX as u64;

const fn count(min: u64, max: u64) -> Type {
    Type::Count { min, max }
}

const MAX_KEYS: Type = count(1, crate::keyed::MAX_MAX_KEYS as u64);
const DURATION: Type = Type::Duration { nonzero: false };
const NONZERO: Type = Type::Duration { nonzero: true };
const STORE: Type = Type::Choice(Store::CHOICES);

keys!(RetryConfig, Retry,
    max_attempts: count(1, U32), "3";
    delay: DURATION, "\"200ms\"";
    backoff: Type::Backoff, "2.0";
    max_delay: DURATION, "\"10s\"";
    jitter: Type::Jitter, "0.2";
    max_duration: NONZERO, "\"30s\"";
    adaptive: Type::Bool, "true";
    budget: Type::Name, "\"api\"";
);

keys!(CircuitBreakerConfig, CircuitBreaker,
    failure_threshold: count(1, U32), "5";
    recovery_timeout: DURATION, "\"30s\"";
    failure_rate_threshold: Type::Number(Range::Fraction), "0.5";
    window_size: count(1, U32), "20";
    window_duration: NONZERO, "\"60s\"";
    minimum_calls: count(1, U32), "5";
    slow_call_duration: DURATION, "\"2s\"";
    slow_call_rate_threshold: Type::Number(Range::Fraction), "0.8";
    half_open_max_calls: count(1, U32), "1";
    recovery_backoff: Type::Number(Range::Factor), "2.0";
    max_recovery_timeout: DURATION, "\"5m\"";
    half_open_max_wait: NONZERO, "\"10s\"";
    max_keys: MAX_KEYS, "10000";
    store: STORE, "\"redis\"";
    sync_interval: NONZERO, "\"100ms\"";
);

keys!(RateLimiterConfig, RateLimiter,
    max_tokens: count(1, U32), "100";
    refill_rate: Type::Number(Range::NonNegative), "50.0";
    max_wait: DURATION, "\"100ms\"";
    max_keys: MAX_KEYS, "10000";
    store: STORE, "\"redis\"";
    on_store_error: Type::Choice(OnStoreError::CHOICES), "\"local\"";
    store_timeout: NONZERO, "\"50ms\"";
    expected_replicas: count(1, U32), "4";
    local_precheck: Type::Bool, "true";
);

keys!(BulkheadConfig, Bulkhead,
    max_concurrent: count(1, U32), "10";
    max_wait: DURATION, "\"100ms\"";
    max_keys: MAX_KEYS, "10000";
);

keys!(TimeLimiterConfig, TimeLimiter,
    timeout: DURATION, "\"3s\"";
);

keys!(HedgeConfig, Hedge,
    delay: Type::HedgeDelay, "\"50ms\"";
    max_hedged_attempts: count(1, crate::hedge::MAX_HEDGED_ATTEMPTS as u64), "1";
    delay_floor: DURATION, "\"10ms\"";
);

keys!(RetryBudgetConfig, RetryBudget,
    ttl: Type::Duration { nonzero: true }, "\"10s\"";
    retry_ratio: Type::Number(Range::Ratio), "0.2";
    min_retries_per_second: count(0, 100_000), "10";
);
