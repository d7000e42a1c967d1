//! Retry, circuit breaker, bulkhead, rate limiter, time limiter, hedge and
//! fallback as attributes on ordinary sync and async functions, backed by
//! lock-free policies and a registry of named, shared instances.
//!
//! ```
//! use resilience_runtime::{circuit_breaker, fallback, retry};
//!
//! #[derive(Debug, thiserror::Error)]
//! enum FetchError {
//!     #[error("downstream failed")]
//!     Downstream,
//!     #[error(transparent)]
//!     Resilience(#[from] resilience_runtime::Error),
//! }
//!
//! fn cached(_id: u32, _error: FetchError) -> Result<&'static str, FetchError> {
//!     Ok("cached")
//! }
//!
//! #[fallback(method = cached)]
//! #[retry(max_attempts = 3)]
//! #[circuit_breaker(name = "docs-catalog", failure_threshold = 5)]
//! fn fetch(id: u32) -> Result<&'static str, FetchError> {
//!     if id == 0 { Err(FetchError::Downstream) } else { Ok("fresh") }
//! }
//!
//! assert_eq!(fetch(1).unwrap(), "fresh");
//! assert_eq!(fetch(0).unwrap(), "cached");
//! assert_eq!(resilience_runtime::registry().circuit_breaker("docs-catalog").metrics().failed_calls, 3);
//! ```
//!
//! Stacked attributes apply in written order, the top one outermost. The
//! outermost expands the whole stack at once into one wrapper whose layers
//! pass a three-way outcome (value, the function's error, a policy's
//! rejection), so that, for example, a circuit breaker never counts an inner
//! bulkhead's rejection as a failure of the call. Each call site resolves its
//! policy instance once and keeps it in a `static`; after that, the policies
//! take no lock and allocate nothing on the success path (a time limiter
//! whose call is still pending after its first poll registers a tokio timer,
//! as `tokio::time::timeout` does).
//!
//! Async functions wait and time out with `tokio::time`, so they need a tokio
//! runtime with the time driver enabled. Sync functions block the calling
//! thread. Policies time things with the CPU's counter (through quanta); one
//! created while tokio's clock is paused (`start_paused`, `tokio::time::pause`)
//! reads tokio's clock instead, so tests that advance it are exact.
//!
//! Named instances can be configured from a TOML file, and reloaded while
//! the service runs: see [`config`]. Every named instance of the binary is
//! known to the [`registry`] before any call, with its call sites and each
//! setting's origin ([`Registry::instances`]).
//!
//! Optional features: `watch` (apply a configuration file again whenever it
//! changes), `tracing` (report every [`Event`] as a `tracing` event under the
//! target `resilience`), `metrics` (publish every
//! named instance's counts to the `metrics` facade) and `axum` (routes for
//! metrics, health, instances and snapshot, and token-guarded admin routes:
//! see [`mod@axum`]).
//!
//! See the README for every argument with its default.

#![warn(missing_docs)]

pub mod bulkhead;
pub mod circuit_breaker;
mod clock;
pub mod config;
mod declaration;
mod error;
pub mod event;
mod fallback;
pub mod hedge;
pub mod keyed;
mod live;
mod name;
mod own_line;
pub mod rate_limiter;
mod registry;
pub mod retry;
pub mod retry_budget;
mod rng;
mod stats;
pub mod stores;
mod sync;
pub mod telemetry;
pub mod time_limiter;
#[cfg(feature = "tower")]
pub mod tower;

#[cfg(feature = "axum")]
#[path = "http/mod.rs"]
pub mod axum;

#[doc(hidden)]
pub mod __private;

pub use bulkhead::Bulkhead;
pub use circuit_breaker::{CircuitBreaker, CircuitState};
pub use config::ConfigError;
pub use error::Error;
pub use event::{Event, ListenerId};
pub use fallback::{FallbackMetrics, FallbackSiteSettings, FallbackSource};
pub use hedge::Hedge;
pub use name::Name;
pub use rate_limiter::RateLimiter;
pub use registry::{registry, CallSite, Conflict, InstanceInfo, Instances, Registry, Setting};
pub use retry::Retry;
pub use retry_budget::RetryBudget;
pub use time_limiter::TimeLimiter;

/// Retries a failing call with exponential or linear backoff, a cap and jitter.
///
/// | argument | default | meaning |
/// |---|---|---|
/// | `max_attempts` | 3 | attempts in all, the first call included; at least 1 |
/// | `delay` | 0 | the wait before the first retry |
/// | `backoff` | 1.0 | the factor the wait grows by with each retry, or `"linear"` (`delay * (n + 1)` before retry `n`) |
/// | `max_delay` | none | the longest wait; a `retry_after` hint longer than this ends the retries |
/// | `jitter` | 0.0 | a fraction in `[0, 1]` applied as `+-jitter * wait`, or `"full"`, `"equal"`, `"decorrelated"` |
/// | `on` | every error | a `fn(&E) -> bool` choosing the errors to retry |
/// | `retry_after` | none | a `fn(&E) -> Option<Duration>`: the next wait is at least the error's hint; `Duration::MAX` means never. Per call site, not in files |
/// | `max_duration` | none | a budget for the whole call; a retry whose wait would end past it is not started |
/// | `adaptive` | false | with `name`: waits scaled by the success rate of the last 100 calls (0.7 above 90%, 1.0 above 70%, 1.5 above 50%, else 2.0) |
/// | `budget` | none | the name of a shared [`RetryBudget`]; when it is spent, the retry stops |
/// | `name` | none: the function's own instance | a named retry is shared, listed by the registry and configurable from a file |
pub use resilience_macros::retry;

/// Stops calling a failing dependency until it has had time to recover.
///
/// | argument | default | meaning |
/// |---|---|---|
/// | `name` | none: the function's own instance | shares one breaker among every function naming it |
/// | `failure_threshold` | 5 | consecutive failures that open the circuit (without a rate) |
/// | `recovery_timeout` | 30s | how long it stays open before admitting probes |
/// | `failure_rate_threshold` | none | when set, open on this failure rate over the window instead |
/// | `window_size` | 10 | calls in the count window |
/// | `window_duration` | none | when set, the window holds the calls of this last stretch of time instead |
/// | `minimum_calls` | `window_size`, or 10 for a time window | calls the window must hold before a rate is judged |
/// | `slow_call_duration` | none | when set, a call taking longer counts as slow |
/// | `slow_call_rate_threshold` | 1.0 | the share of slow calls in the window that opens the circuit |
/// | `half_open_max_calls` | 1 | probes admitted while half-open; that many successes close it |
/// | `recovery_backoff` | 1.0 | the factor the open time grows by each time the probes fail again |
/// | `max_recovery_timeout` | none | the longest open time |
/// | `half_open_max_wait` | none | how long probes may take before the circuit reopens |
/// | `on` | every error | a `fn(&E) -> bool` choosing the errors that count as failures; the others affect the circuit neither way |
pub use resilience_macros::circuit_breaker;

/// Caps the rate of calls with a token bucket.
///
/// | argument | default | meaning |
/// |---|---|---|
/// | `name` | none: the function's own instance | shares one bucket |
/// | `max_tokens` | 10 | the bucket's size, the largest burst; it starts full |
/// | `refill_rate` | 10.0 | tokens added per second |
/// | `max_wait` | 0: reject at once | how long a caller may wait for a token |
pub use resilience_macros::rate_limiter;

/// Caps the number of concurrent calls.
///
/// | argument | default | meaning |
/// |---|---|---|
/// | `name` | none: the function's own instance | shares one pool of slots, sync and async callers alike |
/// | `max_concurrent` | 10 | calls allowed at once |
/// | `max_wait` | 0: reject at once | how long a caller may wait for a slot |
pub use resilience_macros::bulkhead;

/// Cancels an async call that runs too long, dropping its future.
///
/// | argument | default | meaning |
/// |---|---|---|
/// | `timeout` | required | the longest a call may take |
/// | `name` | none: the function's own instance | a named time limiter is shared, listed by the registry and configurable from a file |
///
/// Not for sync functions: a running sync body cannot be cancelled.
pub use resilience_macros::time_limiter;

/// Starts a copy of an async call that has not answered after `delay`, and
/// keeps the first `Ok`: the tail latency of a slow replica, a lost packet or
/// a pause, traded for a little extra load. See [`hedge`](mod@hedge) for the
/// rules.
///
/// | argument | default | meaning |
/// |---|---|---|
/// | `delay` | required | the wait for an answer before each copy: a duration (`"50ms"`), or a percentile of the recent latencies of successful copies (`"p95"`, `"p99.9"`: above 0, below 100) |
/// | `max_hedged_attempts` | 1 | copies a call may add to the primary, each after another `delay`; 1 to 10 |
/// | `delay_floor` | 10ms | with a percentile `delay`: the delay until 20 latencies are known, and the shortest after |
/// | `name` | none: the function's own instance | a named hedge is shared, counted, listed by the registry and configurable from a file |
///
/// The first copy to return `Ok` is the answer and the others are dropped
/// (cancelled). An `Err` does not end the call while another copy runs;
/// once every copy started has failed, the primary's error is returned. The
/// attributes above a `#[hedge]` see the hedged call as one call; those
/// below it run once per copy.
///
/// Only for `async fn`s, and the body runs several times at once: it may
/// borrow its arguments but not move them out or mutate them (clone what it
/// must own).
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use resilience_runtime::{hedge, registry};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// struct SearchError;
///
/// #[hedge(name = "docs-search", delay = "50ms")]
/// async fn search(query: &str, copies: &AtomicU32) -> Result<String, SearchError> {
///     // The first copy hits a slow replica; the hedge, a fast one.
///     if copies.fetch_add(1, Ordering::Relaxed) == 0 {
///         tokio::time::sleep(Duration::from_secs(1)).await;
///     }
///     Ok(format!("results for {query}"))
/// }
///
/// let started = tokio::time::Instant::now();
/// assert_eq!(search("rust", &AtomicU32::new(0)).await.unwrap(), "results for rust");
/// assert_eq!(started.elapsed(), Duration::from_millis(50));
/// assert_eq!(registry().hedge("docs-search").metrics().hedge_wins, 1);
/// # }
/// ```
pub use resilience_macros::hedge;

/// Replaces a failed call's result, including the rejections of the
/// policies below it.
///
/// | argument | default | meaning |
/// |---|---|---|
/// | `method` | | a function called with the same arguments, then the error by value; `Self::m` for methods; sync or async for an async function, sync for a sync one |
/// | `value` | | an expression returned as `Ok(value)` |
/// | `on` | every error | a `fn(&E) -> bool` choosing the errors to replace |
/// | `cache` | none | serve stale: each success is kept per argument list, and a failure is answered with the kept value while it is younger than this, before `method` or `value` (feature `fallback-cache`) |
/// | `cache_capacity` | 1024 | the argument lists `cache` keeps, least recently used out first |
///
/// Give at most one of `method` and `value`, and at least one of them or
/// `cache`. Stacked fallbacks form a chain; see below.
pub use resilience_macros::fallback;
