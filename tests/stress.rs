//! Invariants under real concurrency (a multi-thread runtime and plain
//! threads, real time): bounded loops, well under a second in all.

mod common;

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{AppError, Recorder};
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::{bulkhead, circuit_breaker, registry, CircuitState, Error, RateLimiter};
use tokio::sync::{Barrier, Semaphore};
use tokio::time::{sleep, timeout};

/// Sleeps a millisecond at a time until `condition` holds, for at most 5 s.
async fn eventually(condition: impl Fn() -> bool) {
    for _ in 0..5_000 {
        if condition() {
            return;
        }
        sleep(Duration::from_millis(1)).await;
    }
    panic!("the condition never held");
}

static INSIDE: AtomicUsize = AtomicUsize::new(0);
static MOST_INSIDE: AtomicUsize = AtomicUsize::new(0);

/// Counts a call as inside the bulkhead while it lives.
struct Inside;

impl Inside {
    fn enter() -> Inside {
        let now = INSIDE.fetch_add(1, SeqCst) + 1;
        MOST_INSIDE.fetch_max(now, SeqCst);
        Inside
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        INSIDE.fetch_sub(1, SeqCst);
    }
}

#[bulkhead(name = "stress-bh", max_concurrent = 3, max_wait = "10s")]
fn crowd_sync() -> Result<(), AppError> {
    let _inside = Inside::enter();
    thread::yield_now();
    Ok(())
}

#[bulkhead(name = "stress-bh", max_concurrent = 3, max_wait = "10s")]
async fn crowd_async() -> Result<(), AppError> {
    let _inside = Inside::enter();
    tokio::task::yield_now().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bulkhead_never_holds_more_than_max_concurrent_sync_and_async_callers() {
    let threads: Vec<_> = (0..4)
        .map(|_| thread::spawn(|| (0..200).try_for_each(|_| crowd_sync())))
        .collect();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            tokio::spawn(async {
                for _ in 0..50 {
                    crowd_async().await?;
                }
                Ok::<_, AppError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for thread in threads {
        thread.join().unwrap().unwrap();
    }
    let most = MOST_INSIDE.load(SeqCst);
    assert!((1..=3).contains(&most), "{most} calls inside at once");
    assert_eq!(registry().bulkhead("stress-bh").available_slots(), 3);
}

#[test]
fn a_rate_limiter_never_admits_more_than_its_burst_plus_its_refill() {
    let config = RateLimiterConfig::default()
        .max_tokens(20)
        .refill_rate(500.0);
    let limiter = RateLimiter::new("stress-rl", config).unwrap();
    // After the limiter: the process's first one calibrates the clock, which
    // takes up to 200ms on a loaded machine.
    let start = std::time::Instant::now();
    let admitted = AtomicU64::new(0);
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while start.elapsed() < Duration::from_millis(200) {
                    match limiter.try_acquire() {
                        Ok(()) => drop(admitted.fetch_add(1, SeqCst)),
                        Err(_) => thread::yield_now(),
                    }
                }
            });
        }
    });
    let bound = 20.0 + 500.0 * start.elapsed().as_secs_f64();
    let admitted = admitted.into_inner();
    assert!(admitted >= 20, "not even the burst: {admitted}");
    assert!(
        admitted as f64 <= bound,
        "{admitted} admitted, at most {bound}"
    );
}

static PROBES_IN: AtomicU32 = AtomicU32::new(0);
static PROBE_GATE: Semaphore = Semaphore::const_new(0);

/// Fails, or holds its probe slot until the test opens the gate.
#[circuit_breaker(
    name = "stress-probes",
    failure_threshold = 1,
    recovery_timeout = "1ms",
    half_open_max_calls = 3
)]
async fn probe(fail: bool) -> Result<(), AppError> {
    if fail {
        return Err(AppError::Transient);
    }
    PROBES_IN.fetch_add(1, SeqCst);
    PROBE_GATE.acquire().await.unwrap().forget();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_admits_exactly_max_calls_probes_among_many_concurrent_callers() {
    const CALLERS: u32 = 32;
    for _round in 0..10 {
        assert!(probe(true).await.is_err());
        let breaker = registry().circuit_breaker("stress-probes");
        eventually(|| breaker.state() == CircuitState::HalfOpen).await;

        PROBES_IN.store(0, SeqCst);
        let rejected = Arc::new(AtomicU32::new(0));
        let start = Arc::new(Barrier::new(CALLERS as usize));
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (start, rejected) = (start.clone(), rejected.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    match probe(false).await {
                        Ok(()) => {}
                        Err(AppError::Resilience(Error::CircuitOpen { .. })) => {
                            rejected.fetch_add(1, SeqCst);
                        }
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                })
            })
            .collect();
        // Admitted probes hold their slots, so every caller settles.
        eventually(|| PROBES_IN.load(SeqCst) + rejected.load(SeqCst) == CALLERS).await;
        assert_eq!(PROBES_IN.load(SeqCst), 3);

        PROBE_GATE.add_permits(3);
        for caller in callers {
            caller.await.unwrap();
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
}

#[circuit_breaker(
    name = "stress-storm",
    failure_threshold = 2,
    recovery_timeout = "1ms",
    half_open_max_calls = 2
)]
#[bulkhead(name = "stress-storm", max_concurrent = 4, max_wait = "2ms")]
async fn storm(i: u64) -> Result<(), AppError> {
    sleep(Duration::from_micros(i * 37 % 1_500)).await;
    // Mostly failures, so that the circuit keeps opening and probing.
    match i % 4 {
        0 => Ok(()),
        _ => Err(AppError::Transient),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_dropped_futures_leaves_no_slot_taken_and_no_circuit_stuck() {
    let recorder = Recorder::new(&["stress-storm"]);
    storm(0).await.unwrap();
    let breaker = registry().circuit_breaker("stress-storm");
    let bulkhead = registry().bulkhead("stress-storm");
    for round in 0..3u64 {
        // Calls spread over 20 ms, most cut short: waiting for a slot, in the
        // body, as probes.
        let calls: Vec<_> = (0..500)
            .map(|i| {
                let i = round * 1_000 + i;
                tokio::spawn(async move {
                    sleep(Duration::from_millis(i % 20)).await;
                    timeout(Duration::from_micros(i * 53 % 2_000), storm(i)).await
                })
            })
            .collect();
        for call in calls {
            let _ = call.await.unwrap();
        }
        assert_eq!(bulkhead.available_slots(), 4);

        // Once recovery_timeout has passed, probes get in and close it.
        for _ in 0..1_000 {
            match breaker.state() {
                CircuitState::Closed => break,
                CircuitState::HalfOpen => storm(0).await.expect("a probe was turned away"),
                _ => sleep(Duration::from_millis(1)).await,
            }
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
    let probing = recorder
        .lines()
        .iter()
        .filter(|l| l.ends_with("OPEN -> HALF_OPEN"))
        .count();
    assert!(probing > 0, "the storm never made the circuit probe");
}
