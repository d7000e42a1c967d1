//! Slow calls, through the attribute and the runtime API: a call longer than
//! `slow_call_duration` counts as slow whatever its outcome, and their share
//! in the window opens the circuit at `slow_call_rate_threshold`. Time runs on
//! tokio's paused clock: bodies sleep, runtime-API calls `advance`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{AppError, Recorder};
use resilience_runtime::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerEvent};
use resilience_runtime::{circuit_breaker, registry, CircuitBreaker, CircuitState};
use tokio::time::{advance, sleep, Instant};

const NS: Duration = Duration::from_nanos(1);

fn outcome(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

/// Every event `breaker` reports from now on.
fn listen(breaker: &CircuitBreaker) -> Arc<Mutex<Vec<CircuitBreakerEvent>>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    breaker.on_event(move |event| sink.lock().unwrap().push(*event));
    events
}

/// The rate judgements among `events`.
fn exceeded(events: &Mutex<Vec<CircuitBreakerEvent>>) -> Vec<CircuitBreakerEvent> {
    let mut events = events.lock().unwrap().clone();
    events.retain(|event| {
        matches!(
            event,
            CircuitBreakerEvent::FailureRateExceeded { .. }
                | CircuitBreakerEvent::SlowCallRateExceeded { .. }
        )
    });
    events
}

fn breaker(name: &'static str, config: CircuitBreakerConfig) -> CircuitBreaker {
    CircuitBreaker::new(name, config).unwrap()
}

/// One call through `breaker` (which must admit it) taking `took`.
async fn call(breaker: &CircuitBreaker, took: Duration, fail: bool) {
    let permit = breaker.try_acquire().unwrap();
    advance(took).await;
    permit.record(!fail);
}

#[circuit_breaker(name = "bs-boundary", slow_call_duration = "2s")]
async fn boundary(took: Duration, fail: bool) -> Result<(), AppError> {
    sleep(took).await;
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn a_call_longer_than_slow_call_duration_is_slow_and_one_of_exactly_it_is_not() {
    let start = Instant::now();
    assert!(boundary(Duration::from_secs(2), false).await.is_ok());
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    let metrics = registry().circuit_breaker("bs-boundary").metrics();
    assert_eq!((metrics.slow_calls, metrics.window_slow_calls), (0, 0));

    let slow = Duration::from_millis(2_001);
    assert!(boundary(slow, false).await.is_ok());
    assert!(boundary(slow, true).await.is_err());
    let metrics = registry().circuit_breaker("bs-boundary").metrics();
    assert_eq!((metrics.slow_calls, metrics.window_slow_calls), (2, 2));
    assert_eq!((metrics.successful_calls, metrics.failed_calls), (2, 1));
    assert_eq!(metrics.window_calls, 3);
}

#[tokio::test(start_paused = true)]
async fn the_runtime_api_times_a_call_from_admission_to_outcome_to_the_nanosecond() {
    let limit = Duration::from_secs(2);
    let breaker = breaker(
        "bs-runtime-boundary",
        CircuitBreakerConfig::default().slow_call_duration(limit),
    );
    let events = listen(&breaker);
    call(&breaker, limit, false).await;
    call(&breaker, limit + NS, false).await;
    call(&breaker, limit, true).await;
    call(&breaker, limit + NS, true).await;
    assert_eq!(
        *events.lock().unwrap(),
        [
            CircuitBreakerEvent::Success { slow: false },
            CircuitBreakerEvent::Success { slow: true },
            CircuitBreakerEvent::Failure { slow: false },
            CircuitBreakerEvent::Failure { slow: true },
        ]
    );
    assert_eq!(breaker.metrics().slow_calls, 2);
}

#[circuit_breaker(
    name = "bs-slow-successes",
    failure_rate_threshold = 0.5,
    window_duration = "60s",
    minimum_calls = 4,
    slow_call_duration = "1s",
    slow_call_rate_threshold = 0.5
)]
async fn slow_success(took_ms: u64) -> Result<(), AppError> {
    sleep(Duration::from_millis(took_ms)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn slow_successes_open_the_circuit_when_their_share_reaches_the_threshold() {
    let recorder = Recorder::new(&["bs-slow-successes"]);
    assert!(slow_success(0).await.is_ok());
    let events = listen(&registry().circuit_breaker("bs-slow-successes"));
    // Up to 2 slow of 5: below one half.
    for took_ms in [1_001, 0, 0, 1_001] {
        assert!(slow_success(took_ms).await.is_ok());
    }
    assert_eq!(
        registry()
            .circuit_breaker("bs-slow-successes")
            .metrics()
            .slow_call_rate,
        Some(0.4)
    );
    assert!(exceeded(&events).is_empty());

    assert!(slow_success(1_001).await.is_ok());
    assert_eq!(
        exceeded(&events),
        [CircuitBreakerEvent::SlowCallRateExceeded { rate: 0.5 }]
    );
    assert_eq!(recorder.lines(), ["bs-slow-successes CLOSED -> OPEN"]);
}

#[tokio::test(start_paused = true)]
async fn slow_failures_open_the_circuit_in_consecutive_mode() {
    let slow = Duration::from_millis(1_001);
    let breaker = breaker(
        "bs-slow-failures",
        CircuitBreakerConfig::default()
            .failure_threshold(10)
            .window_size(4)
            .slow_call_duration(Duration::from_secs(1))
            .slow_call_rate_threshold(0.5),
    );
    let events = listen(&breaker);
    call(&breaker, Duration::ZERO, false).await;
    call(&breaker, Duration::ZERO, false).await;
    call(&breaker, slow, true).await;
    assert_eq!(breaker.state(), CircuitState::Closed, "3 calls of 4");
    // Two failures in a row, far from failure_threshold: the slow share trips it.
    call(&breaker, slow, true).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(
        exceeded(&events),
        [CircuitBreakerEvent::SlowCallRateExceeded { rate: 0.5 }]
    );
}

#[circuit_breaker(
    name = "bs-consecutive",
    failure_threshold = 3,
    slow_call_duration = "500ms"
)]
async fn consecutive(took_ms: u64) -> Result<(), AppError> {
    sleep(Duration::from_millis(took_ms)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn consecutive_mode_opens_once_a_full_default_window_is_all_slow() {
    for _ in 0..9 {
        assert!(consecutive(501).await.is_ok());
    }
    let metrics = registry().circuit_breaker("bs-consecutive").metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!(metrics.slow_calls, 9);
    assert_eq!(metrics.slow_call_rate, None, "9 calls of a window of 10");

    assert!(consecutive(501).await.is_ok());
    let metrics = registry().circuit_breaker("bs-consecutive").metrics();
    assert_eq!(metrics.state, CircuitState::Open);
    assert_eq!(metrics.slow_call_rate, Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn the_slow_call_rate_is_judged_when_a_slow_call_is_recorded() {
    let slow = Duration::from_millis(1_001);
    let breaker = breaker(
        "bs-judged",
        CircuitBreakerConfig::default()
            .window_duration(Duration::from_secs(60))
            .minimum_calls(2)
            .slow_call_duration(Duration::from_secs(1))
            .slow_call_rate_threshold(0.5),
    );
    call(&breaker, slow, false).await;
    call(&breaker, Duration::ZERO, false).await;
    let metrics = breaker.metrics();
    assert_eq!(metrics.slow_call_rate, Some(0.5));
    assert_eq!(
        metrics.state,
        CircuitState::Closed,
        "a fast call judges nothing"
    );
    call(&breaker, slow, false).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn metrics_report_the_failure_and_slow_call_rates_of_the_window() {
    let slow = Duration::from_millis(1_001);
    let breaker = breaker(
        "bs-metrics",
        CircuitBreakerConfig::default()
            .failure_rate_threshold(1.0)
            .window_duration(Duration::from_secs(60))
            .minimum_calls(2)
            .slow_call_duration(Duration::from_secs(1)),
    );
    let rates = || {
        let metrics = breaker.metrics();
        (metrics.failure_rate, metrics.slow_call_rate)
    };
    call(&breaker, Duration::ZERO, false).await;
    assert_eq!(rates(), (None, None), "below minimum_calls");
    call(&breaker, slow, true).await;
    assert_eq!(rates(), (Some(0.5), Some(0.5)));
    call(&breaker, Duration::ZERO, false).await;
    call(&breaker, slow, false).await;
    assert_eq!(rates(), (Some(0.25), Some(0.5)));

    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!(
        (
            metrics.window_calls,
            metrics.window_successful_calls,
            metrics.window_failed_calls,
            metrics.window_slow_calls
        ),
        (4, 3, 1, 2)
    );
}

#[test]
fn without_a_window_metrics_have_no_rates() {
    let breaker = breaker("bs-no-window", CircuitBreakerConfig::default());
    breaker.try_acquire().unwrap().failure();
    let metrics = breaker.metrics();
    assert_eq!((metrics.failure_rate, metrics.slow_call_rate), (None, None));
    assert_eq!((metrics.window_calls, metrics.failed_calls), (0, 1));
}
