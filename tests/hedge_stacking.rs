//! `#[hedge]` among the other attributes: those written above it see the
//! hedged call as one call, those below it run once per copy.

mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use common::AppError;
use resilience_runtime::{circuit_breaker, hedge, registry, retry, Error};
use tokio::time::{sleep, Instant};

const MS: Duration = Duration::from_millis(1);

/// Runs copy (or attempt) `n` of a call as `plan[n]`: the milliseconds it
/// takes and whether it succeeds.
struct Plan {
    steps: &'static [(u64, bool)],
    runs: AtomicU32,
}

impl Plan {
    fn new(steps: &'static [(u64, bool)]) -> Plan {
        Plan {
            steps,
            runs: AtomicU32::new(0),
        }
    }

    async fn run(&self) -> Result<u32, AppError> {
        let n = self.runs.fetch_add(1, SeqCst);
        let (ms, ok) = self.steps[n as usize];
        sleep(Duration::from_millis(ms)).await;
        if ok {
            Ok(n)
        } else {
            Err(AppError::Transient)
        }
    }
}

#[retry(name = "stack-retry-over-hedge", max_attempts = 2)]
#[hedge(name = "stack-hedge-under-retry", delay = "50ms")]
async fn retry_over_hedge(plan: &Plan) -> Result<u32, AppError> {
    plan.run().await
}

#[tokio::test(start_paused = true)]
async fn a_retry_above_a_hedge_retries_the_hedged_call_as_one_attempt() {
    // Attempt 1: the primary fails at 100 ms, its hedge (from 50 ms) at 60 ms.
    // Attempt 2: answers at once.
    let plan = Plan::new(&[(100, false), (10, false), (0, true)]);
    let origin = Instant::now();
    assert_eq!(retry_over_hedge(&plan).await.unwrap(), 2);
    assert_eq!(origin.elapsed(), 100 * MS);
    let retry = registry().retry("stack-retry-over-hedge").metrics();
    assert_eq!((retry.successful_calls_with_retry, retry.attempts), (1, 2));
    let hedge = registry().hedge("stack-hedge-under-retry").metrics();
    assert_eq!(
        (
            hedge.calls,
            hedge.failed_calls,
            hedge.primary_wins,
            hedge.hedges_started
        ),
        (2, 1, 1, 1)
    );
}

#[hedge(name = "stack-hedge-over-retry", delay = "50ms")]
#[retry(name = "stack-retry-under-hedge", max_attempts = 2)]
async fn hedge_over_retry(plan: &Plan) -> Result<u32, AppError> {
    plan.run().await
}

#[tokio::test(start_paused = true)]
async fn a_hedge_above_a_retry_hedges_the_whole_retried_call() {
    // The primary's first attempt hangs; the hedge's copy fails once at
    // 50 ms and its retry answers at 60 ms.
    let plan = Plan::new(&[(1000, true), (0, false), (10, true)]);
    let origin = Instant::now();
    assert_eq!(hedge_over_retry(&plan).await.unwrap(), 2);
    assert_eq!(origin.elapsed(), 60 * MS);
    let hedge = registry().hedge("stack-hedge-over-retry").metrics();
    assert_eq!((hedge.hedge_wins, hedge.hedges_started), (1, 1));
    // The retry saw the copy's call; the dropped primary never ended.
    let retry = registry().retry("stack-retry-under-hedge").metrics();
    assert_eq!((retry.successful_calls_with_retry, retry.attempts), (1, 2));
}

#[circuit_breaker(name = "stack-breaker-over-hedge", failure_threshold = 2)]
#[hedge(delay = "50ms")]
async fn breaker_over_hedge(plan: &Plan) -> Result<u32, AppError> {
    plan.run().await
}

#[tokio::test(start_paused = true)]
async fn a_breaker_above_a_hedge_counts_the_hedged_call_once() {
    let won = Plan::new(&[(1000, true), (10, true)]);
    breaker_over_hedge(&won).await.unwrap();
    let failed = Plan::new(&[(100, false), (10, false)]);
    breaker_over_hedge(&failed).await.unwrap_err();
    let breaker = registry()
        .circuit_breaker("stack-breaker-over-hedge")
        .metrics();
    assert_eq!((breaker.successful_calls, breaker.failed_calls), (1, 1));
}

#[hedge(delay = "50ms")]
#[circuit_breaker(
    name = "stack-breaker-under-hedge",
    failure_threshold = 2,
    recovery_timeout = "1h"
)]
async fn hedge_over_breaker(plan: &Plan) -> Result<u32, AppError> {
    plan.run().await
}

#[tokio::test(start_paused = true)]
async fn a_breaker_below_a_hedge_judges_each_copy() {
    // Both copies fail: two failures, and the circuit opens.
    let failed = Plan::new(&[(100, false), (10, false)]);
    assert!(matches!(
        hedge_over_breaker(&failed).await,
        Err(AppError::Transient)
    ));
    let breaker = registry().circuit_breaker("stack-breaker-under-hedge");
    assert_eq!(breaker.metrics().failed_calls, 2);
    // The open circuit refuses the primary at once: the call ends with the
    // rejection, and no copy starts.
    let refused = Plan::new(&[(0, true)]);
    assert!(matches!(
        hedge_over_breaker(&refused).await,
        Err(AppError::Resilience(Error::CircuitOpen { .. }))
    ));
    assert_eq!(refused.runs.load(SeqCst), 0);
    assert_eq!(breaker.metrics().not_permitted_calls, 1);
}
