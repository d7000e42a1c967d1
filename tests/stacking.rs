//! Stacked attributes: the written order is the wrapping order (top
//! outermost), and each layer sees the outcome of the layers below it.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::AppError;
use resilience_runtime::{bulkhead, circuit_breaker, fallback, rate_limiter, retry, time_limiter};
use resilience_runtime::{registry, CircuitState, Error};
use tokio::time::{sleep, Instant};

fn count(runs: &AtomicU32) -> u32 {
    runs.fetch_add(1, Ordering::SeqCst) + 1
}

#[retry(max_attempts = 5)]
#[circuit_breaker(name = "stacking-retry-over-breaker", failure_threshold = 2)]
fn retry_over_breaker(runs: &AtomicU32) -> Result<(), AppError> {
    count(runs);
    Err(AppError::Transient)
}

#[test]
fn a_retry_over_a_breaker_stops_reaching_the_body_once_the_circuit_opens() {
    let runs = AtomicU32::new(0);
    assert!(matches!(
        retry_over_breaker(&runs),
        Err(AppError::Resilience(Error::CircuitOpen { .. }))
    ));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let metrics = registry()
        .circuit_breaker("stacking-retry-over-breaker")
        .metrics();
    assert_eq!(metrics.state, CircuitState::Open);
    assert_eq!(metrics.failed_calls, 2);
    assert_eq!(metrics.not_permitted_calls, 3);
}

#[circuit_breaker(name = "stacking-breaker-over-retry", failure_threshold = 2)]
#[retry(max_attempts = 5)]
fn breaker_over_retry(runs: &AtomicU32) -> Result<(), AppError> {
    count(runs);
    Err(AppError::Transient)
}

#[test]
fn a_breaker_over_a_retry_records_one_failure_for_all_its_attempts() {
    let runs = AtomicU32::new(0);
    assert!(matches!(
        breaker_over_retry(&runs),
        Err(AppError::Transient)
    ));
    assert_eq!(runs.load(Ordering::SeqCst), 5);
    let metrics = registry()
        .circuit_breaker("stacking-breaker-over-retry")
        .metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!(metrics.failed_calls, 1);
}

#[circuit_breaker(name = "stacking-breaker-over-bulkhead", failure_threshold = 1)]
#[bulkhead(name = "stacking-breaker-over-bulkhead", max_concurrent = 1)]
fn breaker_over_bulkhead() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn an_outer_breaker_does_not_count_an_inner_rejection_as_a_failure() {
    // The first call creates the bulkhead with the attribute's arguments.
    assert!(breaker_over_bulkhead().is_ok());
    let bulkhead = registry().bulkhead("stacking-breaker-over-bulkhead");
    let _only_slot = bulkhead.try_acquire().unwrap();
    for _ in 0..3 {
        assert!(matches!(
            breaker_over_bulkhead(),
            Err(AppError::Resilience(Error::BulkheadFull { .. }))
        ));
    }
    let metrics = registry()
        .circuit_breaker("stacking-breaker-over-bulkhead")
        .metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!(metrics.failed_calls, 0);
}

#[circuit_breaker(name = "stacking-breaker-over-timeout", failure_threshold = 1)]
#[time_limiter(timeout = "10ms")]
async fn breaker_over_time_limiter(runs: &AtomicU32) -> Result<(), AppError> {
    count(runs);
    sleep(Duration::from_secs(1)).await;
    Ok(())
}

// A timeout is the one rejection that reports on the call itself.
#[tokio::test(start_paused = true)]
async fn an_outer_breaker_counts_an_inner_timeout_as_a_failure() {
    let runs = AtomicU32::new(0);
    assert!(matches!(
        breaker_over_time_limiter(&runs).await,
        Err(AppError::Resilience(Error::Timeout { .. }))
    ));
    let metrics = registry()
        .circuit_breaker("stacking-breaker-over-timeout")
        .metrics();
    assert_eq!(metrics.state, CircuitState::Open);
    assert_eq!(metrics.failed_calls, 1);
    assert!(matches!(
        breaker_over_time_limiter(&runs).await,
        Err(AppError::Resilience(Error::CircuitOpen { .. }))
    ));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[retry(max_attempts = 2, delay = "100ms")]
#[rate_limiter(max_tokens = 1, refill_rate = 4.0)]
async fn retry_over_rate_limiter(runs: &std::sync::Mutex<Vec<Instant>>) -> Result<(), AppError> {
    runs.lock().unwrap().push(Instant::now());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_retry_over_a_rate_limiter_waits_at_least_its_retry_after() {
    let runs = std::sync::Mutex::new(Vec::new());
    // Takes the only token; the next comes 250ms later.
    retry_over_rate_limiter(&runs).await.unwrap();
    // Rejected at once (no `max_wait`), then retried after the longer of the
    // retry's own delay and the limiter's `retry_after`.
    retry_over_rate_limiter(&runs).await.unwrap();
    let runs = runs.into_inner().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1] - runs[0], Duration::from_millis(250));
}

#[fallback(value = "fallback")]
#[retry(max_attempts = 3)]
fn fallback_over_retry(runs: &AtomicU32) -> Result<&'static str, AppError> {
    count(runs);
    Err(AppError::Transient)
}

#[retry(max_attempts = 3)]
#[fallback(value = "fallback")]
fn retry_over_fallback(runs: &AtomicU32) -> Result<&'static str, AppError> {
    count(runs);
    Err(AppError::Transient)
}

#[test]
fn a_fallback_above_a_retry_replaces_the_last_error_and_below_it_ends_the_retries() {
    let runs = AtomicU32::new(0);
    assert_eq!(fallback_over_retry(&runs).unwrap(), "fallback");
    assert_eq!(runs.load(Ordering::SeqCst), 3);

    let runs = AtomicU32::new(0);
    assert_eq!(retry_over_fallback(&runs).unwrap(), "fallback");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[fallback(value = "fallback")]
#[circuit_breaker(failure_threshold = 1, recovery_timeout = "1h")]
fn fallback_over_breaker(runs: &AtomicU32) -> Result<&'static str, AppError> {
    count(runs);
    Err(AppError::Permanent)
}

#[circuit_breaker(failure_threshold = 1, recovery_timeout = "1h")]
#[fallback(value = "fallback", on = AppError::is_transient)]
fn breaker_over_fallback(runs: &AtomicU32) -> Result<&'static str, AppError> {
    count(runs);
    Err(AppError::Permanent)
}

#[test]
fn a_fallback_on_top_catches_the_breakers_rejection_and_below_it_does_not() {
    let runs = AtomicU32::new(0);
    assert_eq!(fallback_over_breaker(&runs).unwrap(), "fallback");
    assert_eq!(fallback_over_breaker(&runs).unwrap(), "fallback");
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // The inner fallback leaves `Permanent` alone, so the breaker opens; the
    // breaker's rejection then never reaches the fallback.
    let runs = AtomicU32::new(0);
    assert!(matches!(
        breaker_over_fallback(&runs),
        Err(AppError::Permanent)
    ));
    assert!(matches!(
        breaker_over_fallback(&runs),
        Err(AppError::Resilience(Error::CircuitOpen { .. }))
    ));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[time_limiter(timeout = "100ms")]
#[retry(max_attempts = 5, delay = "30ms")]
async fn time_limiter_over_retry(runs: &AtomicU32) -> Result<(), AppError> {
    count(runs);
    Err(AppError::Transient)
}

#[retry(max_attempts = 3)]
#[time_limiter(timeout = "100ms")]
async fn retry_over_time_limiter(runs: &AtomicU32) -> Result<(), AppError> {
    count(runs);
    sleep(Duration::from_secs(1)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_time_limiter_above_a_retry_bounds_all_attempts_and_below_it_each_one() {
    let runs = AtomicU32::new(0);
    let start = Instant::now();
    assert!(matches!(
        time_limiter_over_retry(&runs).await,
        Err(AppError::Resilience(Error::Timeout { .. }))
    ));
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    // Attempts at 0, 30, 60 and 90ms.
    assert_eq!(runs.load(Ordering::SeqCst), 4);

    let runs = AtomicU32::new(0);
    let start = Instant::now();
    assert!(matches!(
        retry_over_time_limiter(&runs).await,
        Err(AppError::Resilience(Error::Timeout { .. }))
    ));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}
