//! Taking a breaker out of automatic operation and back: `force_open`,
//! `disable`, `metrics_only` and `reset`, with `metrics()` in each; errors
//! `on` turns down; and results of calls admitted before a reset or a re-close.
//! On tokio's paused clock, through the attribute and the runtime API.

#[path = "common/act.rs"]
mod act;
#[path = "common/breaker.rs"]
mod breaker;
mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use act::{until, Act};
use breaker::{counters, open_circuit, refused, window, Events};
use common::{AppError, Recorder};
use resilience_runtime::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerEvent};
use resilience_runtime::{circuit_breaker, registry, CircuitBreaker, CircuitState};
use tokio::sync::oneshot;
use tokio::time::advance;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn transitions(recorder: &Recorder) -> Vec<String> {
    let mut lines = recorder.lines();
    lines.retain(|line| line.contains("->"));
    lines
}

fn config() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .failure_threshold(1)
        .recovery_timeout(secs(10))
}

// ---- force_open ----

#[tokio::test(start_paused = true)]
async fn runtime_force_open_rejects_every_call_with_no_retry_after_and_never_leaves_by_itself() {
    let breaker = CircuitBreaker::new("bc-forced-api", config()).unwrap();
    breaker.try_acquire().unwrap().success();
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);

    breaker.force_open();
    assert_eq!(breaker.state(), CircuitState::ForcedOpen);
    assert_eq!(refused(breaker.try_acquire()), None);
    // Long past the recovery timeout: no HALF_OPEN.
    advance(secs(3600)).await;
    assert_eq!(breaker.state(), CircuitState::ForcedOpen);
    assert_eq!(refused(breaker.try_acquire()), None);
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::ForcedOpen);
    assert_eq!(counters(&metrics), (1, 1, 0, 0, 2));
}

static FORCED_RUNS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(name = "bc-forced", failure_threshold = 1, recovery_timeout = "10s")]
fn forced(act: Act) -> Result<(), AppError> {
    FORCED_RUNS.fetch_add(1, SeqCst);
    act.run_sync()
}

#[tokio::test(start_paused = true)]
async fn attribute_force_open_rejects_without_running_the_body_until_reset() {
    let recorder = Recorder::new(&["bc-forced"]);
    assert!(forced(Act::Succeed).is_ok());
    let breaker = registry().circuit_breaker("bc-forced");
    breaker.force_open();
    for _ in 0..3 {
        assert_eq!(open_circuit(forced(Act::Succeed)), None);
    }
    advance(secs(60)).await;
    assert_eq!(open_circuit(forced(Act::Succeed)), None);
    assert_eq!(FORCED_RUNS.load(SeqCst), 1);
    assert_eq!(breaker.metrics().not_permitted_calls, 4);

    breaker.reset();
    assert!(forced(Act::Succeed).is_ok());
    assert_eq!(FORCED_RUNS.load(SeqCst), 2);
    assert_eq!(
        recorder.lines(),
        [
            "bc-forced CLOSED -> FORCED_OPEN",
            "rejected circuit breaker `bc-forced` is open",
            "rejected circuit breaker `bc-forced` is open",
            "rejected circuit breaker `bc-forced` is open",
            "rejected circuit breaker `bc-forced` is open",
            "bc-forced FORCED_OPEN -> CLOSED",
        ]
    );
}

// ---- disable ----

static DISABLED_RUNS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(
    name = "bc-disabled",
    failure_rate_threshold = 0.5,
    window_size = 2,
    recovery_timeout = "10s",
    on = AppError::is_transient
)]
fn disabled(error: Option<AppError>) -> Result<(), AppError> {
    DISABLED_RUNS.fetch_add(1, SeqCst);
    error.map_or(Ok(()), Err)
}

#[tokio::test(start_paused = true)]
async fn attribute_disabled_lets_every_call_through_and_records_nothing() {
    assert!(disabled(None).is_ok());
    let breaker = registry().circuit_breaker("bc-disabled");
    let before = breaker.metrics();
    breaker.disable();
    let (events, _) = Events::listen(&breaker);

    for _ in 0..3 {
        assert!(matches!(
            disabled(Some(AppError::Transient)),
            Err(AppError::Transient)
        ));
    }
    assert!(disabled(Some(AppError::Permanent)).is_err());
    assert!(disabled(None).is_ok());
    assert_eq!(DISABLED_RUNS.load(SeqCst), 6);
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::Disabled);
    assert_eq!(counters(&metrics), counters(&before));
    assert_eq!(counters(&metrics), (1, 0, 0, 0, 0));
    assert_eq!(window(&metrics), (1, 0, 1, 0));
    assert_eq!(events.take(), []);

    // Back to automatic: a fresh window, which two failures fill and trip.
    breaker.reset();
    assert!(disabled(Some(AppError::Transient)).is_err());
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert!(disabled(Some(AppError::Transient)).is_err());
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn runtime_disable_overrides_an_open_circuit_and_a_probe_ending_under_it_counts_nothing() {
    let breaker = CircuitBreaker::new("bc-disabled-api", config()).unwrap();
    breaker.try_acquire().unwrap().failure();
    advance(secs(10)).await;
    let probe = breaker.try_acquire().unwrap();
    breaker.disable();
    assert_eq!(breaker.state(), CircuitState::Disabled);
    probe.success();
    assert_eq!(breaker.state(), CircuitState::Disabled);

    for _ in 0..3 {
        breaker.try_acquire().unwrap().failure();
        breaker.try_acquire().unwrap().ignore();
    }
    advance(secs(3600)).await;
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::Disabled);
    assert_eq!(counters(&metrics).1, 1, "the failure before disable() only");
    assert_eq!(counters(&metrics).3, 0);
}

// ---- metrics_only ----

#[tokio::test(start_paused = true)]
async fn runtime_metrics_only_records_calls_windows_and_rate_events_but_never_trips() {
    let config = config()
        .failure_rate_threshold(0.5)
        .window_size(2)
        .slow_call_duration(secs(1))
        .slow_call_rate_threshold(0.5);
    let breaker = CircuitBreaker::new("bc-metrics-only-api", config).unwrap();
    breaker.metrics_only();
    let (events, _) = Events::listen(&breaker);

    breaker.try_acquire().unwrap().success();
    let slow = breaker.try_acquire().unwrap();
    advance(secs(2)).await;
    slow.failure();
    breaker.try_acquire().unwrap().ignore();
    assert_eq!(
        events.take(),
        [
            CircuitBreakerEvent::Success { slow: false },
            CircuitBreakerEvent::Failure { slow: true },
            CircuitBreakerEvent::FailureRateExceeded { rate: 0.5 },
            CircuitBreakerEvent::SlowCallRateExceeded { rate: 0.5 },
            CircuitBreakerEvent::IgnoredError,
        ]
    );
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::MetricsOnly);
    assert_eq!(counters(&metrics), (1, 1, 1, 1, 0));
    assert_eq!(window(&metrics), (2, 1, 1, 1));
    assert_eq!(metrics.failure_rate, Some(0.5));
    assert_eq!(metrics.slow_call_rate, Some(0.5));

    for _ in 0..5 {
        breaker.try_acquire().unwrap().failure();
    }
    advance(secs(3600)).await;
    assert_eq!(breaker.state(), CircuitState::MetricsOnly);
    assert_eq!(breaker.metrics().failure_rate, Some(1.0));
}

static METRICS_ONLY_RUNS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(
    name = "bc-metrics-only",
    failure_threshold = 1,
    recovery_timeout = "10s"
)]
fn metrics_only(act: Act) -> Result<(), AppError> {
    METRICS_ONLY_RUNS.fetch_add(1, SeqCst);
    act.run_sync()
}

#[tokio::test(start_paused = true)]
async fn attribute_metrics_only_counts_past_the_threshold_without_opening() {
    assert!(metrics_only(Act::Succeed).is_ok());
    let breaker = registry().circuit_breaker("bc-metrics-only");
    breaker.metrics_only();
    for _ in 0..4 {
        assert!(matches!(metrics_only(Act::Fail), Err(AppError::Transient)));
    }
    assert!(metrics_only(Act::Succeed).is_ok());
    assert_eq!(METRICS_ONLY_RUNS.load(SeqCst), 6);
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::MetricsOnly);
    assert_eq!(counters(&metrics), (2, 4, 0, 0, 0));

    // reset() hands it back to automatic operation.
    breaker.reset();
    assert!(metrics_only(Act::Fail).is_err());
    assert_eq!(open_circuit(metrics_only(Act::Succeed)), Some(secs(10)));
}

#[tokio::test(start_paused = true)]
async fn runtime_the_window_of_an_open_circuit_holds_the_failure_that_opened_it() {
    let config = config().failure_threshold(2).slow_call_duration(secs(1));
    let breaker = CircuitBreaker::new("bc-open-window-api", config).unwrap();
    breaker.try_acquire().unwrap().failure();
    breaker.try_acquire().unwrap().failure();
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::Open);
    assert_eq!(counters(&metrics).1, 2);
    assert_eq!(window(&metrics), (2, 2, 0, 0));
}

// ---- moving between manual states, and reset ----

#[tokio::test(start_paused = true)]
async fn runtime_any_manual_state_moves_to_any_other_and_reset_returns_to_automatic_operation() {
    let recorder = Recorder::new(&["bc-manual-api"]);
    let breaker = CircuitBreaker::new("bc-manual-api", config()).unwrap();
    breaker.try_acquire().unwrap().failure();
    breaker.force_open();
    assert_eq!(breaker.state(), CircuitState::ForcedOpen);
    breaker.disable();
    assert_eq!(breaker.state(), CircuitState::Disabled);
    breaker.try_acquire().unwrap().failure();
    breaker.metrics_only();
    assert_eq!(breaker.state(), CircuitState::MetricsOnly);
    breaker.try_acquire().unwrap().failure();
    breaker.force_open();
    assert_eq!(refused(breaker.try_acquire()), None);
    breaker.disable();
    breaker.reset();
    assert_eq!(breaker.state(), CircuitState::Closed);

    breaker.try_acquire().unwrap().failure();
    assert_eq!(refused(breaker.try_acquire()), Some(secs(10)));
    advance(secs(10)).await;
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(
        transitions(&recorder),
        [
            "bc-manual-api CLOSED -> OPEN",
            "bc-manual-api OPEN -> FORCED_OPEN",
            "bc-manual-api FORCED_OPEN -> DISABLED",
            "bc-manual-api DISABLED -> METRICS_ONLY",
            "bc-manual-api METRICS_ONLY -> FORCED_OPEN",
            "bc-manual-api FORCED_OPEN -> DISABLED",
            "bc-manual-api DISABLED -> CLOSED",
            "bc-manual-api CLOSED -> OPEN",
            "bc-manual-api OPEN -> HALF_OPEN",
            "bc-manual-api HALF_OPEN -> CLOSED",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn runtime_reset_zeroes_every_counter_empties_the_window_and_clears_the_backoff() {
    let config = config()
        .failure_rate_threshold(0.5)
        .window_size(4)
        .minimum_calls(2)
        .slow_call_duration(secs(1))
        .recovery_backoff(2.0);
    let breaker = CircuitBreaker::new("bc-reset-api", config).unwrap();
    let slow = breaker.try_acquire().unwrap();
    advance(secs(2)).await;
    slow.success();
    breaker.try_acquire().unwrap().ignore();
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    // Two failed probe rounds: open for 20s, then 40s.
    for _ in 0..2 {
        advance(secs(40)).await;
        breaker.try_acquire().unwrap().failure();
    }
    assert_eq!(refused(breaker.try_acquire()), Some(secs(40)));
    let metrics = breaker.metrics();
    assert_eq!(counters(&metrics), (1, 3, 1, 1, 1));
    assert_eq!(window(&metrics), (2, 1, 1, 1));

    let (events, _) = Events::listen(&breaker);
    breaker.reset();
    assert_eq!(
        events.take(),
        [
            CircuitBreakerEvent::StateTransition {
                from: CircuitState::Open,
                to: CircuitState::Closed
            },
            CircuitBreakerEvent::Reset,
        ]
    );
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!(counters(&metrics), (0, 0, 0, 0, 0));
    assert_eq!(window(&metrics), (0, 0, 0, 0));
    assert_eq!(metrics.failure_rate, None);

    // The window starts empty: one failure of one call is not yet judged.
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker.try_acquire().unwrap().failure();
    assert_eq!(refused(breaker.try_acquire()), Some(secs(10)));
}

#[tokio::test]
async fn runtime_reset_of_a_closed_breaker_emits_only_reset() {
    let breaker = CircuitBreaker::new("bc-reset-closed-api", config()).unwrap();
    breaker.try_acquire().unwrap().success();
    let (events, _) = Events::listen(&breaker);
    breaker.reset();
    assert_eq!(events.take(), [CircuitBreakerEvent::Reset]);
    assert_eq!(breaker.metrics().successful_calls, 0);
}

// ---- errors `on` turns down ----

#[tokio::test(start_paused = true)]
async fn runtime_ignored_outcomes_count_neither_way_and_free_the_probe_slot() {
    let breaker = CircuitBreaker::new("bc-ignore-api", config().failure_threshold(2)).unwrap();
    let (events, _) = Events::listen(&breaker);
    // Not a failure: two ignores after one failure do not open it.
    breaker.try_acquire().unwrap().failure();
    breaker.try_acquire().unwrap().ignore();
    breaker.try_acquire().unwrap().ignore();
    assert_eq!(breaker.state(), CircuitState::Closed);
    // Not a success: the count of one failure survives them.
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);

    advance(secs(10)).await;
    breaker.try_acquire().unwrap().ignore();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker.try_acquire().unwrap().ignore();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    let ignored = events
        .take()
        .into_iter()
        .filter(|event| *event == CircuitBreakerEvent::IgnoredError)
        .count();
    assert_eq!(ignored, 4);
    assert_eq!(counters(&breaker.metrics()), (1, 2, 0, 4, 0));
}

#[circuit_breaker(
    name = "bc-ignore",
    failure_rate_threshold = 0.5,
    window_size = 2,
    recovery_timeout = "10s",
    half_open_max_calls = 2,
    on = AppError::is_transient
)]
fn ignore(error: Option<AppError>) -> Result<(), AppError> {
    error.map_or(Ok(()), Err)
}

#[tokio::test(start_paused = true)]
async fn attribute_ignored_errors_stay_out_of_the_window_and_of_the_probe_count() {
    for _ in 0..3 {
        assert!(matches!(
            ignore(Some(AppError::Permanent)),
            Err(AppError::Permanent)
        ));
    }
    let breaker = registry().circuit_breaker("bc-ignore");
    let metrics = breaker.metrics();
    assert_eq!(window(&metrics), (0, 0, 0, 0));
    assert_eq!(counters(&metrics), (0, 0, 0, 3, 0));

    assert!(ignore(Some(AppError::Transient)).is_err());
    assert!(ignore(Some(AppError::Transient)).is_err());
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(secs(10)).await;
    // One success and one ignored error of two probes: still half-open, and
    // the ignored one's slot goes to the probe that closes it.
    assert!(ignore(None).is_ok());
    assert!(ignore(Some(AppError::Permanent)).is_err());
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert!(ignore(None).is_ok());
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.metrics().ignored_calls, 4);
}

// ---- late results of counted calls ----

#[tokio::test(start_paused = true)]
async fn runtime_a_counted_call_failing_after_a_reset_or_a_reclose_does_not_count_in_the_new_state()
{
    let breaker = CircuitBreaker::new("bc-late-api", config().failure_threshold(2)).unwrap();
    let before_reset = breaker.try_acquire().unwrap();
    breaker.reset();
    before_reset.failure();
    breaker.try_acquire().unwrap().failure();
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "the late failure counted"
    );
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);

    advance(secs(10)).await;
    breaker.try_acquire().unwrap().success();
    let before_open = breaker.try_acquire().unwrap();
    breaker.try_acquire().unwrap().failure();
    breaker.try_acquire().unwrap().failure();
    advance(secs(10)).await;
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    before_open.failure();
    breaker.try_acquire().unwrap().failure();
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "the late failure counted"
    );
}

#[tokio::test(start_paused = true)]
async fn runtime_a_counted_call_ending_after_a_reset_or_a_reclose_stays_out_of_the_new_window() {
    let config = config().failure_rate_threshold(0.5).window_size(2);
    let breaker = CircuitBreaker::new("bc-late-window-api", config).unwrap();
    let before_reset = breaker.try_acquire().unwrap();
    breaker.reset();
    before_reset.failure();
    assert_eq!(window(&breaker.metrics()), (0, 0, 0, 0));

    let before_open = breaker.try_acquire().unwrap();
    breaker.try_acquire().unwrap().failure();
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(secs(10)).await;
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    before_open.failure();
    assert_eq!(window(&breaker.metrics()), (0, 0, 0, 0));
    // Counted, it would have filled the window with a second failure.
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(window(&breaker.metrics()), (1, 1, 0, 0));
}

static LATE_RUNS: AtomicU32 = AtomicU32::new(0);

/// Fails once `release` fires, if given.
#[circuit_breaker(name = "bc-late", failure_threshold = 2, recovery_timeout = "10s")]
async fn late(release: Option<oneshot::Receiver<()>>) -> Result<(), AppError> {
    LATE_RUNS.fetch_add(1, SeqCst);
    if let Some(release) = release {
        release.await.unwrap();
    }
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn attribute_a_call_failing_after_a_reset_does_not_count_toward_the_threshold() {
    let (release, rx) = oneshot::channel();
    let slow = tokio::spawn(late(Some(rx)));
    until(|| LATE_RUNS.load(SeqCst) == 1).await;
    registry().circuit_breaker("bc-late").reset();
    release.send(()).unwrap();
    assert!(matches!(slow.await.unwrap(), Err(AppError::Transient)));

    assert!(late(None).await.is_err());
    assert_eq!(
        registry().circuit_breaker("bc-late").state(),
        CircuitState::Closed,
        "the late failure counted"
    );
    assert!(late(None).await.is_err());
    assert_eq!(open_circuit(late(None).await), Some(secs(10)));
}

#[test]
fn asking_again_for_the_manual_state_in_force_changes_nothing() {
    let config = CircuitBreakerConfig::default().failure_rate_threshold(0.5);
    let breaker = CircuitBreaker::new("bc-manual-twice", config).unwrap();
    let (events, _) = Events::listen(&breaker);
    breaker.metrics_only();
    breaker.try_acquire().unwrap().failure();
    breaker.metrics_only();
    assert_eq!(breaker.metrics().window_calls, 1, "the window was kept");
    breaker.force_open();
    breaker.force_open();
    let transitions: Vec<_> = events
        .take()
        .into_iter()
        .filter(|event| matches!(event, CircuitBreakerEvent::StateTransition { .. }))
        .collect();
    assert_eq!(transitions.len(), 2, "{transitions:?}");
}
