//! `#[fallback]`: what the method receives, `value`, the `on` filter, methods
//! and async methods, and the rejections of the policies below it.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{AppError, Recorder};
use resilience_runtime::{bulkhead, circuit_breaker, rate_limiter, time_limiter};
use resilience_runtime::{fallback, Error};

/// Which error a fallback method received.
fn describe(error: &AppError) -> &'static str {
    match error {
        AppError::Transient => "Transient",
        AppError::Permanent => "Permanent",
        AppError::Resilience(Error::CircuitOpen { .. }) => "CircuitOpen",
        AppError::Resilience(Error::BulkheadFull { .. }) => "BulkheadFull",
        AppError::Resilience(Error::RateLimited { .. }) => "RateLimited",
        AppError::Resilience(Error::Timeout { .. }) => "Timeout",
        AppError::Resilience(other) => panic!("unexpected rejection {other:?}"),
    }
}

fn from_arguments(id: u32, label: &str, error: AppError) -> Result<String, AppError> {
    Ok(format!("{id} {label} {}", describe(&error)))
}

#[fallback(method = from_arguments)]
fn with_arguments(id: u32, label: &str) -> Result<String, AppError> {
    match id {
        0 => Err(AppError::Transient),
        _ => Ok(format!("fresh {label}")),
    }
}

#[test]
fn the_method_gets_the_same_arguments_then_the_error() {
    assert_eq!(with_arguments(1, "a").unwrap(), "fresh a");
    assert_eq!(with_arguments(0, "b").unwrap(), "0 b Transient");
}

#[fallback(value = vec![0, 0])]
fn with_value(fail: bool) -> Result<Vec<u32>, AppError> {
    match fail {
        true => Err(AppError::Permanent),
        false => Ok(vec![1, 2]),
    }
}

#[test]
fn value_is_returned_as_ok() {
    assert_eq!(with_value(false).unwrap(), [1, 2]);
    assert_eq!(with_value(true).unwrap(), [0, 0]);
}

fn transient_only(_transient: bool, error: AppError) -> Result<&'static str, AppError> {
    Ok(describe(&error))
}

#[fallback(method = transient_only, on = AppError::is_transient)]
#[rate_limiter(max_tokens = 2, refill_rate = 0.001)]
fn filtered(transient: bool) -> Result<&'static str, AppError> {
    match transient {
        true => Err(AppError::Transient),
        false => Err(AppError::Permanent),
    }
}

#[test]
fn an_error_on_rejects_comes_back_unchanged() {
    assert_eq!(filtered(true).unwrap(), "Transient");
    assert!(matches!(filtered(false), Err(AppError::Permanent)));
    assert!(matches!(
        filtered(true),
        Err(AppError::Resilience(Error::RateLimited { .. }))
    ));
}

struct Catalog {
    prefix: &'static str,
}

impl Catalog {
    #[fallback(method = Self::cached)]
    fn price(&self, id: u32) -> Result<String, AppError> {
        let _ = id;
        Err(AppError::Transient)
    }

    fn cached(&self, id: u32, error: AppError) -> Result<String, AppError> {
        Ok(format!("{}{id} {}", self.prefix, describe(&error)))
    }

    #[fallback(method = Self::cached_async)]
    async fn price_async(&self, id: u32) -> Result<String, AppError> {
        tokio::task::yield_now().await;
        let _ = id;
        Err(AppError::Permanent)
    }

    async fn cached_async(&self, id: u32, error: AppError) -> Result<String, AppError> {
        tokio::task::yield_now().await;
        Ok(format!("{}{id} {} async", self.prefix, describe(&error)))
    }
}

#[tokio::test]
async fn methods_take_self_methods_and_async_ones_on_async_fns() {
    let catalog = Catalog { prefix: "cached-" };
    assert_eq!(catalog.price(3).unwrap(), "cached-3 Transient");
    assert_eq!(
        catalog.price_async(4).await.unwrap(),
        "cached-4 Permanent async"
    );
}

fn open_circuit(_runs: &AtomicU32, error: AppError) -> Result<&'static str, AppError> {
    Ok(describe(&error))
}

#[fallback(method = open_circuit)]
#[circuit_breaker(failure_threshold = 1, recovery_timeout = "1h")]
fn behind_breaker(runs: &AtomicU32) -> Result<&'static str, AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Err(AppError::Transient)
}

#[test]
fn over_an_open_breaker_the_fallback_answers_without_running_the_body() {
    let runs = AtomicU32::new(0);
    assert_eq!(behind_breaker(&runs).unwrap(), "Transient");
    assert_eq!(behind_breaker(&runs).unwrap(), "CircuitOpen");
    assert_eq!(behind_breaker(&runs).unwrap(), "CircuitOpen");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

fn rejected(_work: Duration, error: AppError) -> Result<&'static str, AppError> {
    Ok(describe(&error))
}

async fn rejected_async(work: Duration, error: AppError) -> Result<&'static str, AppError> {
    rejected(work, error)
}

#[fallback(method = rejected_async)]
#[bulkhead(max_concurrent = 1)]
async fn behind_bulkhead(work: Duration) -> Result<&'static str, AppError> {
    tokio::time::sleep(work).await;
    Ok("done")
}

#[tokio::test(start_paused = true)]
async fn the_fallback_catches_a_full_bulkhead() {
    let (first, second) = tokio::join!(behind_bulkhead(Duration::from_secs(1)), async {
        // Let the first call take the only slot.
        tokio::task::yield_now().await;
        behind_bulkhead(Duration::ZERO).await
    });
    assert_eq!(first.unwrap(), "done");
    assert_eq!(second.unwrap(), "BulkheadFull");
}

#[fallback(method = rejected)]
#[rate_limiter(max_tokens = 1, refill_rate = 0.001)]
fn behind_rate_limiter(_work: Duration) -> Result<&'static str, AppError> {
    Ok("done")
}

#[test]
fn the_fallback_catches_an_exhausted_rate_limiter() {
    assert_eq!(behind_rate_limiter(Duration::ZERO).unwrap(), "done");
    assert_eq!(behind_rate_limiter(Duration::ZERO).unwrap(), "RateLimited");
}

#[fallback(method = rejected_async)]
#[time_limiter(timeout = "10ms")]
async fn behind_time_limiter(work: Duration) -> Result<&'static str, AppError> {
    tokio::time::sleep(work).await;
    Ok("done")
}

#[tokio::test(start_paused = true)]
async fn the_fallback_catches_a_timeout() {
    assert_eq!(
        behind_time_limiter(Duration::from_millis(5)).await.unwrap(),
        "done"
    );
    assert_eq!(
        behind_time_limiter(Duration::from_secs(1)).await.unwrap(),
        "Timeout"
    );
}

#[fallback(value = "fallback")]
#[rate_limiter(max_tokens = 1, refill_rate = 0.001)]
fn fallback_reported() -> Result<&'static str, AppError> {
    Err(AppError::Transient)
}

#[test]
fn each_fallback_is_reported_saying_whether_a_rejection_caused_it() {
    let recorder = Recorder::new(&["fallback_reported"]);
    assert_eq!(fallback_reported().unwrap(), "fallback");
    assert_eq!(fallback_reported().unwrap(), "fallback");
    let fallbacks: Vec<String> = recorder
        .lines()
        .into_iter()
        .filter(|line| line.starts_with("fallback"))
        .collect();
    assert_eq!(
        fallbacks,
        [
            "fallback fallback_reported rejection=false",
            "fallback fallback_reported rejection=true",
        ]
    );
}
