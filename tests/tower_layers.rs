//! Each layer's behaviour, and `ServiceBuilder` order read as the
//! attributes' written order.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use resilience_runtime::bulkhead::BulkheadConfig;
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::retry::RetryConfig;
use resilience_runtime::time_limiter::TimeLimiterConfig;
use resilience_runtime::tower::{
    BoxError, BulkheadLayer, CircuitBreakerLayer, FallbackLayer, RateLimiterLayer, RetryLayer,
    TimeLimiterLayer,
};
use resilience_runtime::{circuit_breaker, registry, retry, Error};
use tokio::time::Instant;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

#[derive(Debug, thiserror::Error)]
#[error("downstream failed")]
struct Downstream;

/// A service failing with [`Downstream`] until its `succeed_from`th call,
/// counting its calls.
fn flaky(
    succeed_from: u32,
) -> (
    impl Service<u32, Response = u32, Error = Downstream, Future: Send> + Clone,
    Arc<AtomicU32>,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let service = service_fn(move |n: u32| {
        let call = counted.fetch_add(1, Ordering::Relaxed) + 1;
        async move {
            if call >= succeed_from {
                Ok(n)
            } else {
                Err(Downstream)
            }
        }
    });
    (service, calls)
}

fn refusal(error: &BoxError) -> Option<&Error> {
    error.downcast_ref::<Error>()
}

#[tokio::test(start_paused = true)]
async fn a_rate_limiter_refuses_with_its_retry_after() {
    let config = RateLimiterConfig::default().max_tokens(1).refill_rate(2.0);
    let layer = RateLimiterLayer::from_config("tower-rate", config).unwrap();
    let limiter = layer.rate_limiter().clone();
    let (inner, calls) = flaky(0);
    let service = ServiceBuilder::new().layer(layer).service(inner);

    assert_eq!(service.clone().oneshot(1).await.unwrap(), 1);
    let error = service.clone().oneshot(2).await.unwrap_err();
    match refusal(&error) {
        Some(Error::RateLimited { retry_after, .. }) => {
            assert!(
                *retry_after > Duration::from_millis(490)
                    && *retry_after <= Duration::from_millis(500)
            )
        }
        other => panic!("expected a rate limiter's refusal, got {other:?}"),
    }
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "a refused call never reaches the service"
    );
    assert_eq!(limiter.rejected_calls(), 1);

    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(service.oneshot(3).await.unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limiter_with_max_wait_holds_poll_ready_until_the_token() {
    let config = RateLimiterConfig::default()
        .max_tokens(1)
        .refill_rate(10.0)
        .max_wait(Duration::from_millis(150));
    let (inner, _) = flaky(0);
    let service = ServiceBuilder::new()
        .layer(RateLimiterLayer::from_config("tower-rate-wait", config).unwrap())
        .service(inner);

    let started = Instant::now();
    for n in 0..3 {
        assert_eq!(service.clone().oneshot(n).await.unwrap(), n);
    }
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(200),
        "two waits of 100ms"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_retries_then_returns_the_last_error() {
    let config = RetryConfig::default()
        .max_attempts(3)
        .delay(Duration::from_millis(10));
    let layer = RetryLayer::from_config("tower-retry", config).unwrap();
    let retry = layer.retry().clone();
    let (inner, calls) = flaky(u32::MAX);
    let service = ServiceBuilder::new().layer(layer).service(inner);

    let started = Instant::now();
    let error = service.oneshot(1).await.unwrap_err();
    assert!(error.is::<Downstream>(), "the service's own error, boxed");
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(started.elapsed(), Duration::from_millis(20));
    assert_eq!(retry.exhausted(), 1);

    let (inner, calls) = flaky(2);
    let service = ServiceBuilder::new()
        .layer(RetryLayer::new(retry.clone()))
        .service(inner);
    assert_eq!(service.oneshot(5).await.unwrap(), 5);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(retry.metrics().successful_calls_with_retry, 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_retries_only_what_on_chooses_and_waits_a_refusals_retry_after() {
    let (inner, calls) = flaky(u32::MAX);
    let service = ServiceBuilder::new()
        .layer(
            RetryLayer::from_config("tower-retry-on", RetryConfig::default().max_attempts(3))
                .unwrap()
                .on(|error: &BoxError| !error.is::<Downstream>()),
        )
        .service(inner);
    assert!(service.oneshot(1).await.unwrap_err().is::<Downstream>());
    assert_eq!(calls.load(Ordering::Relaxed), 1);

    // A rate limiter inside: its refusal is retried after its retry_after.
    let limit = RateLimiterConfig::default().max_tokens(1).refill_rate(4.0);
    let (inner, calls) = flaky(0);
    let service = ServiceBuilder::new()
        .layer(
            RetryLayer::from_config("tower-retry-hint", RetryConfig::default().max_attempts(2))
                .unwrap(),
        )
        .layer(RateLimiterLayer::from_config("tower-retry-hint", limit).unwrap())
        .service(inner);
    assert_eq!(service.clone().oneshot(1).await.unwrap(), 1);
    let started = Instant::now();
    assert_eq!(service.oneshot(2).await.unwrap(), 2);
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn a_time_limiter_times_out_on_tokios_clock() {
    let config = TimeLimiterConfig::default().timeout(Duration::from_millis(100));
    let layer = TimeLimiterLayer::from_config("tower-timeout", config).unwrap();
    let limiter = layer.time_limiter().clone();
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|wait: u64| async move {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            Ok::<_, BoxError>(wait)
        }));

    assert_eq!(service.clone().oneshot(50).await.unwrap(), 50);
    let started = Instant::now();
    let error = service.oneshot(500).await.unwrap_err();
    assert!(
        matches!(refusal(&error), Some(Error::Timeout { timeout, .. }) if *timeout == Duration::from_millis(100))
    );
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    let metrics = limiter.metrics();
    assert_eq!((metrics.successful_calls, metrics.timeout_calls), (1, 1));
}

#[tokio::test]
async fn a_fallback_answers_what_it_chooses() {
    let bulkhead = BulkheadLayer::from_config(
        "tower-fallback",
        BulkheadConfig::default().max_concurrent(1),
    )
    .unwrap();
    let (inner, _) = flaky(u32::MAX);
    let service = ServiceBuilder::new()
        .layer(FallbackLayer::new(|error: BoxError| {
            match error.downcast_ref::<Error>() {
                Some(Error::BulkheadFull { .. }) => Ok(0),
                _ => Err(error),
            }
        }))
        .layer(bulkhead)
        .service(inner);

    let mut holder = service.clone();
    holder.ready().await.unwrap();
    assert_eq!(
        service.clone().oneshot(1).await.unwrap(),
        0,
        "the refusal answered"
    );
    drop(holder);
    assert!(
        service.oneshot(1).await.unwrap_err().is::<Downstream>(),
        "the service's error kept"
    );
}

#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error("downstream failed")]
    Downstream,
    #[error(transparent)]
    Resilience(#[from] Error),
}

#[retry(max_attempts = 3)]
#[circuit_breaker(name = "tower-order-attr-retry-outside", failure_threshold = 100)]
async fn retry_outside() -> Result<u32, AppError> {
    Err(AppError::Downstream)
}

#[circuit_breaker(name = "tower-order-attr-breaker-outside", failure_threshold = 100)]
#[retry(max_attempts = 3)]
async fn breaker_outside() -> Result<u32, AppError> {
    Err(AppError::Downstream)
}

#[tokio::test]
async fn service_builder_order_is_the_attributes_written_order() {
    let breaker = |name: &'static str| {
        CircuitBreakerLayer::from_config(
            name,
            CircuitBreakerConfig::default().failure_threshold(100),
        )
        .unwrap()
    };
    let retry =
        || RetryLayer::from_config("tower-order", RetryConfig::default().max_attempts(3)).unwrap();

    let outside = breaker("tower-order-retry-outside");
    let counted = outside.breaker().clone();
    let (inner, _) = flaky(u32::MAX);
    let service = ServiceBuilder::new()
        .layer(retry())
        .layer(outside)
        .service(inner);
    let _ = service.oneshot(1).await;
    let _ = retry_outside().await;
    assert_eq!(
        counted.metrics().failed_calls,
        3,
        "the breaker inside sees every attempt"
    );
    assert_eq!(
        registry()
            .circuit_breaker("tower-order-attr-retry-outside")
            .metrics()
            .failed_calls,
        3
    );

    let outside = breaker("tower-order-breaker-outside");
    let counted = outside.breaker().clone();
    let (inner, _) = flaky(u32::MAX);
    let service = ServiceBuilder::new()
        .layer(outside)
        .layer(retry())
        .service(inner);
    let _ = service.oneshot(1).await;
    let _ = breaker_outside().await;
    assert_eq!(
        counted.metrics().failed_calls,
        1,
        "the breaker outside sees one call"
    );
    assert_eq!(
        registry()
            .circuit_breaker("tower-order-attr-breaker-outside")
            .metrics()
            .failed_calls,
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_breaker_counts_an_inner_timeout_but_not_an_inner_refusal() {
    let breaker =
        CircuitBreakerLayer::from_config("tower-judge", CircuitBreakerConfig::default()).unwrap();
    let counted = breaker.breaker().clone();
    let slow = service_fn(|()| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, BoxError>(())
    });
    let service = ServiceBuilder::new()
        .layer(breaker.clone())
        .layer(
            TimeLimiterLayer::from_config(
                "tower-judge",
                TimeLimiterConfig::default().timeout(Duration::from_millis(10)),
            )
            .unwrap(),
        )
        .service(slow);
    let _ = service.oneshot(()).await.unwrap_err();
    assert_eq!(
        counted.metrics().failed_calls,
        1,
        "a timeout is the call's failure"
    );

    let bulkhead =
        BulkheadLayer::from_config("tower-judge", BulkheadConfig::default().max_concurrent(1))
            .unwrap();
    let (inner, _) = flaky(0);
    let service = ServiceBuilder::new()
        .layer(breaker)
        .layer(bulkhead)
        .service(inner);
    let mut holder = service.clone();
    holder.ready().await.unwrap();
    let error = service.clone().oneshot(1).await.unwrap_err();
    assert!(matches!(refusal(&error), Some(Error::BulkheadFull { .. })));
    let metrics = counted.metrics();
    assert_eq!(
        (metrics.failed_calls, metrics.successful_calls),
        (1, 0),
        "a refusal counts neither way"
    );
}

#[tokio::test]
async fn a_breaker_counts_only_what_on_chooses() {
    let layer = CircuitBreakerLayer::from_config("tower-on", CircuitBreakerConfig::default())
        .unwrap()
        .on(|error: &BoxError| !error.is::<Downstream>());
    let counted = layer.breaker().clone();
    let (inner, _) = flaky(u32::MAX);
    let service = ServiceBuilder::new().layer(layer).service(inner);
    let _ = service.oneshot(1).await;
    assert_eq!(counted.metrics().failed_calls, 0);
}
