use std::fmt;

/// A policy configuration that was rejected, naming the key and the reason.
///
/// ```
/// use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
///
/// let err = CircuitBreakerConfig::default()
///     .failure_rate_threshold(1.5)
///     .validate()
///     .unwrap_err();
/// assert_eq!(err.key(), "failure_rate_threshold");
/// assert_eq!(err.to_string(), "invalid `failure_rate_threshold`: must be in (0, 1], got 1.5");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    key: &'static str,
    reason: String,
}

impl ConfigError {
    pub(crate) fn new(key: &'static str, reason: impl Into<String>) -> Self {
        ConfigError {
            key,
            reason: reason.into(),
        }
    }

    /// The configuration key at fault, as the attribute argument is spelled.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// Why the value was rejected.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.key, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Fails with `key` and `reason` unless `ok`.
pub(crate) fn check(
    ok: bool,
    key: &'static str,
    reason: impl FnOnce() -> String,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(key, reason()))
    }
}
