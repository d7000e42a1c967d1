//! The attributes through `resilience-runtime` renamed `resilience`, with
//! `crate = resilience`: every path an expansion emits starts there.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use resilience::{registry, CircuitState};

#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error("transient")]
    Transient,
    #[error(transparent)]
    Resilience(#[from] resilience::Error),
}

impl AppError {
    fn is_timeout(&self) -> bool {
        matches!(
            self,
            AppError::Resilience(resilience::Error::Timeout { .. })
        )
    }
}

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

// `jitter = "full"` names a runtime type, `resilience::retry::Jitter`.
#[resilience::retry(crate = resilience, max_attempts = 3, delay = "1ms", jitter = "full")]
fn flaky() -> Result<u32, AppError> {
    if FLAKY_CALLS.fetch_add(1, SeqCst) < 2 {
        Err(AppError::Transient)
    } else {
        Ok(7)
    }
}

#[test]
fn retry_retries() {
    assert_eq!(flaky().unwrap(), 7);
    assert_eq!(FLAKY_CALLS.load(SeqCst), 3);
}

static BROKEN_CALLS: AtomicU32 = AtomicU32::new(0);

#[resilience::circuit_breaker(crate = resilience, name = "renamed", failure_threshold = 2, recovery_timeout = "60s")]
fn broken() -> Result<(), AppError> {
    BROKEN_CALLS.fetch_add(1, SeqCst);
    Err(AppError::Transient)
}

#[test]
fn named_breaker_opens_and_is_the_registry_instance() {
    assert!(matches!(broken(), Err(AppError::Transient)));
    assert!(matches!(broken(), Err(AppError::Transient)));
    match broken() {
        Err(AppError::Resilience(resilience::Error::CircuitOpen { name, .. })) => {
            assert_eq!(name.to_string(), "renamed");
        }
        other => panic!("expected an open circuit, got {other:?}"),
    }
    assert_eq!(BROKEN_CALLS.load(SeqCst), 2);

    // Closing the registry's breaker lets the function's calls through again.
    let breaker = registry().circuit_breaker("renamed");
    assert_eq!(breaker.state(), CircuitState::Open);
    breaker.reset();
    assert!(matches!(broken(), Err(AppError::Transient)));
    assert_eq!(BROKEN_CALLS.load(SeqCst), 3);

    let declared = resilience::__private::DECLARATIONS
        .iter()
        .find(|declaration| declaration.name == "renamed")
        .expect("the named breaker is declared");
    assert_eq!(declared.keys, ["failure_threshold", "recovery_timeout"]);
}

static SLOW_CALLS: AtomicU32 = AtomicU32::new(0);

// `crate` on one attribute applies to the whole stack.
#[resilience::retry(max_attempts = 2, on = AppError::is_timeout)]
#[resilience::time_limiter(crate = resilience, timeout = "1s")]
async fn slow_once() -> Result<u32, AppError> {
    if SLOW_CALLS.fetch_add(1, SeqCst) == 0 {
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    Ok(1)
}

#[tokio::test]
async fn time_limiter_cancels_and_retry_runs_again() {
    assert_eq!(slow_once().await.unwrap(), 1);
    assert_eq!(SLOW_CALLS.load(SeqCst), 2);
}
