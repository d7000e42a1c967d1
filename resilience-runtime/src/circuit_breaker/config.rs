use std::time::Duration;

use super::word::{MAX_FAILURE_THRESHOLD, MAX_HALF_OPEN_CALLS};
use crate::config::{check, ConfigError};

/// A circuit breaker's settings; the attribute's arguments, with the same defaults.
///
/// ```
/// use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
/// use std::time::Duration;
///
/// // Trip when half of the last 20 calls failed; probe again after 10 s.
/// let config = CircuitBreakerConfig::default()
///     .failure_rate_threshold(0.5)
///     .window_size(20)
///     .recovery_timeout(Duration::from_secs(10));
/// assert!(config.validate().is_ok());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures that open the circuit (when no rate is set). Default 5.
    pub failure_threshold: u32,
    /// How long the circuit stays open before it admits probes. Default 30 s.
    pub recovery_timeout: Duration,
    /// When set, the circuit opens on the failure rate over the last
    /// `window_size` calls instead of on consecutive failures; judged only once
    /// the window is full, when a failure is recorded. Default none.
    pub failure_rate_threshold: Option<f64>,
    /// Calls in the failure-rate window. Default 10.
    pub window_size: u32,
    /// Probe calls admitted while half-open; that many successes close the
    /// circuit and any failure reopens it. Default 1.
    pub half_open_max_calls: u32,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            failure_threshold: 5,
            recovery_timeout: Duration::from_secs(30),
            failure_rate_threshold: None,
            window_size: 10,
            half_open_max_calls: 1,
        }
    }
}

impl CircuitBreakerConfig {
    /// Sets [`failure_threshold`](Self::failure_threshold).
    pub fn failure_threshold(mut self, n: u32) -> Self {
        self.failure_threshold = n;
        self
    }
    /// Sets [`recovery_timeout`](Self::recovery_timeout).
    pub fn recovery_timeout(mut self, timeout: Duration) -> Self {
        self.recovery_timeout = timeout;
        self
    }
    /// Sets [`failure_rate_threshold`](Self::failure_rate_threshold).
    pub fn failure_rate_threshold(mut self, rate: f64) -> Self {
        self.failure_rate_threshold = Some(rate);
        self
    }
    /// Sets [`window_size`](Self::window_size).
    pub fn window_size(mut self, calls: u32) -> Self {
        self.window_size = calls;
        self
    }
    /// Sets [`half_open_max_calls`](Self::half_open_max_calls).
    pub fn half_open_max_calls(mut self, calls: u32) -> Self {
        self.half_open_max_calls = calls;
        self
    }

    /// Checks every setting, naming the first one at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
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
        if let Some(rate) = self.failure_rate_threshold {
            check(rate > 0.0 && rate <= 1.0, "failure_rate_threshold", || {
                format!("must be in (0, 1], got {rate}")
            })?;
        }
        check(self.window_size >= 1, "window_size", || {
            "must be at least 1".into()
        })?;
        check(
            (1..=MAX_HALF_OPEN_CALLS).contains(&self.half_open_max_calls),
            "half_open_max_calls",
            || {
                format!(
                    "must be in 1..={MAX_HALF_OPEN_CALLS}, got {}",
                    self.half_open_max_calls
                )
            },
        )
    }
}
