//! What is wrong with a configuration: one setting of one policy
//! ([`ConfigError`]), or every problem of a configuration file ([`ConfigErrors`]).

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

/// Where something stands in a configuration file, counting from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The line.
    pub line: usize,
    /// The column, in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`.
    pub(crate) fn of(text: &str, offset: usize) -> Location {
        let before = &text[..offset.min(text.len())];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// One problem of a configuration: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key path, as in the file: `circuit_breaker.inventory.window_size`.
    pub path: String,
    /// Where in the file, when the configuration was read from TOML text.
    pub location: Option<Location>,
    /// What is wrong, and how to fix it when that can be said.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(Location { line, column }) = self.location {
            write!(f, "line {line}, column {column}: ")?;
        }
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a configuration, in one pass, in file order.
///
/// ```
/// use resilience_runtime::config::Config;
///
/// let errors = Config::from_toml_str("[bulkhead.db]\nmax_concurent = 4\n").unwrap_err();
/// assert_eq!(
///     errors.to_string(),
///     "line 2, column 1: `bulkhead.db.max_concurent`: unknown key; did you mean `max_concurrent`?"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub(crate) Vec<Problem>);

impl ConfigErrors {
    /// The problems, in file order.
    pub fn problems(&self) -> &[Problem] {
        &self.0
    }

    /// Sorts the problems by place, those without one last, and fails if there are any.
    pub(crate) fn into_result(mut problems: Vec<Problem>) -> Result<(), ConfigErrors> {
        if problems.is_empty() {
            return Ok(());
        }
        problems.sort_by_key(|problem| (problem.location.is_none(), problem.location));
        problems.dedup();
        Err(ConfigErrors(problems))
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
