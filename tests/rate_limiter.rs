//! `#[rate_limiter]` as users write it: a bucket that starts full and refills
//! lazily, exact `retry_after`s, and bounded waits for async (paused clock)
//! and sync (a real, short sleep) callers.
//! A cancelled wait giving its token back: tests/cancellation.rs.

mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use common::AppError;
use resilience_runtime::{rate_limiter, registry, Error};
use tokio::time::{advance, Instant};

/// The `retry_after` of the rate-limit rejection in `result`.
fn rate_limited(result: Result<(), AppError>, name: &str) -> Duration {
    match result {
        Err(AppError::Resilience(Error::RateLimited {
            name: limiter,
            retry_after,
            ..
        })) if &*limiter == name => retry_after,
        other => panic!("expected RateLimited from `{name}`, got {other:?}"),
    }
}

fn tokens(name: &str) -> f64 {
    registry().rate_limiter(name).available_tokens()
}

static REFILL_RUNS: AtomicU32 = AtomicU32::new(0);

// One token every 500 ms.
#[rate_limiter(name = "rl-refill", max_tokens = 3, refill_rate = 2.0)]
fn refill() -> Result<(), AppError> {
    REFILL_RUNS.fetch_add(1, SeqCst);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_bucket_starts_full_and_refills_lazily_up_to_max_tokens() {
    for _ in 0..3 {
        assert!(refill().is_ok());
    }
    assert_eq!(tokens("rl-refill"), 0.0);
    assert_eq!(
        rate_limited(refill(), "rl-refill"),
        Duration::from_millis(500)
    );

    advance(Duration::from_millis(250)).await;
    assert_eq!(tokens("rl-refill"), 0.5);
    assert_eq!(
        rate_limited(refill(), "rl-refill"),
        Duration::from_millis(250)
    );

    advance(Duration::from_millis(250)).await;
    assert_eq!(tokens("rl-refill"), 1.0);
    assert!(refill().is_ok());
    assert!(refill().is_err());

    advance(Duration::from_secs(60)).await;
    assert_eq!(tokens("rl-refill"), 3.0, "refilled past max_tokens");
    assert_eq!(REFILL_RUNS.load(SeqCst), 4, "a rejected call ran the body");
}

// One token every 100 ms.
#[rate_limiter(
    name = "rl-wait",
    max_tokens = 1,
    refill_rate = 10.0,
    max_wait = "150ms"
)]
async fn wait_for_token() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_async_caller_waits_for_a_token_due_within_max_wait() {
    let start = Instant::now();
    wait_for_token().await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    wait_for_token().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    wait_for_token().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(200));
}

#[rate_limiter(
    name = "rl-no-wait",
    max_tokens = 1,
    refill_rate = 10.0,
    max_wait = "50ms"
)]
async fn too_long_to_wait() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_async_caller_is_rejected_at_once_when_no_token_is_due_within_max_wait() {
    too_long_to_wait().await.unwrap();
    let start = Instant::now();
    let retry_after = rate_limited(too_long_to_wait().await, "rl-no-wait");
    assert_eq!(retry_after, Duration::from_millis(100));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

// One token every 5 ms, so the real sleep stays short.
#[rate_limiter(
    name = "rl-sync-wait",
    max_tokens = 1,
    refill_rate = 200.0,
    max_wait = "1s"
)]
fn sync_wait() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn a_sync_caller_sleeps_the_thread_until_its_token_is_due() {
    let start = std::time::Instant::now();
    sync_wait().unwrap();
    sync_wait().unwrap();
    // The second token is due 5 ms after the first was taken.
    assert!(start.elapsed() >= Duration::from_millis(5));
}

#[rate_limiter(
    name = "rl-sync-reject",
    max_tokens = 1,
    refill_rate = 1.0,
    max_wait = "1ms"
)]
fn sync_reject() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn a_sync_caller_is_rejected_at_once_when_no_token_is_due_within_max_wait() {
    sync_reject().unwrap();
    let start = std::time::Instant::now();
    let retry_after = rate_limited(sync_reject(), "rl-sync-reject");
    assert!(start.elapsed() < Duration::from_millis(500), "it slept");
    assert!(retry_after > Duration::from_millis(500) && retry_after <= Duration::from_secs(1));
}
