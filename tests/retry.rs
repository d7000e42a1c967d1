//! `#[retry]`: the backoff schedule on tokio's paused clock, jitter bounds,
//! which error comes back, the `on` filter, events and registry counters.

#[path = "common/attempts.rs"]
mod attempts;
mod common;

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use attempts::Attempts;
use common::{AppError, Recorder};
use resilience_runtime::{registry, retry};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Calls `f` `calls` times and returns, per call, the waits between its attempts.
async fn waits_of<F: AsyncFn(&Attempts) -> Result<(), AppError>>(
    calls: usize,
    f: F,
) -> Vec<Vec<Duration>> {
    let attempts = Attempts::default();
    let mut waits = Vec::new();
    for _ in 0..calls {
        assert!(f(&attempts).await.is_err());
        waits.push(attempts.take_gaps());
    }
    waits
}

#[retry(max_attempts = 6, delay = "10ms", backoff = 3.0, max_delay = "200ms")]
async fn backoff_capped(attempts: &Attempts) -> Result<(), AppError> {
    attempts.record();
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn waits_are_delay_times_backoff_to_the_n_capped_at_max_delay() {
    let attempts = Attempts::default();
    assert!(backoff_capped(&attempts).await.is_err());
    assert_eq!(
        attempts.take_gaps(),
        [ms(10), ms(30), ms(90), ms(200), ms(200)]
    );
}

// Bounds below are whole milliseconds, so tokio's 1 ms timer granularity
// cannot push a measured wait out of them.

#[retry(
    max_attempts = 4,
    delay = "100ms",
    backoff = 2.0,
    max_delay = "300ms",
    jitter = 0.2
)]
async fn fraction_jitter(attempts: &Attempts) -> Result<(), AppError> {
    attempts.record();
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn fraction_jitter_keeps_each_wait_within_20_percent_then_caps_it() {
    let waits = waits_of(30, fraction_jitter).await;
    for call in &waits {
        assert_eq!(call.len(), 3);
        assert!((ms(80)..=ms(120)).contains(&call[0]), "{call:?}");
        assert!((ms(160)..=ms(240)).contains(&call[1]), "{call:?}");
        // 400ms +- 20% is above the cap whichever way it moves.
        assert_eq!(call[2], ms(300));
    }
    let first: HashSet<_> = waits.iter().map(|call| call[0]).collect();
    assert!(first.len() > 3, "the waits do not vary: {first:?}");
}

#[retry(
    max_attempts = 4,
    delay = "100ms",
    backoff = 2.0,
    max_delay = "300ms",
    jitter = "full"
)]
async fn full_jitter(attempts: &Attempts) -> Result<(), AppError> {
    attempts.record();
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn full_jitter_waits_between_zero_and_the_capped_wait() {
    let waits = waits_of(30, full_jitter).await;
    for call in &waits {
        assert_eq!(call.len(), 3);
        for (wait, cap) in call.iter().zip([ms(100), ms(200), ms(300)]) {
            assert!(*wait <= cap, "{call:?}");
        }
    }
    // What tells full jitter from equal jitter: waits below half.
    assert!(waits.iter().any(|call| call[0] < ms(50)), "{waits:?}");
}

#[retry(
    max_attempts = 4,
    delay = "100ms",
    backoff = 2.0,
    max_delay = "300ms",
    jitter = "equal"
)]
async fn equal_jitter(attempts: &Attempts) -> Result<(), AppError> {
    attempts.record();
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn equal_jitter_waits_between_half_and_all_of_the_capped_wait() {
    let waits = waits_of(30, equal_jitter).await;
    for call in &waits {
        assert_eq!(call.len(), 3);
        for (wait, w) in call.iter().zip([ms(100), ms(200), ms(300)]) {
            assert!((w / 2..=w).contains(wait), "{call:?}");
        }
    }
    let first: HashSet<_> = waits.iter().map(|call| call[0]).collect();
    assert!(first.len() > 3, "the waits do not vary: {first:?}");
}

#[retry(
    max_attempts = 6,
    delay = "100ms",
    max_delay = "1s",
    jitter = "decorrelated"
)]
async fn decorrelated_jitter(attempts: &Attempts) -> Result<(), AppError> {
    attempts.record();
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn decorrelated_jitter_waits_between_delay_and_three_times_the_previous_wait() {
    let waits = waits_of(30, decorrelated_jitter).await;
    for call in &waits {
        assert_eq!(call.len(), 5);
        // The first "previous wait" is `delay`.
        let mut previous = ms(100);
        for wait in call {
            assert!(
                (ms(100)..=(previous * 3).min(ms(1000))).contains(wait),
                "{call:?}"
            );
            previous = *wait;
        }
    }
    assert!(
        waits.iter().flatten().any(|wait| *wait > ms(300)),
        "{waits:?}"
    );
}

#[retry(max_attempts = 3)]
async fn numbered_errors(calls: &AtomicU32) -> Result<(), u32> {
    Err(calls.fetch_add(1, Ordering::SeqCst) + 1)
}

#[tokio::test]
async fn after_max_attempts_the_last_error_is_returned() {
    let calls = AtomicU32::new(0);
    assert_eq!(numbered_errors(&calls).await, Err(3));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[retry(max_attempts = 5)]
async fn succeeds_on_third(calls: &AtomicU32) -> Result<u32, AppError> {
    match calls.fetch_add(1, Ordering::SeqCst) + 1 {
        3 => Ok(3),
        _ => Err(AppError::Transient),
    }
}

#[tokio::test]
async fn a_success_ends_the_retries() {
    let calls = AtomicU32::new(0);
    assert_eq!(succeeds_on_third(&calls).await.unwrap(), 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

/// Transient twice, then permanent.
#[retry(max_attempts = 5, on = AppError::is_transient)]
async fn turns_permanent(calls: &AtomicU32) -> Result<(), AppError> {
    match calls.fetch_add(1, Ordering::SeqCst) {
        0 | 1 => Err(AppError::Transient),
        _ => Err(AppError::Permanent),
    }
}

#[tokio::test]
async fn an_error_on_rejects_is_returned_at_once() {
    let calls = AtomicU32::new(0);
    assert!(matches!(
        turns_permanent(&calls).await,
        Err(AppError::Permanent)
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    let calls = AtomicU32::new(2);
    assert!(matches!(
        turns_permanent(&calls).await,
        Err(AppError::Permanent)
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "the body ran once");
}

#[retry(max_attempts = 1)]
async fn single_attempt(calls: &AtomicU32) -> Result<(), AppError> {
    calls.fetch_add(1, Ordering::SeqCst);
    Err(AppError::Transient)
}

#[tokio::test]
async fn max_attempts_1_means_no_retry() {
    let calls = AtomicU32::new(0);
    assert!(single_attempt(&calls).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[retry(max_attempts = 4)]
fn numbered_errors_sync(calls: &AtomicU32) -> Result<(), u32> {
    Err(calls.fetch_add(1, Ordering::SeqCst) + 1)
}

#[retry(max_attempts = 4)]
fn succeeds_on_second_sync(calls: &AtomicU32) -> Result<&'static str, u32> {
    match calls.fetch_add(1, Ordering::SeqCst) {
        0 => Err(1),
        _ => Ok("second"),
    }
}

#[retry(max_attempts = 4, on = AppError::is_transient)]
fn permanent_sync(calls: &AtomicU32) -> Result<(), AppError> {
    calls.fetch_add(1, Ordering::SeqCst);
    Err(AppError::Permanent)
}

#[retry(max_attempts = 1)]
fn single_attempt_sync(calls: &AtomicU32) -> Result<(), u32> {
    Err(calls.fetch_add(1, Ordering::SeqCst) + 1)
}

#[test]
fn sync_functions_retry_the_same_way() {
    let calls = AtomicU32::new(0);
    assert_eq!(numbered_errors_sync(&calls), Err(4));
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    let calls = AtomicU32::new(0);
    assert_eq!(succeeds_on_second_sync(&calls), Ok("second"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let calls = AtomicU32::new(0);
    assert!(matches!(permanent_sync(&calls), Err(AppError::Permanent)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let calls = AtomicU32::new(0);
    assert_eq!(single_attempt_sync(&calls), Err(1));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[retry(max_attempts = 3, delay = "10ms", backoff = 2.0)]
async fn retry_reported() -> Result<(), AppError> {
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn each_retry_and_the_exhaustion_are_reported_under_the_function_name() {
    let recorder = Recorder::new(&["retry_reported"]);
    assert!(retry_reported().await.is_err());
    assert_eq!(
        recorder.lines(),
        [
            "retry retry_reported after attempt 1 in 10ms",
            "retry retry_reported after attempt 2 in 20ms",
            "exhausted retry_reported after 3",
        ]
    );
}

// Two functions naming one retry share its counters.
#[retry(name = "retry-counted", max_attempts = 3)]
fn counted_always_fails() -> Result<(), AppError> {
    Err(AppError::Transient)
}

#[retry(name = "retry-counted", max_attempts = 3)]
fn counted_fails_once(calls: &AtomicU32) -> Result<(), AppError> {
    match calls.fetch_add(1, Ordering::SeqCst) {
        0 => Err(AppError::Transient),
        _ => Ok(()),
    }
}

#[test]
fn a_named_retry_counts_retries_and_exhaustions_in_the_registry() {
    assert!(counted_always_fails().is_err());
    assert!(counted_fails_once(&AtomicU32::new(0)).is_ok());
    let retry = registry().retry("retry-counted");
    assert_eq!(retry.retries(), 3);
    assert_eq!(retry.exhausted(), 1);
}

static ZERO_DELAY_RUNS: AtomicU32 = AtomicU32::new(0);

#[retry(max_attempts = 3)]
async fn zero_delay_twice_failing() -> Result<u32, AppError> {
    match ZERO_DELAY_RUNS.fetch_add(1, Ordering::SeqCst) {
        0 | 1 => Err(AppError::Transient),
        _ => Ok(3),
    }
}

#[test]
fn zero_delay_retries_never_wait_on_the_timer() {
    // A zero sleep would wait for tokio's next timer tick; polled with no
    // timer running, the call could then never finish.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _context = runtime.enter();
    let mut call = std::pin::pin!(zero_delay_twice_failing());
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match call.as_mut().poll(&mut context) {
        std::task::Poll::Ready(result) => assert_eq!(result.unwrap(), 3),
        std::task::Poll::Pending => panic!("the retry waited on the timer"),
    }
    assert_eq!(ZERO_DELAY_RUNS.load(Ordering::SeqCst), 3);
}
