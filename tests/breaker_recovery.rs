//! How long a circuit stays open: `recovery_backoff` grows the open time while
//! the probes keep failing, `max_recovery_timeout` caps it and a close starts
//! it over; `half_open_max_wait` reopens a half-open circuit whose probes never
//! finish. Probes that finish after their half-open state ended change nothing.
//! On tokio's paused clock, through the attribute and the runtime API.

#[path = "common/act.rs"]
mod act;
#[path = "common/breaker.rs"]
mod breaker;
mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use act::{until, Act};
use breaker::{open_circuit, refused};
use common::{AppError, Recorder};
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::{circuit_breaker, registry, CircuitBreaker, CircuitState};
use tokio::sync::oneshot;
use tokio::time::advance;

const NS: Duration = Duration::from_nanos(1);
const MS: Duration = Duration::from_millis(1);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn state(name: &str) -> CircuitState {
    registry().circuit_breaker(name).state()
}

fn transitions(recorder: &Recorder) -> Vec<String> {
    let mut lines = recorder.lines();
    lines.retain(|line| line.contains("->"));
    lines
}

/// Checks that an open circuit rejects with exactly `open_for` left, and
/// turns half-open exactly when it has passed, not a nanosecond before or after.
async fn stays_open_for(
    open_for: Duration,
    retry_after: &dyn Fn() -> Option<Duration>,
    state: &dyn Fn() -> CircuitState,
) {
    assert_eq!(retry_after(), Some(open_for));
    advance(open_for - NS).await;
    assert_eq!(state(), CircuitState::Open);
    assert_eq!(retry_after(), Some(NS));
    advance(NS).await;
    assert_eq!(state(), CircuitState::HalfOpen);
}

#[circuit_breaker(name = "br-exact", failure_threshold = 1, recovery_timeout = "1500us")]
fn exact(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn an_open_time_below_a_millisecond_is_kept_to_the_nanosecond() {
    let _ = exact(true);
    stays_open_for(
        Duration::from_micros(1500),
        &|| open_circuit(exact(false)),
        &|| state("br-exact"),
    )
    .await;
}

#[circuit_breaker(name = "br-zero", failure_threshold = 1, recovery_timeout = "0s")]
fn zero_recovery(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_zero_recovery_timeout_admits_the_very_next_call_as_the_probe() {
    zero_recovery(false).unwrap();
    // Off a millisecond boundary, where rounding the open time up would show.
    advance(Duration::from_nanos(1234)).await;
    assert!(zero_recovery(true).is_err());
    assert_eq!(
        state("br-zero"),
        CircuitState::HalfOpen,
        "no time has to pass"
    );
    zero_recovery(false).unwrap();
    assert_eq!(state("br-zero"), CircuitState::Closed);
}

#[circuit_breaker(
    name = "br-backoff",
    failure_threshold = 1,
    recovery_timeout = "10s",
    recovery_backoff = 2.0,
    max_recovery_timeout = "60s"
)]
fn backoff(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn attribute_open_time_doubles_per_failed_probe_round_up_to_the_cap_and_a_close_resets_it() {
    let retry_after = || open_circuit(backoff(false));
    let state = || state("br-backoff");
    assert!(backoff(true).is_err());
    // 80s is capped to 60s.
    for open_for in [10, 20, 40, 60] {
        stays_open_for(secs(open_for), &retry_after, &state).await;
        assert!(matches!(backoff(true), Err(AppError::Transient)));
        assert_eq!(state(), CircuitState::Open);
    }
    stays_open_for(secs(60), &retry_after, &state).await;

    assert!(backoff(false).is_ok());
    assert_eq!(state(), CircuitState::Closed);
    assert!(backoff(true).is_err());
    stays_open_for(secs(10), &retry_after, &state).await;
}

#[tokio::test(start_paused = true)]
async fn runtime_open_time_grows_by_the_factor_up_to_the_cap_and_a_close_resets_it() {
    let config = CircuitBreakerConfig::default()
        .failure_threshold(1)
        .recovery_timeout(secs(10))
        .recovery_backoff(3.0)
        .max_recovery_timeout(secs(100))
        .half_open_max_calls(2);
    let breaker = CircuitBreaker::new("br-backoff-api", config).unwrap();
    let retry_after = || refused(breaker.try_acquire());
    let state = || breaker.state();

    breaker.try_acquire().unwrap().failure();
    // 270s is capped to 100s.
    for open_for in [10, 30, 90, 100] {
        stays_open_for(secs(open_for), &retry_after, &state).await;
        // One success of the two needed does not stop the round failing.
        breaker.try_acquire().unwrap().success();
        breaker.try_acquire().unwrap().failure();
        assert_eq!(state(), CircuitState::Open);
    }
    stays_open_for(secs(100), &retry_after, &state).await;

    breaker.try_acquire().unwrap().success();
    breaker.try_acquire().unwrap().success();
    assert_eq!(state(), CircuitState::Closed);
    breaker.try_acquire().unwrap().failure();
    stays_open_for(secs(10), &retry_after, &state).await;
}

static STUCK_RUNS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(
    name = "br-stuck",
    failure_threshold = 1,
    recovery_timeout = "10s",
    recovery_backoff = 2.0,
    half_open_max_wait = "5s"
)]
async fn stuck(act: Act) -> Result<(), AppError> {
    STUCK_RUNS.fetch_add(1, SeqCst);
    act.run().await
}

#[tokio::test(start_paused = true)]
async fn attribute_a_half_open_circuit_whose_probe_never_finishes_reopens_when_the_wait_runs_out() {
    let recorder = Recorder::new(&["br-stuck"]);
    assert!(stuck(Act::Fail).await.is_err());
    advance(secs(10)).await;
    assert_eq!(state("br-stuck"), CircuitState::HalfOpen);

    // The wait counts from the turn to HALF_OPEN, not from the probe's start.
    advance(secs(2)).await;
    let probe = tokio::spawn(stuck(Act::Hang));
    until(|| STUCK_RUNS.load(SeqCst) == 2).await;
    assert_eq!(open_circuit(stuck(Act::Succeed).await), None);
    advance(secs(3) - MS).await;
    assert_eq!(state("br-stuck"), CircuitState::HalfOpen);
    advance(MS).await;
    assert_eq!(state("br-stuck"), CircuitState::Open);
    // A failed round: the open time doubles.
    assert_eq!(open_circuit(stuck(Act::Succeed).await), Some(secs(20)));

    probe.abort();
    assert!(probe.await.unwrap_err().is_cancelled());
    assert_eq!(open_circuit(stuck(Act::Succeed).await), Some(secs(20)));
    advance(secs(20)).await;
    assert!(stuck(Act::Succeed).await.is_ok());
    assert_eq!(state("br-stuck"), CircuitState::Closed);
    assert_eq!(STUCK_RUNS.load(SeqCst), 3, "a rejected call ran the body");
    assert_eq!(
        transitions(&recorder),
        [
            "br-stuck CLOSED -> OPEN",
            "br-stuck OPEN -> HALF_OPEN",
            "br-stuck HALF_OPEN -> OPEN",
            "br-stuck OPEN -> HALF_OPEN",
            "br-stuck HALF_OPEN -> CLOSED",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn runtime_a_stuck_half_open_reopens_on_the_next_call_and_each_timeout_is_a_failed_round() {
    let config = CircuitBreakerConfig::default()
        .failure_threshold(1)
        .recovery_timeout(secs(10))
        .recovery_backoff(2.0)
        .max_recovery_timeout(secs(30))
        .half_open_max_wait(secs(5));
    let breaker = CircuitBreaker::new("br-stuck-api", config).unwrap();
    breaker.try_acquire().unwrap().failure();
    advance(secs(10)).await;

    // No state read in between: the calls themselves move the circuit.
    let first = breaker.try_acquire().unwrap();
    advance(secs(5) - MS).await;
    assert_eq!(refused(breaker.try_acquire()), None, "the slot is taken");
    advance(MS).await;
    assert_eq!(refused(breaker.try_acquire()), Some(secs(20)));
    advance(secs(20)).await;
    let second = breaker.try_acquire().unwrap();
    advance(secs(5)).await;
    assert_eq!(
        refused(breaker.try_acquire()),
        Some(secs(30)),
        "40s, capped"
    );
    drop((first, second));

    assert_eq!(breaker.state(), CircuitState::Open);
    advance(secs(30)).await;
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker.try_acquire().unwrap().failure();
    assert_eq!(refused(breaker.try_acquire()), Some(secs(10)));
}

#[tokio::test(start_paused = true)]
async fn runtime_probes_that_finish_after_their_half_open_state_ended_change_nothing() {
    let config = CircuitBreakerConfig::default()
        .failure_threshold(1)
        .recovery_timeout(secs(10))
        .recovery_backoff(2.0)
        .half_open_max_calls(2)
        .half_open_max_wait(secs(5));
    let breaker = CircuitBreaker::new("br-late-probe-api", config).unwrap();
    breaker.try_acquire().unwrap().failure();
    advance(secs(10)).await;
    let stale_failure = breaker.try_acquire().unwrap();
    let stale_success = breaker.try_acquire().unwrap();
    advance(secs(5)).await;
    assert_eq!(breaker.state(), CircuitState::Open);

    advance(secs(20)).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    stale_failure.failure();
    assert_eq!(
        breaker.state(),
        CircuitState::HalfOpen,
        "a stale probe reopened it"
    );
    stale_success.success();

    // Both slots are the new round's, and it takes two new successes to close.
    let first = breaker.try_acquire().unwrap();
    let second = breaker.try_acquire().unwrap();
    assert_eq!(refused(breaker.try_acquire()), None);
    first.success();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    second.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

static LATE_PROBE_RUNS: AtomicU32 = AtomicU32::new(0);

/// Ends with `act` once `release` fires, if given.
#[circuit_breaker(
    name = "br-late-probe",
    failure_threshold = 1,
    recovery_timeout = "10s",
    half_open_max_wait = "5s"
)]
async fn late_probe(release: Option<oneshot::Receiver<()>>, act: Act) -> Result<(), AppError> {
    LATE_PROBE_RUNS.fetch_add(1, SeqCst);
    if let Some(release) = release {
        release.await.unwrap();
    }
    act.run().await
}

#[tokio::test(start_paused = true)]
async fn attribute_a_probe_failing_after_its_half_open_state_ended_does_not_reopen_the_next_one() {
    assert!(late_probe(None, Act::Fail).await.is_err());
    advance(secs(10)).await;
    let (release, rx) = oneshot::channel();
    let stale = tokio::spawn(late_probe(Some(rx), Act::Fail));
    until(|| LATE_PROBE_RUNS.load(SeqCst) == 2).await;
    advance(secs(5)).await;
    assert_eq!(state("br-late-probe"), CircuitState::Open);
    advance(secs(10)).await;
    assert_eq!(state("br-late-probe"), CircuitState::HalfOpen);

    release.send(()).unwrap();
    assert!(matches!(stale.await.unwrap(), Err(AppError::Transient)));
    assert_eq!(state("br-late-probe"), CircuitState::HalfOpen);
    // The new round's one slot is free, and its probe closes the circuit.
    assert!(late_probe(None, Act::Succeed).await.is_ok());
    assert_eq!(state("br-late-probe"), CircuitState::Closed);
}
