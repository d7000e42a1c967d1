//! The `tracing` feature: every policy event becomes a `tracing` event under
//! the target `resilience`, with structured fields, at the level an operator
//! filters on: WARN for a breaker opening and for exhausted retries, INFO for
//! a recovery, DEBUG for the rest.

#![cfg(feature = "tracing")]

mod tracing_capture;

use std::collections::BTreeMap;

use resilience_runtime::{bulkhead, circuit_breaker, registry, retry};
use tracing::Level;
use tracing_capture::Capture;

/// The events about `name`, as (level, message, the other fields but `name`).
fn about(capture: &Capture, name: &str) -> Vec<(Level, String, BTreeMap<String, String>)> {
    capture
        .about(name)
        .into_iter()
        .map(|(level, mut fields)| {
            let message = fields.remove("message").unwrap_or_default();
            fields.remove("name");
            (level, message, fields)
        })
        .collect()
}

fn fields<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("downstream failed")]
    Downstream,
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

#[retry(name = "traced-retry", max_attempts = 2, delay = "250ms")]
fn always_fails() -> Result<(), CallError> {
    Err(CallError::Downstream)
}

#[circuit_breaker(
    name = "traced-breaker",
    failure_threshold = 1,
    recovery_timeout = "1h"
)]
fn guarded(fail: bool) -> Result<(), CallError> {
    if fail {
        Err(CallError::Downstream)
    } else {
        Ok(())
    }
}

#[bulkhead(name = "traced-bulkhead")]
fn in_a_slot() -> Result<(), CallError> {
    Ok(())
}

#[test]
fn policy_events_are_traced_at_their_levels_with_their_fields() {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        assert!(always_fails().is_err());
        assert!(guarded(true).is_err());
        assert!(matches!(guarded(false), Err(CallError::Resilience(_))));
        registry().circuit_breaker("traced-breaker").reset();
        in_a_slot().unwrap();
    });

    assert_eq!(
        about(&capture, "traced-retry"),
        [
            (
                Level::DEBUG,
                "attempt failed, retrying".to_owned(),
                fields([("kind", "retry"), ("attempt", "1"), ("delay", "250ms")])
            ),
            (
                Level::WARN,
                "retries exhausted".to_owned(),
                fields([("kind", "retry"), ("attempt", "2")])
            ),
        ]
    );

    let breaker = about(&capture, "traced-breaker");
    assert_eq!(
        breaker[0],
        (
            Level::WARN,
            "circuit breaker changed state".to_owned(),
            fields([
                ("kind", "circuit_breaker"),
                ("from", "CLOSED"),
                ("to", "OPEN")
            ])
        )
    );
    assert_eq!(breaker[1].0, Level::DEBUG);
    assert_eq!(breaker[1].1, "call rejected");
    assert!(
        breaker[1].2["error"].contains("traced-breaker"),
        "{:?}",
        breaker[1]
    );
    assert_eq!(
        breaker[2],
        (
            Level::INFO,
            "circuit breaker changed state".to_owned(),
            fields([
                ("kind", "circuit_breaker"),
                ("from", "OPEN"),
                ("to", "CLOSED")
            ])
        )
    );
    assert_eq!(breaker.len(), 3);

    assert_eq!(
        about(&capture, "traced-bulkhead"),
        [
            (
                Level::DEBUG,
                "call permitted".to_owned(),
                fields([("kind", "bulkhead")])
            ),
            (
                Level::DEBUG,
                "call finished".to_owned(),
                fields([("kind", "bulkhead")])
            ),
        ]
    );
}
