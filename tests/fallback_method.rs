//! `#[fallback(method = ...)]` on an async function takes a sync method as
//! well as an async one (PyFly awaits the fallback's result when it is
//! awaitable); both get the arguments and the error, and may fail in turn.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::AppError;
use resilience_runtime::{fallback, registry, Event, FallbackSource};
use tokio::time::Instant;

fn cached_price(id: u32, error: AppError) -> Result<String, AppError> {
    Ok(format!("cached {id} after {error}"))
}

#[fallback(method = cached_price)]
async fn price_with_sync_method(id: u32) -> Result<String, AppError> {
    tokio::task::yield_now().await;
    match id {
        0 => Err(AppError::Transient),
        _ => Ok(format!("fresh {id}")),
    }
}

#[tokio::test]
async fn an_async_function_takes_a_sync_method() {
    assert_eq!(price_with_sync_method(3).await.unwrap(), "fresh 3");
    assert_eq!(
        price_with_sync_method(0).await.unwrap(),
        "cached 0 after transient failure"
    );
}

async fn slow_cached_price(id: u32, error: AppError) -> Result<String, AppError> {
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(format!("slowly cached {id} after {error}"))
}

#[fallback(method = slow_cached_price)]
async fn price_with_async_method(id: u32) -> Result<String, AppError> {
    let _ = id;
    Err(AppError::Permanent)
}

#[tokio::test(start_paused = true)]
async fn an_async_function_awaits_an_async_method() {
    let started = Instant::now();
    assert_eq!(
        price_with_async_method(4).await.unwrap(),
        "slowly cached 4 after permanent failure"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

fn failing_sync(_id: u32, _error: AppError) -> Result<String, AppError> {
    Err(AppError::Permanent)
}

#[fallback(method = failing_sync)]
async fn method_that_fails(id: u32) -> Result<String, AppError> {
    let _ = id;
    Err(AppError::Transient)
}

#[tokio::test]
async fn a_sync_methods_error_is_the_result() {
    assert!(matches!(
        method_that_fails(1).await,
        Err(AppError::Permanent)
    ));
}

struct Catalog {
    currency: &'static str,
}

impl Catalog {
    #[fallback(method = Self::list_price)]
    async fn price(&self, id: u32) -> Result<String, AppError> {
        tokio::task::yield_now().await;
        let _ = id;
        Err(AppError::Transient)
    }

    fn list_price(&self, id: u32, _error: AppError) -> Result<String, AppError> {
        Ok(format!("{id}: 10 {}", self.currency))
    }

    #[fallback(method = Self::list_price_async)]
    async fn price_async(&self, id: u32) -> Result<String, AppError> {
        let _ = id;
        Err(AppError::Transient)
    }

    async fn list_price_async(&self, id: u32, _error: AppError) -> Result<String, AppError> {
        tokio::task::yield_now().await;
        Ok(format!("{id}: 12 {}", self.currency))
    }
}

#[tokio::test]
async fn an_async_method_takes_a_sync_or_async_self_method() {
    let catalog = Catalog { currency: "EUR" };
    assert_eq!(catalog.price(7).await.unwrap(), "7: 10 EUR");
    assert_eq!(catalog.price_async(8).await.unwrap(), "8: 12 EUR");
}

fn sync_answer(_error: AppError) -> Result<u32, AppError> {
    Ok(1)
}

async fn async_answer(_error: AppError) -> Result<u32, AppError> {
    Ok(2)
}

#[fallback(method = sync_answer)]
async fn answered_by_sync_method() -> Result<u32, AppError> {
    Err(AppError::Transient)
}

#[fallback(method = async_answer)]
async fn answered_by_async_method() -> Result<u32, AppError> {
    Err(AppError::Transient)
}

#[tokio::test]
async fn either_kind_of_method_is_reported_as_the_method_answering() {
    let sources = Arc::new(Mutex::new(Vec::new()));
    let sink = sources.clone();
    let listener = registry().on_event(move |event| {
        if let Event::FallbackUsed { name, source, .. } = event {
            if name.starts_with("answered_by_") {
                sink.lock().unwrap().push((name.to_string(), *source));
            }
        }
    });
    assert_eq!(answered_by_sync_method().await.unwrap(), 1);
    assert_eq!(answered_by_async_method().await.unwrap(), 2);
    registry().remove_listener(listener);
    assert_eq!(
        *sources.lock().unwrap(),
        [
            (
                "answered_by_sync_method".to_string(),
                FallbackSource::Method
            ),
            (
                "answered_by_async_method".to_string(),
                FallbackSource::Method
            ),
        ]
    );
    for name in ["answered_by_sync_method", "answered_by_async_method"] {
        let metrics = registry()
            .fallbacks()
            .into_iter()
            .find(|fallback| fallback.name == name)
            .unwrap();
        assert_eq!(
            (
                metrics.method_calls,
                metrics.error_calls,
                metrics.cache_hits
            ),
            (1, 1, 0),
            "{name}"
        );
        assert_eq!(metrics.sites[0].cache, None);
    }
}
