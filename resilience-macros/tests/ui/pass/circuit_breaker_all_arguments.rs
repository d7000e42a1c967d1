use std::time::Duration;

use resilience_runtime::circuit_breaker;

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

// Every argument added with the time window and slow calls, given together.
#[circuit_breaker(
    failure_rate_threshold = 0.5,
    window_duration = "60s",
    minimum_calls = 20,
    slow_call_duration = "2s",
    slow_call_rate_threshold = 0.8,
    recovery_timeout = "10s",
    recovery_backoff = 2.0,
    max_recovery_timeout = "5m",
    half_open_max_wait = "30s"
)]
fn fetch() -> Result<u32, FetchError> {
    Ok(1)
}

// A count window with `minimum_calls`, and durations given as expressions: a
// `max_recovery_timeout` below the default `recovery_timeout` is fine when
// `recovery_timeout` is an expression, known only at run time.
#[circuit_breaker(
    failure_rate_threshold = 0.5,
    window_size = 20,
    minimum_calls = 20,
    slow_call_duration = Duration::from_millis(1500),
    slow_call_rate_threshold = 1,
    recovery_timeout = Duration::from_secs(5),
    recovery_backoff = 1,
    max_recovery_timeout = "10s",
    half_open_max_wait = Duration::from_secs(1)
)]
fn fetch_counted() -> Result<u32, FetchError> {
    Ok(2)
}

#[circuit_breaker(
    window_duration = "1m",
    minimum_calls = 5,
    slow_call_duration = "500ms",
    slow_call_rate_threshold = 0.5,
    recovery_backoff = 1.5,
    max_recovery_timeout = "2m",
    half_open_max_wait = "5s"
)]
async fn fetch_async() -> Result<u32, FetchError> {
    Ok(3)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(fetch().unwrap(), 1);
    assert_eq!(fetch_counted().unwrap(), 2);
    assert_eq!(fetch_async().await.unwrap(), 3);
}
