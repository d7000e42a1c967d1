//! The circuit breaker's rate windows, through the attribute and the runtime
//! API: a time window (`window_duration`) lets old calls go, `minimum_calls`
//! holds the judgement back, and each close starts a fresh window. Timing
//! runs on tokio's paused clock, which the breaker reads for sync calls too.

mod common;

use std::time::Duration;

use common::{AppError, Recorder};
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::{circuit_breaker, registry, CircuitBreaker, CircuitState};
use tokio::time::advance;

const MS: Duration = Duration::from_millis(1);

fn outcome(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

fn state(name: &str) -> CircuitState {
    registry().circuit_breaker(name).state()
}

/// (calls, failed calls) in the named breaker's window.
fn window(name: &str) -> (u32, u32) {
    let metrics = registry().circuit_breaker(name).metrics();
    (metrics.window_calls, metrics.window_failed_calls)
}

fn breaker(name: &'static str, config: CircuitBreakerConfig) -> CircuitBreaker {
    CircuitBreaker::new(name, config).unwrap()
}

/// Makes one call through `breaker`, which must admit it.
fn call(breaker: &CircuitBreaker, fail: bool) {
    breaker.try_acquire().unwrap().record(!fail);
}

fn time_window(duration: Duration) -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .failure_rate_threshold(0.5)
        .window_duration(duration)
}

#[circuit_breaker(
    name = "bw-expiry",
    failure_rate_threshold = 0.5,
    window_duration = "60s",
    minimum_calls = 4
)]
fn expiry(fail: bool) -> Result<(), AppError> {
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn failures_older_than_the_window_duration_leave_it_and_no_longer_count() {
    for _ in 0..3 {
        assert!(expiry(true).is_err());
    }
    advance(Duration::from_secs(60) - MS).await;
    assert_eq!(window("bw-expiry"), (3, 3));
    advance(MS).await;
    assert_eq!(window("bw-expiry"), (0, 0));

    // With the three old failures still in, this would be 4 of 4.
    assert!(expiry(true).is_err());
    assert_eq!(window("bw-expiry"), (1, 1));
    assert_eq!(state("bw-expiry"), CircuitState::Closed);
    for _ in 0..3 {
        assert!(expiry(true).is_err());
    }
    assert_eq!(state("bw-expiry"), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn each_call_leaves_the_time_window_once_it_is_window_duration_old() {
    let breaker = breaker("bw-slide", time_window(Duration::from_secs(60)));
    call(&breaker, true);
    advance(Duration::from_secs(30)).await;
    call(&breaker, false);

    let tally = || {
        let metrics = breaker.metrics();
        (metrics.window_calls, metrics.window_failed_calls)
    };
    advance(Duration::from_secs(30) - MS).await;
    assert_eq!(tally(), (2, 1));
    advance(MS).await;
    assert_eq!(tally(), (1, 0), "the failure at 0 s is 60 s old");
    advance(Duration::from_secs(30) - MS).await;
    assert_eq!(tally(), (1, 0));
    advance(MS).await;
    assert_eq!(tally(), (0, 0), "the success at 30 s is 60 s old");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_failures_after_a_quiet_period_is_judged_on_its_own() {
    let breaker = breaker(
        "bw-burst",
        time_window(Duration::from_secs(10)).minimum_calls(4),
    );
    for _ in 0..20 {
        call(&breaker, false);
    }
    advance(Duration::from_secs(5)).await;
    // Diluted by the successes still in the window: 4 of 24.
    for _ in 0..4 {
        call(&breaker, true);
    }
    assert_eq!(breaker.state(), CircuitState::Closed);

    advance(Duration::from_secs(11)).await;
    assert_eq!(breaker.metrics().window_calls, 0);
    for _ in 0..3 {
        call(&breaker, true);
    }
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "3 calls of 4 minimum"
    );
    call(&breaker, true);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[circuit_breaker(
    name = "bw-exact",
    failure_rate_threshold = 0.5,
    window_duration = "60s",
    minimum_calls = 4
)]
fn exact(fail: bool) -> Result<(), AppError> {
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn the_time_window_trips_when_the_failure_rate_reaches_the_threshold_not_before() {
    let recorder = Recorder::new(&["bw-exact"]);
    // Up to 3 of 7 failed: below one half.
    for fail in [false, false, false, true, true, false, true] {
        assert_eq!(exact(fail).is_ok(), !fail);
        advance(Duration::from_secs(1)).await;
    }
    let metrics = registry().circuit_breaker("bw-exact").metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!(metrics.failure_rate, Some(3.0 / 7.0));

    assert!(matches!(exact(true), Err(AppError::Transient)));
    assert_eq!(recorder.lines(), ["bw-exact CLOSED -> OPEN"]);
    assert_eq!(window("bw-exact"), (8, 4));
}

#[circuit_breaker(
    name = "bw-time-default-minimum",
    failure_rate_threshold = 0.5,
    window_duration = "60s"
)]
fn time_default_minimum(fail: bool) -> Result<(), AppError> {
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn the_time_window_judges_nothing_before_10_calls_by_default() {
    for _ in 0..9 {
        assert!(time_default_minimum(true).is_err());
    }
    let metrics = registry()
        .circuit_breaker("bw-time-default-minimum")
        .metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!(metrics.failure_rate, None);
    assert!(time_default_minimum(true).is_err());
    assert_eq!(state("bw-time-default-minimum"), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn the_time_window_judges_from_an_explicit_minimum_calls() {
    let breaker = breaker(
        "bw-time-minimum",
        time_window(Duration::from_secs(60)).minimum_calls(3),
    );
    call(&breaker, true);
    call(&breaker, true);
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.metrics().failure_rate, None);
    call(&breaker, true);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[circuit_breaker(
    name = "bw-count-minimum",
    failure_rate_threshold = 0.5,
    window_size = 10,
    minimum_calls = 3
)]
fn count_minimum(fail: bool) -> Result<(), AppError> {
    outcome(fail)
}

#[test]
fn the_count_window_judges_from_an_explicit_minimum_calls_before_it_is_full() {
    assert!(count_minimum(true).is_err());
    assert!(count_minimum(true).is_err());
    let metrics = registry().circuit_breaker("bw-count-minimum").metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!(metrics.failure_rate, None);
    assert!(count_minimum(true).is_err());
    assert_eq!(state("bw-count-minimum"), CircuitState::Open);
}

#[test]
fn the_count_window_must_be_full_by_default() {
    let breaker = breaker(
        "bw-count-full",
        CircuitBreakerConfig::default()
            .failure_rate_threshold(0.5)
            .window_size(5),
    );
    for _ in 0..4 {
        call(&breaker, true);
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.metrics().failure_rate, None);
    call(&breaker, true);
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics().failure_rate, Some(1.0));
}

#[circuit_breaker(
    name = "bw-fresh-time",
    failure_rate_threshold = 0.5,
    window_duration = "60s",
    minimum_calls = 4,
    recovery_timeout = "1s"
)]
fn fresh_time(fail: bool) -> Result<(), AppError> {
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn a_close_starts_a_fresh_time_window() {
    for fail in [false, false, true, true] {
        assert_eq!(fresh_time(fail).is_ok(), !fail);
    }
    assert_eq!(state("bw-fresh-time"), CircuitState::Open);
    advance(Duration::from_secs(1)).await;
    assert!(fresh_time(false).is_ok());
    assert_eq!(state("bw-fresh-time"), CircuitState::Closed);
    assert_eq!(window("bw-fresh-time"), (0, 0));

    // The old window, 1 s old, would make this 3 failures of 5.
    assert!(fresh_time(true).is_err());
    assert_eq!(window("bw-fresh-time"), (1, 1));
    assert_eq!(state("bw-fresh-time"), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_close_starts_a_fresh_count_window() {
    let breaker = breaker(
        "bw-fresh-count",
        CircuitBreakerConfig::default()
            .failure_rate_threshold(0.5)
            .window_size(4)
            .recovery_timeout(Duration::from_secs(1)),
    );
    for fail in [true, false, false, true] {
        call(&breaker, fail);
    }
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(Duration::from_secs(1)).await;
    call(&breaker, false);
    assert_eq!(breaker.state(), CircuitState::Closed);

    // In the old window this would replace the oldest failure: 2 of 4 again.
    call(&breaker, true);
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!((metrics.window_calls, metrics.window_failed_calls), (1, 1));
    assert_eq!((metrics.failed_calls, metrics.successful_calls), (3, 3));
}

// A fresh window's buckets are stamped with period 0, which from period 0x8000
// on (3276.8 s with 100 ms buckets) reads as newer than the current one.
#[tokio::test(start_paused = true)]
async fn a_time_window_first_used_late_in_the_breakers_life_records_calls() {
    let breaker = breaker(
        "bw-late",
        time_window(Duration::from_secs(60)).minimum_calls(2),
    );
    advance(Duration::from_secs(3_300)).await;
    call(&breaker, true);
    call(&breaker, true);
    assert_eq!(breaker.metrics().window_calls, 2);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_close_late_in_the_breakers_life_starts_a_window_that_records_calls() {
    let breaker = breaker(
        "bw-late-close",
        time_window(Duration::from_secs(60))
            .minimum_calls(2)
            .recovery_timeout(Duration::from_secs(100)),
    );
    // It trips while its first window still works (period 32 000) and
    // closes into the second one at period 33 000.
    advance(Duration::from_secs(3_200)).await;
    call(&breaker, true);
    call(&breaker, true);
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(Duration::from_secs(100)).await;
    call(&breaker, false);
    assert_eq!(breaker.state(), CircuitState::Closed);

    call(&breaker, true);
    call(&breaker, true);
    assert_eq!(breaker.metrics().window_calls, 2);
    assert_eq!(breaker.state(), CircuitState::Open);
}
