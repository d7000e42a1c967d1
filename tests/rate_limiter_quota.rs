//! `refill_rate = 0.0`: a fixed quota of `max_tokens` calls that never
//! refills, in the attribute, the runtime API and the configuration file.

mod common;

use std::time::Duration;

use common::AppError;
use resilience_runtime::config::Config;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::{rate_limiter, registry, Error, RateLimiter};
use tokio::time::{advance, Instant};

fn retry_after(result: Result<(), AppError>) -> Duration {
    match result {
        Err(AppError::Resilience(Error::RateLimited { retry_after, .. })) => retry_after,
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[rate_limiter(name = "quota-sync", max_tokens = 3, refill_rate = 0.0)]
fn sync_quota() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_fixed_quota_admits_max_tokens_calls_then_never_again() {
    for _ in 0..3 {
        sync_quota().unwrap();
    }
    assert_eq!(retry_after(sync_quota()), Duration::MAX);
    advance(Duration::from_secs(24 * 3600)).await;
    assert_eq!(retry_after(sync_quota()), Duration::MAX, "a day later");
    let limiter = registry().rate_limiter("quota-sync");
    assert_eq!(limiter.available_tokens(), 0.0);
    let metrics = limiter.metrics();
    assert_eq!((metrics.permitted_calls, metrics.rejected_calls), (3, 2));
}

#[rate_limiter(
    name = "quota-wait",
    max_tokens = 1,
    refill_rate = 0.0,
    max_wait = "10s"
)]
async fn waiting_quota() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_used_up_quota_rejects_at_once_even_with_max_wait() {
    waiting_quota().await.unwrap();
    let start = Instant::now();
    let error = waiting_quota().await.unwrap_err();
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no wait for a token that never comes"
    );
    assert_eq!(
        error.to_string(),
        "rate limiter `quota-wait` is exhausted; its fixed quota is used up"
    );
    assert_eq!(
        registry()
            .rate_limiter("quota-wait")
            .metrics()
            .waiting_calls,
        0
    );
}

#[tokio::test(start_paused = true)]
async fn reconfiguring_between_a_quota_and_a_rate_keeps_the_tokens() {
    let quota = RateLimiterConfig::default().max_tokens(4).refill_rate(0.0);
    let limiter = RateLimiter::new("quota-reload", quota.clone()).unwrap();
    limiter.try_acquire().unwrap();
    limiter.try_acquire().unwrap();
    assert_eq!(limiter.available_tokens(), 2.0);

    // One token a second from now on: the two left stay, and it refills.
    limiter.reconfigure(quota.clone().refill_rate(1.0)).unwrap();
    assert_eq!(limiter.available_tokens(), 2.0);
    advance(Duration::from_secs(1)).await;
    assert_eq!(limiter.available_tokens(), 3.0);

    // Back to a quota: the three there are the last ones.
    limiter.reconfigure(quota).unwrap();
    advance(Duration::from_secs(60)).await;
    assert_eq!(limiter.available_tokens(), 3.0);
    for _ in 0..3 {
        limiter.try_acquire().unwrap();
    }
    assert!(matches!(
        limiter.try_acquire(),
        Err(Error::RateLimited {
            retry_after: Duration::MAX,
            ..
        })
    ));
}

#[test]
fn a_configuration_file_sets_a_fixed_quota() {
    let config =
        Config::from_toml_str("[rate_limiter.quota-file]\nmax_tokens = 2\nrefill_rate = 0\n")
            .unwrap();
    registry().apply(&config).unwrap();
    let limiter = registry().rate_limiter("quota-file");
    assert_eq!(limiter.config().refill_rate, 0.0);
    limiter.try_acquire().unwrap();
    limiter.try_acquire().unwrap();
    assert!(limiter.try_acquire().is_err());
}

static QUOTA_ATTEMPTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[resilience_runtime::retry(max_attempts = 5, delay = "1s")]
#[rate_limiter(name = "quota-retried", max_tokens = 1, refill_rate = 0.0)]
async fn retried_quota() -> Result<(), AppError> {
    QUOTA_ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_retry_above_a_used_up_quota_stops_instead_of_waiting_for_a_token() {
    retried_quota().await.unwrap();
    let start = Instant::now();
    let result = retried_quota().await;
    assert_eq!(retry_after(result), Duration::MAX);
    assert_eq!(start.elapsed(), Duration::ZERO, "no retry was scheduled");
    assert_eq!(QUOTA_ATTEMPTS.load(std::sync::atomic::Ordering::SeqCst), 1);
    let limiter = registry().rate_limiter("quota-retried");
    assert_eq!(
        limiter.metrics().rejected_calls,
        1,
        "one attempt, refused once"
    );
}
