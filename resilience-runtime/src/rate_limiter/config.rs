//! A rate limiter's settings.

use std::time::Duration;

use crate::config::{check, ConfigError};
use crate::keyed::{check_max_keys, DEFAULT_MAX_KEYS};
use crate::stores::{check_available, OnStoreError, Store};

/// A rate limiter's settings; the attribute's arguments, with the same defaults.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimiterConfig {
    /// The bucket's capacity, which is the largest burst; it starts full. Default 10.
    pub max_tokens: u32,
    /// Tokens added per second. Default 10.0. Zero makes a fixed quota:
    /// `max_tokens` calls, then rejections for good (with a `retry_after` of
    /// [`Duration::MAX`], which ends a retry above the limiter at once).
    pub refill_rate: f64,
    /// How long a caller waits for a token; zero rejects at once. Default zero.
    pub max_wait: Duration,
    /// With `key`: the most members the keyed family keeps, least recently
    /// used idle ones dropped first beyond it (see [`Family`](crate::keyed::Family)).
    /// Unused without a key. Default 10,000.
    pub max_keys: usize,
    /// Where the bucket is: `Store::Local`, in this process, or
    /// `Store::Redis`, one bucket for every replica (feature `redis`).
    /// Default local.
    pub store: Store,
    /// With the Redis store: how a call is decided when Redis does not
    /// answer within `store_timeout` or errs. Default `OnStoreError::Local`.
    pub on_store_error: OnStoreError,
    /// With the Redis store: the longest a check waits for Redis. Default 50 ms.
    pub store_timeout: Duration,
    /// With the Redis store: the replicas sharing the bucket, which size the
    /// local bucket `on_store_error = "local"` falls back to (a share of
    /// `refill_rate` and of `max_tokens`). Default 1.
    pub expected_replicas: u32,
    /// With the Redis store: check this replica's own bucket at the fleet's
    /// rate first, so that a replica that alone took the whole budget is
    /// refused without a round trip. It never refuses a call Redis would
    /// admit: it counts only the tokens Redis granted. Default true.
    pub local_precheck: bool,
}

impl Default for RateLimiterConfig {
    fn default() -> Self {
        RateLimiterConfig {
            max_tokens: 10,
            refill_rate: 10.0,
            max_wait: Duration::ZERO,
            max_keys: DEFAULT_MAX_KEYS,
            store: Store::Local,
            on_store_error: OnStoreError::Local,
            store_timeout: Duration::from_millis(50),
            expected_replicas: 1,
            local_precheck: true,
        }
    }
}

impl RateLimiterConfig {
    /// Sets [`max_tokens`](Self::max_tokens).
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = n;
        self
    }
    /// Sets [`refill_rate`](Self::refill_rate).
    pub fn refill_rate(mut self, per_second: f64) -> Self {
        self.refill_rate = per_second;
        self
    }
    /// Sets [`max_wait`](Self::max_wait).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }
    /// Sets [`max_keys`](Self::max_keys).
    pub fn max_keys(mut self, n: usize) -> Self {
        self.max_keys = n;
        self
    }

    /// Sets [`store`](Self::store).
    pub fn store(mut self, store: Store) -> Self {
        self.store = store;
        self
    }
    /// Sets [`on_store_error`](Self::on_store_error).
    pub fn on_store_error(mut self, policy: OnStoreError) -> Self {
        self.on_store_error = policy;
        self
    }
    /// Sets [`store_timeout`](Self::store_timeout).
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }
    /// Sets [`expected_replicas`](Self::expected_replicas).
    pub fn expected_replicas(mut self, n: u32) -> Self {
        self.expected_replicas = n;
        self
    }
    /// Sets [`local_precheck`](Self::local_precheck).
    pub fn local_precheck(mut self, on: bool) -> Self {
        self.local_precheck = on;
        self
    }

    /// Checks every setting, naming the first one at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_max_keys(self.max_keys)?;
        check(self.max_tokens >= 1, "max_tokens", || {
            "must be at least 1".into()
        })?;
        check_available(self.store)?;
        check(!self.store_timeout.is_zero(), "store_timeout", || {
            "must be longer than zero; e.g. `\"50ms\"`".into()
        })?;
        check(self.expected_replicas >= 1, "expected_replicas", || {
            "must be at least 1".into()
        })?;
        check(
            self.refill_rate.is_finite() && (self.refill_rate == 0.0 || self.refill_rate >= 1e-9),
            "refill_rate",
            || {
                format!(
                    "must be zero (a fixed quota) or a positive number of tokens per second, got {}",
                    self.refill_rate
                )
            },
        )
    }
}
