//! `#[time_limiter]`: a late body's future is dropped and `Timeout` returned;
//! fast and immediately ready bodies pass; durations as expressions; counters.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{AppError, Recorder};
use resilience_runtime::{registry, time_limiter, Error};
use tokio::time::{sleep, Instant};

/// Sets its flag when dropped.
struct DropFlag<'a>(&'a AtomicBool);

impl Drop for DropFlag<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The name and timeout of a `Timeout` rejection; panics on anything else.
fn timeout_of<T: std::fmt::Debug>(result: Result<T, AppError>) -> (String, Duration) {
    match result {
        Err(AppError::Resilience(Error::Timeout { name, timeout, .. })) => {
            (name.to_string(), timeout)
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[time_limiter(timeout = "100ms")]
async fn slow_with_guard(dropped: &AtomicBool, finished: &AtomicBool) -> Result<(), AppError> {
    let _guard = DropFlag(dropped);
    sleep(Duration::from_secs(10)).await;
    finished.store(true, Ordering::SeqCst);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn on_timeout_the_body_future_is_dropped_and_timeout_returned() {
    let (dropped, finished) = (AtomicBool::new(false), AtomicBool::new(false));
    let start = Instant::now();
    let result = slow_with_guard(&dropped, &finished).await;
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(
        timeout_of(result),
        ("slow_with_guard".to_string(), Duration::from_millis(100))
    );
    assert!(dropped.load(Ordering::SeqCst));
    assert!(!finished.load(Ordering::SeqCst));
}

#[time_limiter(timeout = "100ms")]
async fn fast() -> Result<u32, AppError> {
    sleep(Duration::from_millis(99)).await;
    Ok(7)
}

#[tokio::test(start_paused = true)]
async fn a_body_within_the_timeout_passes() {
    let start = Instant::now();
    assert_eq!(fast().await.unwrap(), 7);
    assert_eq!(start.elapsed(), Duration::from_millis(99));
}

#[time_limiter(timeout = "1ns")]
async fn ready_at_once() -> Result<u32, AppError> {
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn a_body_ready_at_once_passes_even_with_a_tiny_timeout() {
    assert_eq!(ready_at_once().await.unwrap(), 1);
}

const LIMIT: Duration = Duration::from_millis(250);

#[time_limiter(timeout = LIMIT * 2)]
async fn expression_timeout() -> Result<(), AppError> {
    sleep(Duration::from_secs(1)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_timeout_can_be_a_duration_expression() {
    let start = Instant::now();
    let (_, timeout) = timeout_of(expression_timeout().await);
    assert_eq!(timeout, Duration::from_millis(500));
    assert_eq!(start.elapsed(), Duration::from_millis(500));
}

#[time_limiter(name = "time_limiter-counted", timeout = "50ms")]
async fn counted(work: Duration) -> Result<(), AppError> {
    sleep(work).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_named_time_limiter_counts_timeouts_and_reports_them() {
    let recorder = Recorder::new(&["time_limiter-counted"]);
    assert!(counted(Duration::from_millis(10)).await.is_ok());
    let (name, _) = timeout_of(counted(Duration::from_secs(1)).await);
    assert_eq!(name, "time_limiter-counted");
    assert_eq!(
        registry().time_limiter("time_limiter-counted").timeouts(),
        1
    );
    assert_eq!(
        recorder.lines(),
        ["timeout time_limiter-counted after 50ms"]
    );
}
