//! Every [`Event`] as a `tracing` event under the target `resilience`, with
//! the fields `kind` and `name` and, where they apply, `attempt`, `delay`,
//! `from`, `to`, `error` and `source` (a fallback's: `cache`, `method`,
//! `value`).
//!
//! | level | events |
//! |---|---|
//! | WARN | a breaker opening (OPEN or FORCED_OPEN), retries exhausted or stopped early (a retry-after hint too long, `max_duration` reached, a retry budget spent), a configuration refused or in conflict, a health alert raised or changed (an instance worse, or unhealthy for other reasons) |
//! | INFO | a breaker closing again (a recovery), a configuration applied, a health alert cleared (an instance better) |
//! | DEBUG | everything else: permits, rejections, retries scheduled, hedged copies started, timeouts, fallbacks, other transitions |

use std::fmt;

use resilience_grammar::duration::format as duration;
use tracing::Level;

use crate::telemetry::HealthReason;
use crate::{CircuitState, Error, Event};

const TARGET: &str = "resilience";

/// Hands `event` to `tracing` if a subscriber wants its level: one relaxed
/// load when it does not, as the level is known where this is inlined.
#[inline]
pub(crate) fn record(event: &Event<'_>) {
    if tracing::level_enabled!(level(event)) {
        record_enabled(event);
    }
}

#[inline]
fn level(event: &Event<'_>) -> Level {
    match event {
        Event::StateTransition {
            to: CircuitState::Open | CircuitState::ForcedOpen,
            ..
        }
        | Event::RetriesExhausted { .. }
        | Event::RetryStopped { .. }
        | Event::ConfigConflict(_)
        | Event::ConfigRejected(_)
        | Event::StoreUnavailable { .. } => Level::WARN,
        Event::HealthChanged { from, to, .. } if to >= from => Level::WARN,
        Event::StateTransition {
            to: CircuitState::Closed,
            ..
        }
        | Event::ConfigApplied(_)
        | Event::StoreRecovered { .. }
        | Event::HealthChanged { .. } => Level::INFO,
        _ => Level::DEBUG,
    }
}

// The macros need their level as a constant: one arm per level.
macro_rules! at {
    ($level:expr, $($fields:tt)*) => {
        match $level {
            Level::WARN => tracing::warn!(target: TARGET, $($fields)*),
            Level::INFO => tracing::info!(target: TARGET, $($fields)*),
            _ => tracing::debug!(target: TARGET, $($fields)*),
        }
    };
}

#[cold]
#[inline(never)]
fn record_enabled(event: &Event<'_>) {
    let level = level(event);
    match *event {
        Event::RetryScheduled {
            name,
            attempt,
            delay,
        } => {
            at!(level, kind = "retry", name, attempt, delay = %duration(delay), "attempt failed, retrying")
        }
        Event::RetriesExhausted { name, attempts } => {
            at!(
                level,
                kind = "retry",
                name,
                attempt = attempts,
                "retries exhausted"
            )
        }
        Event::RetrySucceeded { name, attempts } => {
            at!(
                level,
                kind = "retry",
                name,
                attempt = attempts,
                "call succeeded"
            )
        }
        Event::RetryStopped {
            name,
            attempts,
            reason,
            budget,
        } => match budget {
            Some(budget) => at!(
                level,
                kind = "retry",
                name,
                attempt = attempts,
                budget,
                "retries stopped: {reason}"
            ),
            None => at!(
                level,
                kind = "retry",
                name,
                attempt = attempts,
                "retries stopped: {reason}"
            ),
        },
        Event::RetryNotRetried { name, attempts } => at!(
            level,
            kind = "retry",
            name,
            attempt = attempts,
            "call failed with an error that is not retried"
        ),
        Event::StateTransition { name, from, to } => at!(
            level,
            kind = "circuit_breaker",
            name,
            from = %from,
            to = %to,
            "circuit breaker changed state"
        ),
        Event::CallRejected { error } => at!(
            level,
            kind = rejecting_kind(error),
            name = error.name(),
            error = %error,
            "call rejected"
        ),
        Event::TimedOut { name, timeout } => at!(
            level,
            kind = "time_limiter",
            name,
            delay = %duration(timeout),
            "call timed out"
        ),
        Event::FallbackUsed {
            name,
            rejection,
            source,
        } => {
            let source = source.as_str();
            match rejection {
                Some(error) => at!(
                    level,
                    kind = "fallback",
                    name,
                    source,
                    error = %error,
                    "fallback replaced a rejection"
                ),
                None => at!(
                    level,
                    kind = "fallback",
                    name,
                    source,
                    "fallback replaced an error"
                ),
            }
        }
        Event::BulkheadPermitted { name } => at!(level, kind = "bulkhead", name, "call permitted"),
        Event::BulkheadFinished { name } => at!(level, kind = "bulkhead", name, "call finished"),
        Event::RateLimiterPermitted { name, waited } => at!(
            level,
            kind = "rate_limiter",
            name,
            delay = %duration(waited),
            "call permitted"
        ),
        Event::TimeLimiterFinished { name, ok } => at!(
            level,
            kind = "time_limiter",
            name,
            ok,
            "call finished in time"
        ),
        Event::HedgeStarted {
            name,
            attempt,
            delay,
        } => at!(
            level,
            kind = "hedge",
            name,
            attempt,
            delay = %duration(delay),
            "no answer yet, hedged copy started"
        ),
        Event::StoreUnavailable { name, error } => at!(
            level,
            name,
            error,
            "store unavailable, deciding without it until it answers"
        ),
        Event::StoreRecovered { name } => at!(level, name, "store answers again"),
        Event::ConfigConflict(conflict) => at!(
            level,
            kind = conflict.kind.as_str(),
            name = conflict.name.as_str(),
            "{conflict}"
        ),
        Event::ConfigApplied(report) => at!(
            level,
            changes = report.changes.len() + report.health_rules.len(),
            warnings = report.warnings.len(),
            "configuration applied\n{report}"
        ),
        Event::ConfigRejected(errors) => at!(
            level,
            problems = errors.problems().len(),
            "configuration refused, nothing changed\n{errors}"
        ),
        Event::HealthChanged {
            kind,
            name,
            from,
            to,
            reasons,
        } => {
            let reasons = Reasons(reasons);
            let what = if to > from {
                "health alert raised"
            } else if to < from {
                "health alert cleared"
            } else {
                "health alert changed"
            };
            at!(
                level,
                kind = kind.as_str(),
                name,
                from = %from,
                to = %to,
                "{what}{reasons}"
            )
        }
    }
}

/// A health event's reasons after its message: `: circuit_open: OPEN, ...; failure_rate: ...`.
struct Reasons<'a>(&'a [HealthReason]);

impl fmt::Display for Reasons<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, reason) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{reason}")?;
        }
        Ok(())
    }
}

fn rejecting_kind(error: &Error) -> &'static str {
    match error {
        Error::CircuitOpen { .. } => "circuit_breaker",
        Error::BulkheadFull { .. } => "bulkhead",
        Error::RateLimited { .. } => "rate_limiter",
        Error::Timeout { .. } => "time_limiter",
    }
}
