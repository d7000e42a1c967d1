//! A panicking body and a dropped future give back what they took: bulkhead
//! slots, a half-open breaker's probe slot and a rate limiter's reserved
//! token, for each policy alone and for a fully stacked async fn.

#[path = "common/act.rs"]
mod act;
mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use act::{until, Act};
use common::AppError;
use resilience_runtime::{
    bulkhead, circuit_breaker, rate_limiter, registry, retry, time_limiter, CircuitState,
};
use tokio::time::{advance, timeout, Instant};

const MS: Duration = Duration::from_millis(1);

fn assert_close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-6, "{actual} != {expected}");
}

#[bulkhead(name = "cancel-bh-panic", max_concurrent = 2)]
async fn bulkhead_panics() -> Result<(), AppError> {
    Act::Panic.run().await
}

#[tokio::test]
async fn a_panicking_async_body_gives_its_bulkhead_slot_back() {
    let task = tokio::spawn(bulkhead_panics()).await;
    assert!(task.unwrap_err().is_panic());
    assert_eq!(registry().bulkhead("cancel-bh-panic").available_slots(), 2);
}

static BULKHEAD_ENTERED: AtomicU32 = AtomicU32::new(0);

#[bulkhead(name = "cancel-bh-drop", max_concurrent = 1, max_wait = "1s")]
async fn bulkhead_drop(act: Act) -> Result<(), AppError> {
    BULKHEAD_ENTERED.fetch_add(1, SeqCst);
    act.run().await
}

#[tokio::test(start_paused = true)]
async fn dropped_futures_give_bulkhead_slots_back_and_lose_no_wake_up() {
    // Dropped while running, holding the slot.
    assert!(timeout(10 * MS, bulkhead_drop(Act::Hang)).await.is_err());
    assert_eq!(registry().bulkhead("cancel-bh-drop").available_slots(), 1);

    // Dropped while waiting for the slot a hanging call holds.
    let holder = tokio::spawn(bulkhead_drop(Act::Hang));
    until(|| BULKHEAD_ENTERED.load(SeqCst) == 2).await;
    assert!(timeout(10 * MS, bulkhead_drop(Act::Succeed)).await.is_err());

    // The next waiter gets the slot as soon as the holder is cancelled, not
    // when its own max_wait runs out.
    let waiter = tokio::spawn(async {
        bulkhead_drop(Act::Succeed).await.unwrap();
        Instant::now()
    });
    tokio::task::yield_now().await;
    let cancelled_at = Instant::now();
    holder.abort();
    assert!(holder.await.unwrap_err().is_cancelled());
    assert_eq!(waiter.await.unwrap(), cancelled_at);
    assert_eq!(BULKHEAD_ENTERED.load(SeqCst), 3);
    assert_eq!(registry().bulkhead("cancel-bh-drop").available_slots(), 1);
}

static PROBE_RUNS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(name = "cancel-cb", failure_threshold = 1, recovery_timeout = "1s")]
async fn probe(act: Act) -> Result<(), AppError> {
    PROBE_RUNS.fetch_add(1, SeqCst);
    act.run().await
}

#[tokio::test(start_paused = true)]
async fn a_dropped_or_panicking_probe_frees_the_half_open_slot() {
    assert!(probe(Act::Fail).await.is_err());
    advance(Duration::from_secs(1)).await;
    let breaker = registry().circuit_breaker("cancel-cb");
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    // With one probe slot, each of these is admitted only if the last gave it back.
    assert!(timeout(10 * MS, probe(Act::Hang)).await.is_err());
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    let panicked = tokio::spawn(probe(Act::Panic)).await;
    assert!(panicked.unwrap_err().is_panic());
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert!(probe(Act::Succeed).await.is_ok());
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(PROBE_RUNS.load(SeqCst), 4);
}

// One token a second.
#[rate_limiter(name = "cancel-rl", max_tokens = 1, refill_rate = 1.0, max_wait = "2s")]
async fn limited() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_gives_its_reserved_token_back() {
    limited().await.unwrap();
    let limiter = registry().rate_limiter("cancel-rl");
    // It reserves the token due at 1 s and is dropped at 100 ms; had it kept
    // the reservation, the bucket would stay empty until 2 s.
    assert!(timeout(100 * MS, limited()).await.is_err());
    assert_close(limiter.available_tokens(), 0.1);
    advance(900 * MS).await;
    assert_close(limiter.available_tokens(), 1.0);
    let start = Instant::now();
    limited().await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
}

static STACKED_RUNS: AtomicU32 = AtomicU32::new(0);

// One token a second, two at most.
#[retry(max_attempts = 2, on = AppError::is_transient)]
#[circuit_breaker(name = "cancel-stack", failure_threshold = 1, recovery_timeout = "1s")]
#[rate_limiter(
    name = "cancel-stack",
    max_tokens = 2,
    refill_rate = 1.0,
    max_wait = "10s"
)]
#[bulkhead(name = "cancel-stack", max_concurrent = 2)]
#[time_limiter(timeout = "30s")]
async fn stacked(act: Act) -> Result<(), AppError> {
    STACKED_RUNS.fetch_add(1, SeqCst);
    match act {
        // Not retried, so one failure is one breaker failure.
        Act::Fail => Err(AppError::Permanent),
        act => act.run().await,
    }
}

#[tokio::test(start_paused = true)]
async fn a_fully_stacked_fn_frees_everything_when_dropped_or_panicking() {
    assert!(matches!(stacked(Act::Fail).await, Err(AppError::Permanent)));
    advance(Duration::from_secs(1)).await;
    let breaker = registry().circuit_breaker("cancel-stack");
    let bulkhead = registry().bulkhead("cancel-stack");
    let limiter = registry().rate_limiter("cancel-stack");

    // A probe dropped inside the body, then one that panics.
    assert!(timeout(10 * MS, stacked(Act::Hang)).await.is_err());
    assert_eq!(
        (breaker.state(), bulkhead.available_slots()),
        (CircuitState::HalfOpen, 2)
    );
    let panicked = tokio::spawn(stacked(Act::Panic)).await;
    assert!(panicked.unwrap_err().is_panic());
    assert_eq!(
        (breaker.state(), bulkhead.available_slots()),
        (CircuitState::HalfOpen, 2)
    );

    // A probe dropped while it waits for a token, 0.99 s away.
    assert_close(limiter.available_tokens(), 0.01);
    assert!(timeout(100 * MS, stacked(Act::Succeed)).await.is_err());
    assert_close(limiter.available_tokens(), 0.11);
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    advance(890 * MS).await;
    let start = Instant::now();
    assert!(stacked(Act::Succeed).await.is_ok());
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "the token was not given back"
    );
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(bulkhead.available_slots(), 2);
    assert_eq!(STACKED_RUNS.load(SeqCst), 4);
}
