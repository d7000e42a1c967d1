use std::time::Duration;

use super::word::{MAX_FAILURE_THRESHOLD, MAX_HALF_OPEN_CALLS};
use crate::config::{check, ConfigError};
use crate::keyed::{check_max_keys, DEFAULT_MAX_KEYS};
use crate::stores::{check_available, Store};

/// A circuit breaker's settings; the attribute's arguments, with the same defaults.
///
/// ```
/// use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
/// use std::time::Duration;
///
/// // Trip when half the calls of the last minute failed, or when 80% of them
/// // took over 2 s, once at least 20 calls were seen; probe again after 10 s,
/// // then after 20 s, 40 s, ... up to 5 minutes while probes keep failing.
/// let config = CircuitBreakerConfig::default()
///     .failure_rate_threshold(0.5)
///     .window_duration(Duration::from_secs(60))
///     .minimum_calls(20)
///     .slow_call_duration(Duration::from_secs(2))
///     .slow_call_rate_threshold(0.8)
///     .recovery_timeout(Duration::from_secs(10))
///     .recovery_backoff(2.0)
///     .max_recovery_timeout(Duration::from_secs(300));
/// assert!(config.validate().is_ok());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures that open the circuit (when no rate is set). Default 5.
    pub failure_threshold: u32,
    /// How long the circuit stays open before it admits probes. Default 30 s.
    pub recovery_timeout: Duration,
    /// When set, the circuit opens on the failure rate over the window instead
    /// of on consecutive failures; judged when a failure is recorded, once
    /// `minimum_calls` are in the window. Default none.
    pub failure_rate_threshold: Option<f64>,
    /// Calls in the count window. Default 10.
    pub window_size: u32,
    /// When set, the window holds the calls of this last stretch of time
    /// instead of the last `window_size` calls. Default none.
    pub window_duration: Option<Duration>,
    /// Calls the window must hold before a rate is judged. Default: `window_size`
    /// for the count window (it must be full), 10 for the time window.
    pub minimum_calls: Option<u32>,
    /// When set, a call that takes longer counts as slow, whatever its outcome. Default none.
    pub slow_call_duration: Option<Duration>,
    /// The share of slow calls in the window that opens the circuit, judged when
    /// a slow call is recorded. Default 1.0.
    pub slow_call_rate_threshold: f64,
    /// Probe calls admitted while half-open; that many successes close the
    /// circuit and any failure reopens it. Default 1.
    pub half_open_max_calls: u32,
    /// The factor the open time grows by each time the probes fail again in a
    /// row; a close resets it. Default 1.0.
    pub recovery_backoff: f64,
    /// The longest open time `recovery_backoff` can grow to. Default none.
    pub max_recovery_timeout: Option<Duration>,
    /// How long the probes may take in all; after that the circuit reopens
    /// instead of waiting for them. Default none.
    pub half_open_max_wait: Option<Duration>,
    /// With `key`: the most members the keyed family keeps, least recently
    /// used idle ones dropped first beyond it (see [`Family`](crate::keyed::Family)).
    /// Unused without a key. Default 10,000.
    pub max_keys: usize,
    /// `Store::Redis` (feature `redis`): the breaker shares its counts and
    /// its OPEN with every replica through Redis, in the background, and
    /// judges `failure_rate_threshold` over the fleet's window; its calls
    /// make no round trip. Needs `failure_rate_threshold`. Default local.
    pub store: Store,
    /// With the Redis store: how often the counts since the last flush go to
    /// Redis and the fleet's are read back. Default 100 ms.
    pub sync_interval: Duration,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            failure_threshold: 5,
            recovery_timeout: Duration::from_secs(30),
            failure_rate_threshold: None,
            window_size: 10,
            window_duration: None,
            minimum_calls: None,
            slow_call_duration: None,
            slow_call_rate_threshold: 1.0,
            half_open_max_calls: 1,
            recovery_backoff: 1.0,
            max_recovery_timeout: None,
            half_open_max_wait: None,
            max_keys: DEFAULT_MAX_KEYS,
            store: Store::Local,
            sync_interval: Duration::from_millis(100),
        }
    }
}

macro_rules! setters {
    ($($field:ident: $ty:ty => $value:expr;)*) => {
        impl CircuitBreakerConfig {
            $(
                #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ").")]
                pub fn $field(mut self, value: $ty) -> Self {
                    self.$field = $value(value);
                    self
                }
            )*
        }
    };
}

setters! {
    failure_threshold: u32 => std::convert::identity;
    recovery_timeout: Duration => std::convert::identity;
    failure_rate_threshold: f64 => Some;
    window_size: u32 => std::convert::identity;
    window_duration: Duration => Some;
    minimum_calls: u32 => Some;
    slow_call_duration: Duration => Some;
    slow_call_rate_threshold: f64 => std::convert::identity;
    half_open_max_calls: u32 => std::convert::identity;
    recovery_backoff: f64 => std::convert::identity;
    max_recovery_timeout: Duration => Some;
    half_open_max_wait: Duration => Some;
    max_keys: usize => std::convert::identity;
    store: Store => std::convert::identity;
    sync_interval: Duration => std::convert::identity;
}

impl CircuitBreakerConfig {
    /// Whether the breaker keeps a window of outcomes (for a failure rate or slow calls).
    pub(crate) fn has_window(&self) -> bool {
        self.failure_rate_threshold.is_some() || self.slow_call_duration.is_some()
    }

    /// Calls the window must hold before a rate is judged.
    pub(crate) fn judged_from(&self) -> u32 {
        self.minimum_calls
            .unwrap_or(if self.window_duration.is_some() {
                10
            } else {
                self.window_size
            })
    }

    /// Checks every setting, naming the first one at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_max_keys(self.max_keys)?;
        check_available(self.store)?;
        check(
            self.store == Store::Local || self.failure_rate_threshold.is_some(),
            "store",
            || {
                "`\"redis\"` shares a failure rate across the fleet: set `failure_rate_threshold` too, e.g. `failure_rate_threshold = 0.5`".into()
            },
        )?;
        check(!self.sync_interval.is_zero(), "sync_interval", || {
            "must be longer than zero; e.g. `\"100ms\"`".into()
        })?;
        check(
            (1..=MAX_FAILURE_THRESHOLD).contains(&self.failure_threshold),
            "failure_threshold",
            || {
                format!(
                    "must be in 1..={MAX_FAILURE_THRESHOLD}, got {}",
                    self.failure_threshold
                )
            },
        )?;
        let fraction = |key, rate: f64| {
            check(rate > 0.0 && rate <= 1.0, key, || {
                format!("must be in (0, 1], got {rate}")
            })
        };
        if let Some(rate) = self.failure_rate_threshold {
            fraction("failure_rate_threshold", rate)?;
        }
        fraction("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        check(self.window_size >= 1, "window_size", || {
            "must be at least 1".into()
        })?;
        if let Some(duration) = self.window_duration {
            check(!duration.is_zero(), "window_duration", || {
                "must be longer than zero".into()
            })?;
        }
        if let Some(minimum) = self.minimum_calls {
            check(minimum >= 1, "minimum_calls", || {
                "must be at least 1".into()
            })?;
            check(
                self.window_duration.is_some() || minimum <= self.window_size,
                "minimum_calls",
                || {
                    format!(
                        "must be at most `window_size` ({}), got {minimum}",
                        self.window_size
                    )
                },
            )?;
        }
        check(
            (1..=MAX_HALF_OPEN_CALLS).contains(&self.half_open_max_calls),
            "half_open_max_calls",
            || {
                format!(
                    "must be in 1..={MAX_HALF_OPEN_CALLS}, got {}",
                    self.half_open_max_calls
                )
            },
        )?;
        check(
            self.recovery_backoff.is_finite() && self.recovery_backoff >= 1.0,
            "recovery_backoff",
            || {
                format!(
                    "must be a factor of at least 1.0, got {}",
                    self.recovery_backoff
                )
            },
        )?;
        if let Some(max) = self.max_recovery_timeout {
            check(max >= self.recovery_timeout, "max_recovery_timeout", || {
                format!(
                    "must be at least `recovery_timeout` ({:?}), got {max:?}",
                    self.recovery_timeout
                )
            })?;
        }
        if let Some(wait) = self.half_open_max_wait {
            check(!wait.is_zero(), "half_open_max_wait", || {
                "must be longer than zero".into()
            })?;
        }
        Ok(())
    }
}
