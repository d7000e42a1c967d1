//! Reconfiguring policies while they are in use, as a reloaded configuration
//! file does: resizes under load (a multi-thread runtime and plain threads,
//! real time, bounded loops) with the limit in force checked by every call,
//! and each policy's reload semantics on a paused clock.

#[path = "common/act.rs"]
mod act;
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use act::Act;
use common::AppError;
use resilience_runtime::bulkhead::BulkheadConfig;
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::config::Config;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::retry::RetryConfig;
use resilience_runtime::time_limiter::TimeLimiterConfig;
use resilience_runtime::{
    bulkhead, rate_limiter, registry, Bulkhead, CircuitBreaker, CircuitState, Error, RateLimiter,
    Retry, TimeLimiter,
};
use tokio::time::{advance, Instant};

/// The limits a resizer cycles through: growing and shrinking by one and by many.
const LIMITS: [usize; 8] = [1, 6, 2, 3, 8, 1, 4, 2];

/// Callers of one named bulkhead, checked against the limit in force while
/// another thread resizes it.
struct Crowd {
    name: &'static str,
    running: AtomicUsize,
    /// The most calls that may run at once: raised before the bulkhead grows,
    /// lowered after a shrink once a slot is seen free (then fewer calls hold
    /// slots than the new limit, and the bulkhead admits no more than it).
    ceiling: AtomicUsize,
    /// Resizes whose new limit was seen in force.
    settled: AtomicUsize,
}

impl Crowd {
    const fn new(name: &'static str, limit: usize) -> Crowd {
        Crowd {
            name,
            running: AtomicUsize::new(0),
            ceiling: AtomicUsize::new(limit),
            settled: AtomicUsize::new(0),
        }
    }

    fn bulkhead(&self) -> Arc<Bulkhead> {
        registry().bulkhead(self.name)
    }

    /// Counts a call in for as long as the guard lives, checking the limit.
    fn enter(&self) -> Inside<'_> {
        // Read on both sides of the count: a call counted before a lowered
        // ceiling may be one of those running when the bulkhead shrank, and
        // one counted after a raise may be one the growth let in.
        let before = self.ceiling.load(SeqCst);
        let running = self.running.fetch_add(1, SeqCst) + 1;
        let after = self.ceiling.load(SeqCst);
        let inside = Inside(self);
        assert!(
            running <= before.max(after),
            "{running} calls ran at once in `{}`, over the limit {}",
            self.name,
            before.max(after)
        );
        inside
    }

    fn resize(&self, limit: usize) {
        self.before_resize(limit);
        let bulkhead = self.bulkhead();
        let config = bulkhead.config().clone().max_concurrent(limit);
        bulkhead.reconfigure(config).unwrap();
    }

    /// Raises the ceiling before the bulkhead grows to `limit`.
    fn before_resize(&self, limit: usize) {
        if limit > self.bulkhead().max_concurrent() {
            self.ceiling.fetch_max(limit, SeqCst);
        }
    }

    /// Lowers the ceiling to the limit in force if a slot is free.
    fn settle(&self) -> bool {
        let bulkhead = self.bulkhead();
        if bulkhead.available_slots() == 0 {
            return false;
        }
        self.ceiling.store(bulkhead.max_concurrent(), SeqCst);
        self.settled.fetch_add(1, SeqCst);
        true
    }

    /// After every caller has finished: every slot is back.
    fn assert_all_slots_back(&self) {
        let bulkhead = self.bulkhead();
        assert_eq!(self.running.load(SeqCst), 0);
        assert_eq!(bulkhead.available_slots(), bulkhead.max_concurrent());
        // Taking every slot at once proves none is counted twice.
        let permits: Vec<_> = (0..bulkhead.max_concurrent())
            .map(|_| bulkhead.try_acquire().unwrap())
            .collect();
        assert!(bulkhead.try_acquire().is_err());
        drop(permits);
        eprintln!(
            "`{}`: {} resizes seen in force",
            self.name,
            self.settled.load(SeqCst)
        );
    }
}

struct Inside<'a>(&'a Crowd);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, SeqCst);
    }
}

static ASYNC: Crowd = Crowd::new("reload-async", 4);

#[rate_limiter(
    name = "reload-async",
    max_tokens = 50,
    refill_rate = 100000.0,
    max_wait = "1ms"
)]
#[bulkhead(name = "reload-async", max_concurrent = 4, max_wait = "100ms")]
async fn crowd_async(act: Act) -> Result<(), AppError> {
    let _inside = ASYNC.enter();
    tokio::task::yield_now().await;
    act.run().await
}

/// Runs one call to its end, or (`Act::Hang`) drops it after one poll,
/// mid-wait or mid-body.
async fn call_async(act: Act) {
    tokio::select! {
        biased;
        _ = crowd_async(act) => {}
        _ = std::future::ready(()), if act == Act::Hang => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulkhead_and_a_rate_limiter_resized_under_async_load_hold_the_limit_in_force() {
    // The call site creates the named instances, before any handle lookup would.
    crowd_async(Act::Succeed).await.unwrap();
    let limiter = registry().rate_limiter("reload-async");
    let callers: Vec<_> = (0..16)
        .map(|task| {
            tokio::spawn(async move {
                for i in 0..150 {
                    let act = match i % 10 {
                        3 => Act::Hang,
                        7 => Act::Fail,
                        _ => Act::Succeed,
                    };
                    call_async(act).await;
                }
                if task % 4 == 0 {
                    // A panicking body, in a task of its own so that this
                    // loop goes on; again if the call was refused instead.
                    let mut tries = 0..100;
                    while tokio::spawn(crowd_async(Act::Panic)).await.is_ok() {
                        assert!(tries.next().is_some(), "never admitted");
                    }
                }
            })
        })
        .collect();
    let resizer = tokio::spawn(async move {
        for (round, &limit) in LIMITS.iter().cycle().take(60).enumerate() {
            // Reloaded as an operator would: a whole configuration, applied.
            let max_tokens = [5, 50, 1, 20][round % 4];
            let file = format!(
                "[bulkhead.reload-async]\nmax_concurrent = {limit}\nmax_wait = \"100ms\"\n\n[rate_limiter.reload-async]\nmax_tokens = {max_tokens}\n"
            );
            ASYNC.before_resize(limit);
            registry()
                .apply(&Config::from_toml_str(&file).unwrap())
                .unwrap();
            assert_eq!(ASYNC.bulkhead().max_concurrent(), limit);
            assert!(limiter.available_tokens() <= f64::from(max_tokens));
            for _ in 0..200 {
                if ASYNC.settle() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
        }
    });
    resizer.await.unwrap();
    for caller in callers {
        caller.await.unwrap();
    }
    ASYNC.assert_all_slots_back();
}

static SYNC: Crowd = Crowd::new("reload-sync", 3);

#[bulkhead(name = "reload-sync", max_concurrent = 3, max_wait = "100ms")]
fn crowd_sync(act: Act) -> Result<(), AppError> {
    let _inside = SYNC.enter();
    thread::yield_now();
    act.run_sync()
}

#[test]
fn a_bulkhead_resized_under_blocking_load_holds_the_limit_in_force() {
    // The call site creates the named instance, before any handle lookup would.
    crowd_sync(Act::Succeed).unwrap();
    let start = Arc::new(Barrier::new(5));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                for i in 0..300 {
                    let _ = crowd_sync(if i % 7 == 0 { Act::Fail } else { Act::Succeed });
                }
                let mut tries = 0..100;
                while catch_unwind(AssertUnwindSafe(|| crowd_sync(Act::Panic))).is_ok() {
                    assert!(tries.next().is_some(), "never admitted");
                }
            })
        })
        .collect();
    start.wait();
    for &limit in LIMITS.iter().cycle().take(60) {
        SYNC.resize(limit);
        for _ in 0..2_000 {
            if SYNC.settle() {
                break;
            }
            thread::yield_now();
        }
    }
    for caller in callers {
        caller.join().unwrap();
    }
    SYNC.assert_all_slots_back();
}

fn bulkhead_config(max_concurrent: usize) -> BulkheadConfig {
    BulkheadConfig::default()
        .max_concurrent(max_concurrent)
        .max_wait(Duration::from_secs(10))
}

#[tokio::test(start_paused = true)]
async fn a_grown_bulkhead_admits_a_waiting_caller_at_once() {
    let bulkhead = Arc::new(Bulkhead::new("reload-grow", bulkhead_config(1)).unwrap());
    let held = bulkhead.try_acquire().unwrap();
    let waiter = tokio::spawn({
        let bulkhead = bulkhead.clone();
        async move {
            let start = Instant::now();
            let permit = bulkhead.acquire().await.map(drop);
            (permit, start.elapsed())
        }
    });
    // Let it find the bulkhead full and wait.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!waiter.is_finished());
    bulkhead.reconfigure(bulkhead_config(2)).unwrap();
    let (permit, waited) = waiter.await.unwrap();
    assert!(permit.is_ok());
    assert_eq!(
        waited,
        Duration::ZERO,
        "woken by the growth, not by its max_wait"
    );
    drop(held);
    assert_eq!(bulkhead.available_slots(), 2);
}

#[test]
fn a_grown_bulkhead_admits_a_blocked_thread_at_once() {
    let bulkhead = Arc::new(Bulkhead::new("reload-grow-sync", bulkhead_config(1)).unwrap());
    let held = bulkhead.try_acquire().unwrap();
    let waiter = thread::spawn({
        let bulkhead = bulkhead.clone();
        move || {
            let start = std::time::Instant::now();
            let permit = bulkhead.acquire_blocking().map(drop);
            (permit, start.elapsed())
        }
    });
    // Whether it waits yet or not, it must get the new slot long before its 10 s.
    thread::yield_now();
    bulkhead.reconfigure(bulkhead_config(2)).unwrap();
    let (permit, waited) = waiter.join().unwrap();
    assert!(permit.is_ok());
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    drop(held);
    assert_eq!(bulkhead.available_slots(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_shrunk_bulkhead_lets_running_calls_finish_and_admits_below_the_new_limit() {
    let bulkhead = Bulkhead::new("reload-shrink", bulkhead_config(3)).unwrap();
    let running: Vec<_> = (0..3).map(|_| bulkhead.try_acquire().unwrap()).collect();
    bulkhead.reconfigure(bulkhead_config(1)).unwrap();
    assert_eq!(bulkhead.available_slots(), 0);
    let mut running = running.into_iter();
    drop(running.next());
    assert!(
        bulkhead.try_acquire().is_err(),
        "two still run, over the limit of one"
    );
    drop(running.next());
    assert!(bulkhead.try_acquire().is_err(), "one still runs, the limit");
    // A waiter's max_wait is the new one, given before it waits.
    bulkhead
        .reconfigure(bulkhead_config(1).max_wait(Duration::from_secs(2)))
        .unwrap();
    let start = Instant::now();
    assert!(matches!(
        bulkhead.acquire().await,
        Err(Error::BulkheadFull {
            max_concurrent: 1,
            ..
        })
    ));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    drop(running.next());
    assert_eq!(bulkhead.available_slots(), 1);
    assert_eq!(bulkhead.max_concurrent(), 1);
}

fn limiter_config(max_tokens: u32, refill_rate: f64) -> RateLimiterConfig {
    RateLimiterConfig::default()
        .max_tokens(max_tokens)
        .refill_rate(refill_rate)
}

#[tokio::test(start_paused = true)]
async fn a_reconfigured_rate_limiter_keeps_its_tokens_and_refills_at_the_new_rate() {
    let limiter = RateLimiter::new("reload-limiter", limiter_config(10, 10.0)).unwrap();
    for _ in 0..4 {
        limiter.try_acquire().unwrap();
    }
    assert_eq!(limiter.available_tokens(), 6.0);

    // Room for more, refilled slower: the 6 tokens stay.
    limiter.reconfigure(limiter_config(20, 1.0)).unwrap();
    assert_eq!(limiter.config().max_tokens, 20);
    assert_eq!(limiter.available_tokens(), 6.0);
    advance(Duration::from_millis(500)).await;
    assert_eq!(limiter.available_tokens(), 6.5);

    // Less room: capped at the new max_tokens, refilled faster.
    limiter.reconfigure(limiter_config(3, 100.0)).unwrap();
    assert_eq!(limiter.available_tokens(), 3.0);
    for _ in 0..3 {
        limiter.try_acquire().unwrap();
    }
    match limiter.try_acquire() {
        Err(Error::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_millis(10))
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    advance(Duration::from_millis(25)).await;
    assert_eq!(limiter.available_tokens(), 2.5);

    // max_wait applies from the next call.
    limiter.reconfigure(limiter_config(1, 1.0)).unwrap();
    limiter.try_acquire().unwrap();
    assert!(limiter.acquire().await.is_err(), "no wait allowed yet");
    limiter
        .reconfigure(limiter_config(1, 1.0).max_wait(Duration::from_secs(2)))
        .unwrap();
    let start = Instant::now();
    limiter.acquire().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_caller_waiting_for_a_token_keeps_its_place_across_a_reload() {
    let limiter = Arc::new(
        RateLimiter::new(
            "reload-waiting",
            limiter_config(1, 1.0).max_wait(Duration::from_secs(5)),
        )
        .unwrap(),
    );
    limiter.try_acquire().unwrap();
    let waiter = tokio::spawn({
        let limiter = limiter.clone();
        async move {
            let start = Instant::now();
            limiter.acquire().await.map(|()| start.elapsed())
        }
    });
    // Let it reserve the next token and sleep until it comes.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!waiter.is_finished());
    limiter.reconfigure(limiter_config(4, 2.0)).unwrap();
    // The token promised to the waiter stays promised: none to spare yet.
    assert_eq!(limiter.available_tokens(), 0.0);
    assert_eq!(waiter.await.unwrap().unwrap(), Duration::from_secs(1));
}

fn breaker_config() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .failure_threshold(2)
        .recovery_timeout(Duration::from_secs(30))
}

#[tokio::test(start_paused = true)]
async fn a_reconfigured_breaker_keeps_its_open_state_its_deadline_and_its_counters() {
    let breaker = CircuitBreaker::new("reload-open", breaker_config()).unwrap();
    breaker.try_acquire().unwrap().success();
    breaker.try_acquire().unwrap().failure();
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert!(breaker.try_acquire().is_err());
    let before = breaker.metrics();

    let longer = breaker_config()
        .failure_threshold(5)
        .recovery_timeout(Duration::from_secs(60));
    breaker.reconfigure(longer.clone()).unwrap();
    assert_eq!(breaker.config(), &longer);
    assert_eq!(breaker.metrics(), before);

    // The open time already given stays; the new one applies to the next opening.
    advance(Duration::from_secs(30)).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(Duration::from_secs(59)).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(Duration::from_secs(1)).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    breaker.force_open();
    breaker.reconfigure(breaker_config()).unwrap();
    assert_eq!(breaker.state(), CircuitState::ForcedOpen);
}

#[test]
fn a_lower_failure_threshold_applies_to_the_next_failure() {
    let breaker =
        CircuitBreaker::new("reload-threshold", breaker_config().failure_threshold(5)).unwrap();
    for _ in 0..3 {
        breaker.try_acquire().unwrap().failure();
    }
    breaker.reconfigure(breaker_config()).unwrap();
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "no decision is made by the reload"
    );
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics().failed_calls, 4);
}

fn rate_config(window_size: u32) -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .failure_rate_threshold(0.9)
        .window_size(window_size)
}

#[test]
fn a_count_window_resized_keeps_the_most_recent_outcomes_that_fit() {
    let breaker = CircuitBreaker::new("reload-window", rate_config(10)).unwrap();
    // Oldest first: four failures, then a success, a failure and a success at the end.
    for failed in [
        true, true, true, false, false, false, false, false, true, false,
    ] {
        breaker.try_acquire().unwrap().record(!failed);
    }
    let metrics = breaker.metrics();
    assert_eq!((metrics.window_calls, metrics.window_failed_calls), (10, 4));
    assert_eq!(metrics.failure_rate, Some(0.4));

    breaker.reconfigure(rate_config(5)).unwrap();
    let metrics = breaker.metrics();
    assert_eq!((metrics.window_calls, metrics.window_failed_calls), (5, 1));
    assert_eq!(metrics.failure_rate, Some(0.2));
    assert_eq!((metrics.successful_calls, metrics.failed_calls), (6, 4));

    // Grown, it keeps them all, and judges once it holds `minimum_calls`.
    breaker.reconfigure(rate_config(20)).unwrap();
    let metrics = breaker.metrics();
    assert_eq!((metrics.window_calls, metrics.window_failed_calls), (5, 1));
    assert_eq!(metrics.failure_rate, None);

    // A new rate threshold judges the next failure.
    breaker
        .reconfigure(rate_config(20).failure_rate_threshold(0.3).minimum_calls(6))
        .unwrap();
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker.try_acquire().unwrap().failure();
    assert_eq!(
        breaker.state(),
        CircuitState::Open,
        "2 of 6 failed: 33% >= 30%"
    );

    // A window of another kind starts empty.
    breaker.reset();
    breaker.try_acquire().unwrap().failure();
    breaker
        .reconfigure(rate_config(20).window_duration(Duration::from_secs(60)))
        .unwrap();
    assert_eq!(breaker.metrics().window_calls, 0);
}

#[test]
fn a_reconfigured_retry_applies_from_the_next_call() {
    let retry = Retry::new("reload-retry", RetryConfig::default().max_attempts(3)).unwrap();
    let mut attempts = 0;
    let result: Result<(), &str> = retry.call(|| {
        attempts += 1;
        if attempts == 1 {
            retry
                .reconfigure(RetryConfig::default().max_attempts(1))
                .unwrap();
        }
        Err("flaky")
    });
    assert_eq!(result, Err("flaky"));
    assert_eq!(attempts, 3, "the call in progress keeps its max_attempts");

    attempts = 0;
    let _ = retry.call(|| -> Result<(), &str> {
        attempts += 1;
        Err("flaky")
    });
    assert_eq!(attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn a_reconfigured_time_limiter_applies_from_the_next_call() {
    let short = TimeLimiterConfig::default().timeout(Duration::from_secs(1));
    let limiter = Arc::new(TimeLimiter::new("reload-timeout", short).unwrap());
    let running = tokio::spawn({
        let limiter = limiter.clone();
        async move {
            limiter
                .run(tokio::time::sleep(Duration::from_millis(1500)))
                .await
        }
    });
    // Let it start, and its deadline with it.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let long = TimeLimiterConfig::default().timeout(Duration::from_secs(2));
    limiter.reconfigure(long).unwrap();
    match running.await.unwrap() {
        Err(Error::Timeout { timeout, .. }) => assert_eq!(timeout, Duration::from_secs(1)),
        other => panic!("the running call keeps its 1 s timeout, got {other:?}"),
    }
    let next = limiter
        .run(tokio::time::sleep(Duration::from_millis(1500)))
        .await;
    assert!(next.is_ok(), "the next call has 2 s");
}

#[test]
fn an_invalid_configuration_is_refused_and_changes_nothing() {
    let bulkhead = Bulkhead::new("reload-invalid", bulkhead_config(2)).unwrap();
    let error = bulkhead.reconfigure(bulkhead_config(0)).unwrap_err();
    assert_eq!(error.key(), "max_concurrent");
    assert_eq!(
        (bulkhead.max_concurrent(), bulkhead.available_slots()),
        (2, 2)
    );

    let limiter = RateLimiter::new("reload-invalid", limiter_config(2, 1.0)).unwrap();
    let error = limiter.reconfigure(limiter_config(2, -1.0)).unwrap_err();
    assert_eq!(error.key(), "refill_rate");
    assert_eq!(limiter.config(), &limiter_config(2, 1.0));

    let breaker = CircuitBreaker::new("reload-invalid", breaker_config()).unwrap();
    let error = breaker
        .reconfigure(breaker_config().failure_rate_threshold(1.5))
        .unwrap_err();
    assert_eq!(error.key(), "failure_rate_threshold");
    assert_eq!(breaker.config(), &breaker_config());

    let retry = Retry::new("reload-invalid", RetryConfig::default()).unwrap();
    let error = retry
        .reconfigure(RetryConfig::default().max_attempts(0))
        .unwrap_err();
    assert_eq!(error.key(), "max_attempts");
    assert_eq!(retry.config().max_attempts, 3);
}
