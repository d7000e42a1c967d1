//! `#[circuit_breaker]` as users write it: when it opens, what it does while
//! open, and how probes close or reopen it. Timing runs on tokio's paused
//! clock, which the breaker reads for sync functions too.
//! Dropped and panicking probes: tests/cancellation.rs.

#[path = "common/act.rs"]
mod act;
mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use act::until;
use common::{AppError, Recorder};
use resilience_runtime::{circuit_breaker, registry, CircuitState, Error};
use tokio::sync::oneshot;
use tokio::time::advance;

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

/// The name and `retry_after` of the open-circuit rejection in `result`.
fn open_circuit(result: Result<(), AppError>) -> (String, Option<Duration>) {
    match result {
        Err(AppError::Resilience(Error::CircuitOpen {
            name, retry_after, ..
        })) => (name.to_string(), retry_after),
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
}

fn transitions(recorder: &Recorder) -> Vec<String> {
    let mut lines = recorder.lines();
    lines.retain(|line| line.contains("->"));
    lines
}

static CONSECUTIVE_RUNS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(
    name = "cb-consecutive",
    failure_threshold = 3,
    recovery_timeout = "10s"
)]
fn consecutive(fail: bool) -> Result<(), AppError> {
    CONSECUTIVE_RUNS.fetch_add(1, SeqCst);
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_open_it_and_a_success_resets_the_count() {
    for fail in [true, true, false, true, true] {
        assert_eq!(consecutive(fail).is_ok(), !fail);
    }
    assert_eq!(state("cb-consecutive"), CircuitState::Closed);
    assert!(consecutive(true).is_err());
    assert_eq!(state("cb-consecutive"), CircuitState::Open);
    assert_eq!(CONSECUTIVE_RUNS.load(SeqCst), 6);

    let (name, retry_after) = open_circuit(consecutive(false));
    assert_eq!(name, "cb-consecutive");
    assert_eq!(retry_after, Some(Duration::from_secs(10)));
    advance(Duration::from_secs(4)).await;
    assert_eq!(
        open_circuit(consecutive(false)).1,
        Some(Duration::from_secs(6))
    );
    assert_eq!(
        CONSECUTIVE_RUNS.load(SeqCst),
        6,
        "an open circuit ran the body"
    );
}

#[circuit_breaker(
    name = "cb-rate-window",
    failure_rate_threshold = 0.5,
    window_size = 10
)]
fn rate_window(fail: bool) -> Result<(), AppError> {
    outcome(fail)
}

#[test]
fn rate_mode_is_not_judged_before_the_window_is_full() {
    // Nine failures in a row: past the default failure_threshold of 5, but
    // the window of 10 is not full yet.
    for _ in 0..9 {
        assert!(matches!(rate_window(true), Err(AppError::Transient)));
    }
    assert_eq!(state("cb-rate-window"), CircuitState::Closed);
    assert!(matches!(rate_window(true), Err(AppError::Transient)));
    assert_eq!(state("cb-rate-window"), CircuitState::Open);
}

#[circuit_breaker(
    name = "cb-rate-threshold",
    failure_rate_threshold = 0.5,
    window_size = 4
)]
fn rate_threshold(fail: bool) -> Result<(), AppError> {
    outcome(fail)
}

#[test]
fn a_window_filled_by_a_success_at_the_threshold_trips_on_the_next_failure() {
    for fail in [true, true, false, false] {
        assert_eq!(rate_threshold(fail).is_ok(), !fail);
    }
    let metrics = registry().circuit_breaker("cb-rate-threshold").metrics();
    assert_eq!((metrics.window_calls, metrics.window_failed_calls), (4, 2));
    assert_eq!(metrics.state, CircuitState::Closed, "judged on a success");

    // It replaces the oldest failure: still 2 of 4, now judged.
    assert!(rate_threshold(true).is_err());
    assert_eq!(state("cb-rate-threshold"), CircuitState::Open);
}

#[circuit_breaker(name = "cb-recovery", failure_threshold = 1, recovery_timeout = "5s")]
fn recovery(fail: bool) -> Result<(), AppError> {
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn open_turns_half_open_on_a_state_read_once_recovery_timeout_has_passed() {
    let recorder = Recorder::new(&["cb-recovery"]);
    assert!(recovery(true).is_err());
    advance(Duration::from_millis(4_999)).await;
    assert_eq!(state("cb-recovery"), CircuitState::Open);
    advance(Duration::from_millis(1)).await;
    assert_eq!(state("cb-recovery"), CircuitState::HalfOpen);
    assert!(recovery(false).is_ok());
    assert_eq!(state("cb-recovery"), CircuitState::Closed);
    assert_eq!(
        recorder.lines(),
        [
            "cb-recovery CLOSED -> OPEN",
            "cb-recovery OPEN -> HALF_OPEN",
            "cb-recovery HALF_OPEN -> CLOSED",
        ]
    );
}

static NEXT_CALL_RUNS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(name = "cb-next-call", failure_threshold = 1, recovery_timeout = "5s")]
fn next_call(fail: bool) -> Result<(), AppError> {
    NEXT_CALL_RUNS.fetch_add(1, SeqCst);
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn open_turns_half_open_on_the_next_call_once_recovery_timeout_has_passed() {
    let recorder = Recorder::new(&["cb-next-call"]);
    assert!(next_call(true).is_err());
    advance(Duration::from_secs(5)).await;
    // No state read in between: the call itself moves the circuit and probes.
    assert!(next_call(false).is_ok());
    assert_eq!(NEXT_CALL_RUNS.load(SeqCst), 2);
    assert_eq!(
        recorder.lines(),
        [
            "cb-next-call CLOSED -> OPEN",
            "cb-next-call OPEN -> HALF_OPEN",
            "cb-next-call HALF_OPEN -> CLOSED",
        ]
    );
}

static PROBE_RUNS: AtomicU32 = AtomicU32::new(0);

/// Fails at once without `release`; else succeeds once `release` fires.
#[circuit_breaker(
    name = "cb-probes",
    failure_threshold = 1,
    recovery_timeout = "1s",
    half_open_max_calls = 2
)]
async fn probe(release: Option<oneshot::Receiver<()>>) -> Result<(), AppError> {
    PROBE_RUNS.fetch_add(1, SeqCst);
    match release {
        Some(release) => {
            release.await.unwrap();
            Ok(())
        }
        None => Err(AppError::Transient),
    }
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_max_calls_probes_rejects_the_rest_and_that_many_successes_close_it() {
    assert!(probe(None).await.is_err());
    advance(Duration::from_secs(1)).await;

    let (release_first, first_rx) = oneshot::channel();
    let (release_second, second_rx) = oneshot::channel();
    let first = tokio::spawn(probe(Some(first_rx)));
    let second = tokio::spawn(probe(Some(second_rx)));
    until(|| PROBE_RUNS.load(SeqCst) == 3).await;

    let (name, retry_after) = open_circuit(probe(None).await);
    assert_eq!(name, "cb-probes");
    assert_eq!(
        retry_after, None,
        "half-open waits for its probes, not a timer"
    );

    release_first.send(()).unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(
        state("cb-probes"),
        CircuitState::HalfOpen,
        "one success of two"
    );
    // The finished probe's slot is not handed out again.
    open_circuit(probe(None).await);

    release_second.send(()).unwrap();
    second.await.unwrap().unwrap();
    assert_eq!(state("cb-probes"), CircuitState::Closed);
    assert_eq!(PROBE_RUNS.load(SeqCst), 3, "a rejected call ran the body");
}

#[circuit_breaker(
    name = "cb-reopen",
    failure_threshold = 1,
    recovery_timeout = "1s",
    half_open_max_calls = 3
)]
fn reopen(fail: bool) -> Result<(), AppError> {
    outcome(fail)
}

#[tokio::test(start_paused = true)]
async fn any_probe_failure_reopens_it_for_a_fresh_recovery_timeout() {
    let recorder = Recorder::new(&["cb-reopen"]);
    assert!(reopen(true).is_err());
    advance(Duration::from_secs(1)).await;
    assert!(reopen(false).is_ok());
    assert!(reopen(false).is_ok());
    assert_eq!(state("cb-reopen"), CircuitState::HalfOpen);

    assert!(matches!(reopen(true), Err(AppError::Transient)));
    assert_eq!(state("cb-reopen"), CircuitState::Open);
    assert_eq!(open_circuit(reopen(false)).1, Some(Duration::from_secs(1)));
    assert_eq!(
        transitions(&recorder),
        [
            "cb-reopen CLOSED -> OPEN",
            "cb-reopen OPEN -> HALF_OPEN",
            "cb-reopen HALF_OPEN -> OPEN",
        ]
    );
}

#[circuit_breaker(
    name = "cb-on",
    failure_threshold = 2,
    recovery_timeout = "1s",
    on = AppError::is_transient
)]
fn only_transient(error: Option<AppError>) -> Result<(), AppError> {
    error.map_or(Ok(()), Err)
}

#[tokio::test(start_paused = true)]
async fn errors_outside_on_count_neither_as_failures_nor_as_successes() {
    for _ in 0..5 {
        assert!(only_transient(Some(AppError::Permanent)).is_err());
    }
    assert_eq!(state("cb-on"), CircuitState::Closed);

    // Between two counted failures, an ignored error does not reset the count.
    for error in [
        AppError::Transient,
        AppError::Permanent,
        AppError::Transient,
    ] {
        assert!(only_transient(Some(error)).is_err());
    }
    assert_eq!(state("cb-on"), CircuitState::Open);

    advance(Duration::from_secs(1)).await;
    // An ignored error on the only probe neither closes nor reopens the
    // circuit, and frees the slot for the next probe.
    assert!(matches!(
        only_transient(Some(AppError::Permanent)),
        Err(AppError::Permanent)
    ));
    assert_eq!(state("cb-on"), CircuitState::HalfOpen);
    assert!(only_transient(None).is_ok());
    let metrics = registry().circuit_breaker("cb-on").metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!((metrics.failed_calls, metrics.successful_calls), (2, 1));
}
