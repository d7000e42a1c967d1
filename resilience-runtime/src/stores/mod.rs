//! Where a policy keeps its state: in the process, the default, or (feature
//! `redis`) in Redis or Valkey, shared by every replica of a service.
//!
//! A rate limiter with `store = "redis"` keeps its bucket in Redis: every
//! replica draws on the one budget, one round trip per check. A circuit
//! breaker with `store = "redis"` keeps its own breaker and shares its counts
//! and its OPEN with the fleet in the background, so its calls make no round
//! trip. The connection is given once, with
//! [`Registry::set_redis`](crate::Registry::set_redis) or a configuration
//! file's `[redis]` table; `docs/redis.md` has the design and its guarantees.

use std::fmt;
use std::time::Duration;

#[cfg(feature = "redis")]
pub mod redis;

/// Where a policy keeps its state: `store = "local"` (the default) or
/// `store = "redis"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Store {
    /// In this process.
    #[default]
    Local,
    /// In Redis, shared with every process that uses the same name there.
    Redis,
}

/// How a rate limiter whose store does not answer within `store_timeout`
/// (or answers with an error) decides a call: `on_store_error = "local"`
/// (the default), `"allow"` or `"deny"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum OnStoreError {
    /// By a local bucket holding this replica's share of the fleet's limit
    /// (`refill_rate / expected_replicas`, and as much of the burst).
    #[default]
    Local,
    /// Every call is let through until the store answers again.
    Allow,
    /// Every call is refused until the store answers again.
    Deny,
}

/// Whether a policy reaches the store its state is in, as
/// `RateLimiter::store_status` and `CircuitBreaker::store_status` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreStatus {
    /// The state is in the process only (`store = "local"`, or a breaker
    /// the fleet's syncer cannot reach).
    Local,
    /// The store answered the last request (or none was made yet).
    Available,
    /// The store failed the last request, `for_` ago at first: a rate
    /// limiter decides by `on_store_error`, a breaker goes on alone.
    Unavailable {
        /// How long since the first failure of this outage.
        for_: Duration,
    },
}

impl Store {
    /// As a configuration file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Store::Local => "local",
            Store::Redis => "redis",
        }
    }

    pub(crate) const CHOICES: &'static [&'static str] = &["local", "redis"];

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "local" => Some(Store::Local),
            "redis" => Some(Store::Redis),
            _ => None,
        }
    }
}

impl OnStoreError {
    /// As a configuration file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OnStoreError::Local => "local",
            OnStoreError::Allow => "allow",
            OnStoreError::Deny => "deny",
        }
    }

    pub(crate) const CHOICES: &'static [&'static str] = &["local", "allow", "deny"];

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "local" => Some(OnStoreError::Local),
            "allow" => Some(OnStoreError::Allow),
            "deny" => Some(OnStoreError::Deny),
            _ => None,
        }
    }
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for OnStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for `store = "redis"` in a build without the `redis` feature.
pub(crate) fn check_available(store: Store) -> Result<(), crate::config::ConfigError> {
    crate::config::check(
        store == Store::Local || cfg!(feature = "redis"),
        "store",
        || {
            "`\"redis\"` needs the `redis` feature of `resilience-runtime`; enable it, or use `\"local\"`".to_owned()
        },
    )
}
