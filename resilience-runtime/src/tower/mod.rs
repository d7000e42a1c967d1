//! Tower layers for the policies (feature `tower`): the same instances the
//! attributes drive, driven the same way, so that an attribute and a layer
//! built on one registry name share one breaker, one pool of slots, one
//! bucket.
//!
//! | layer | built from | the service needs |
//! |---|---|---|
//! | [`RetryLayer`] | a [`Retry`](crate::Retry) | `S: Clone`, `Request: Clone` |
//! | [`CircuitBreakerLayer`] | a [`CircuitBreaker`](crate::CircuitBreaker) | |
//! | [`BulkheadLayer`] | a [`Bulkhead`](crate::Bulkhead) | |
//! | [`RateLimiterLayer`] | a [`RateLimiter`](crate::RateLimiter) | |
//! | [`TimeLimiterLayer`] | a [`TimeLimiter`](crate::TimeLimiter) | |
//! | [`FallbackLayer`] | a closure from the error to an answer | |
//! | [`KeyedLayer`] | a keyed family and a key function of the request | `S: Clone` |
//!
//! Each policy layer has three constructors: `new(Arc<Policy>)`,
//! `named("name")` (the registry's instance, the one
//! `#[policy(name = "name")]` uses) and `from_config("name", config)` (an
//! instance of its own, as an attribute without `name` has).
//!
//! # Order
//!
//! `ServiceBuilder::new().layer(a).layer(b)` puts `a` outermost, as the
//! attributes written `#[a] #[b]` do; the rules between them are the
//! attributes': a circuit breaker counts an inner time limiter's timeout as
//! a failure but never an inner bulkhead's or rate limiter's refusal; a
//! retry retries refusals too, waiting at least their `retry_after`.
//!
//! # Errors
//!
//! Every service answers [`BoxError`], as tower's own middleware does: the
//! inner service's error converted with `Into<BoxError>`, or a policy's
//! refusal as a boxed [`Error`](crate::Error). Tell them apart by
//! downcasting:
//!
//! ```
//! # fn check(error: resilience_runtime::tower::BoxError) {
//! match error.downcast_ref::<resilience_runtime::Error>() {
//!     Some(refusal) => println!("refused by `{}`, retry after {:?}", refusal.name(), refusal.retry_after()),
//!     None => println!("the service failed: {error}"),
//! }
//! # }
//! ```
//!
//! With feature `axum`, [`axum::rejection_response`](crate::axum::rejection_response)
//! turns such an error into a 503, 429 or 504 with `Retry-After`.
//!
//! # Backpressure
//!
//! The bulkhead and the rate limiter admit a call in `poll_ready`, as
//! tower's `ConcurrencyLimit` and `RateLimit` do: a ready bulkhead service
//! holds its slot until `call` hands it to the response future, which gives
//! it back when it completes or is dropped; a clone starts without one.
//! `poll_ready` stays pending while it waits, up to the policy's
//! `max_wait`; when the policy refuses, it returns ready, and `call` answers
//! the refusal without calling the inner service (as `LoadShed` does), so a
//! refusal is an error the caller sees, never a service that stays unready.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use resilience_runtime::retry::RetryConfig;
//! use resilience_runtime::tower::{BoxError, CircuitBreakerLayer, RetryLayer};
//! use resilience_runtime::{circuit_breaker, CircuitState, Error};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! #[derive(Debug, thiserror::Error)]
//! enum StockError {
//!     #[error("inventory down")]
//!     Down,
//!     #[error(transparent)]
//!     Resilience(#[from] Error),
//! }
//!
//! // An annotated function and a layer sharing the breaker "docs-inventory".
//! #[circuit_breaker(name = "docs-inventory", failure_threshold = 2)]
//! async fn stock(_sku: u32) -> Result<u32, StockError> {
//!     Err(StockError::Down)
//! }
//!
//! // As `#[retry(on = ...)] #[circuit_breaker(name = "docs-inventory")]`:
//! // the retry outermost, retrying the service's errors but no refusal.
//! let retry = RetryLayer::from_config("docs-stock", RetryConfig::default().max_attempts(2))
//!     .unwrap()
//!     .on(|error: &BoxError| error.downcast_ref::<Error>().is_none());
//! let client = ServiceBuilder::new()
//!     .layer(retry)
//!     .layer(CircuitBreakerLayer::named("docs-inventory"))
//!     .service(service_fn(|sku: u32| async move { Ok::<_, BoxError>(sku * 10) }));
//! assert_eq!(client.clone().oneshot(1).await.unwrap(), 10);
//!
//! // The function trips the breaker; the client finds it open.
//! let _ = stock(1).await;
//! let _ = stock(1).await;
//! let error = client.oneshot(1).await.unwrap_err();
//! assert!(matches!(error.downcast_ref::<Error>(), Some(Error::CircuitOpen { .. })));
//! assert_eq!(resilience_runtime::registry().circuit_breaker("docs-inventory").state(), CircuitState::Open);
//! # }
//! ```

mod bulkhead;
mod circuit_breaker;
mod fallback;
mod keyed;
mod rate_limiter;
mod retry;
mod time_limiter;
mod unbound;

pub use bulkhead::{BulkheadFuture, BulkheadLayer, BulkheadService};
pub use circuit_breaker::{CircuitBreakerFuture, CircuitBreakerLayer, CircuitBreakerService};
pub use fallback::{FallbackFuture, FallbackLayer, FallbackService};
pub use keyed::{KeyedFuture, KeyedLayer, KeyedService};
pub use rate_limiter::{RateLimiterFuture, RateLimiterLayer, RateLimiterService};
pub use retry::{RetryFuture, RetryLayer, RetryService};
pub use time_limiter::{TimeLimiterFuture, TimeLimiterLayer, TimeLimiterService};

/// The error of every layer's service: tower's `BoxError`, the same type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The boxed refusal, if `error` is one of the policies'.
fn refusal(error: &BoxError) -> Option<&crate::Error> {
    error.downcast_ref::<crate::Error>()
}
