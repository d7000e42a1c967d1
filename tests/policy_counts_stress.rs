//! The counts behind metrics and health stay exact under concurrency: every
//! call is counted once, on whichever thread made it, including threads that
//! have ended, and a reader running alongside never sees a count go back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

use resilience_runtime::{bulkhead, rate_limiter, registry, retry};

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("downstream failed")]
    Downstream,
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

const THREADS: usize = 4;
const CALLS: u64 = 20_000;

#[bulkhead(name = "stress-counts-bulkhead", max_concurrent = 2)]
fn in_a_slot(spin: u32) -> Result<(), CallError> {
    for _ in 0..spin {
        std::hint::spin_loop();
    }
    Ok(())
}

#[retry(name = "stress-counts-retry", max_attempts = 2)]
fn every_third_fails_once(call: u64, attempt: &mut u32) -> Result<(), CallError> {
    *attempt += 1;
    if call % 3 == 0 && *attempt == 1 {
        Err(CallError::Downstream)
    } else {
        Ok(())
    }
}

#[rate_limiter(name = "stress-counts-rate", max_tokens = 1000, refill_rate = 1000.0)]
fn limited() -> Result<(), CallError> {
    Ok(())
}

/// Runs `call` `CALLS` times on each of `THREADS` threads started together,
/// while a reader checks that `read` never goes back.
fn hammer(call: impl Fn(u64) + Sync, read: impl Fn() -> Vec<u64> + Sync) {
    let start = Barrier::new(THREADS + 1);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    for n in 0..CALLS {
                        call(n);
                    }
                })
            })
            .collect();
        scope.spawn(|| {
            start.wait();
            let mut last = read();
            while !done.load(Ordering::Relaxed) {
                let now = read();
                for (before, after) in last.iter().zip(&now) {
                    assert!(after >= before, "a count went back: {last:?} then {now:?}");
                }
                last = now;
            }
        });
        for worker in workers {
            worker.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
}

#[test]
fn a_bulkhead_counts_every_permit_rejection_and_release_once() {
    let bulkhead = registry().bulkhead("stress-counts-bulkhead");
    let rejected = std::sync::atomic::AtomicU64::new(0);
    hammer(
        |_| {
            if in_a_slot(50).is_err() {
                rejected.fetch_add(1, Ordering::Relaxed);
            }
        },
        || {
            let metrics = bulkhead.metrics();
            vec![metrics.permitted_calls, metrics.rejected_calls]
        },
    );
    let metrics = bulkhead.metrics();
    let total = THREADS as u64 * CALLS;
    assert_eq!(metrics.rejected_calls, rejected.load(Ordering::Relaxed));
    assert_eq!(metrics.permitted_calls + metrics.rejected_calls, total);
    assert_eq!(metrics.available_concurrent_calls, 2);
}

#[test]
fn a_retry_counts_every_call_by_how_it_ended() {
    let retry = registry().retry("stress-counts-retry");
    hammer(
        |n| every_third_fails_once(n, &mut 0).unwrap(),
        || {
            let metrics = retry.metrics();
            vec![
                metrics.successful_calls_without_retry,
                metrics.successful_calls_with_retry,
            ]
        },
    );
    let metrics = retry.metrics();
    let retried = THREADS as u64 * CALLS.div_ceil(3);
    assert_eq!(metrics.successful_calls_with_retry, retried);
    assert_eq!(
        metrics.successful_calls_without_retry,
        THREADS as u64 * CALLS - retried
    );
    assert_eq!(metrics.attempts, THREADS as u64 * CALLS + retried);
    assert_eq!(
        metrics.failed_calls_with_retry + metrics.failed_calls_without_retry,
        0
    );
}

#[test]
fn a_rate_limiter_counts_every_call_once() {
    let limiter = registry().rate_limiter("stress-counts-rate");
    let permitted = std::sync::atomic::AtomicU64::new(0);
    hammer(
        |_| {
            if limited().is_ok() {
                permitted.fetch_add(1, Ordering::Relaxed);
            }
        },
        || {
            let metrics = limiter.metrics();
            vec![metrics.permitted_calls, metrics.rejected_calls]
        },
    );
    let metrics = limiter.metrics();
    assert_eq!(metrics.permitted_calls, permitted.load(Ordering::Relaxed));
    assert_eq!(
        metrics.permitted_calls + metrics.rejected_calls,
        THREADS as u64 * CALLS
    );
}
