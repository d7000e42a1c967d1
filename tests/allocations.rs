//! The success path allocates nothing: after a call site's first call has
//! resolved its policy instances, a successful call through any attribute, or
//! through all six stacked, makes no heap allocation, sync or async.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use common::AppError;
use resilience_runtime::{
    bulkhead, circuit_breaker, fallback, hedge, rate_limiter, retry, time_limiter,
};

/// Counts the allocations made on the current thread, so that tests running
/// in parallel do not see each other's.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations_during(work: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

/// Allocations made by 100 calls of `call`, after a first call.
fn sync_allocations(call: impl Fn() -> Result<u32, AppError>) -> u64 {
    call().unwrap();
    allocations_during(|| {
        for _ in 0..100 {
            assert_eq!(call().unwrap(), 7);
        }
    })
}

/// Allocations made by 100 awaited calls of `call`, after a first one,
/// inside a tokio runtime built beforehand.
fn async_allocations<F: Future<Output = Result<u32, AppError>>>(call: impl Fn() -> F) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _context = runtime.enter();
    poll_to_completion(call()).unwrap();
    allocations_during(|| {
        for _ in 0..100 {
            assert_eq!(poll_to_completion(call()).unwrap(), 7);
        }
    })
}

impl AppError {
    /// A `retry_after` that never has a hint.
    fn no_hint(&self) -> Option<std::time::Duration> {
        None
    }
}

/// Polls a future that is never left waiting, on this thread.
fn poll_to_completion<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

#[retry(max_attempts = 3, delay = "10ms")]
fn sync_retry() -> Result<u32, AppError> {
    Ok(7)
}

// Every option of #10 that keeps state per call: the start time, the
// success history, the budget's deposits.
#[retry(
    name = "alloc-sync-retry-depth",
    max_duration = "1s",
    adaptive = true,
    budget = "alloc-budget",
    backoff = "linear",
    retry_after = AppError::no_hint
)]
fn sync_retry_depth() -> Result<u32, AppError> {
    Ok(7)
}

#[circuit_breaker(name = "alloc-sync-breaker", failure_threshold = 3)]
fn sync_breaker() -> Result<u32, AppError> {
    Ok(7)
}

#[circuit_breaker(
    name = "alloc-sync-rate-breaker",
    failure_rate_threshold = 0.5,
    window_duration = "60s",
    slow_call_duration = "1s"
)]
fn sync_rate_breaker() -> Result<u32, AppError> {
    Ok(7)
}

#[rate_limiter(name = "alloc-sync-limiter", max_tokens = 1000, refill_rate = 1000.0)]
fn sync_limiter() -> Result<u32, AppError> {
    Ok(7)
}

#[bulkhead(name = "alloc-sync-bulkhead", max_concurrent = 2)]
fn sync_bulkhead() -> Result<u32, AppError> {
    Ok(7)
}

#[fallback(value = 0)]
fn sync_fallback() -> Result<u32, AppError> {
    Ok(7)
}

#[test]
fn each_sync_attribute_allocates_nothing_on_success() {
    assert_eq!(sync_allocations(sync_retry), 0, "retry");
    assert_eq!(
        sync_allocations(sync_retry_depth),
        0,
        "retry with max_duration, adaptive and a budget"
    );
    assert_eq!(sync_allocations(sync_breaker), 0, "circuit breaker");
    assert_eq!(
        sync_allocations(sync_rate_breaker),
        0,
        "circuit breaker, time window, slow calls"
    );
    assert_eq!(sync_allocations(sync_limiter), 0, "rate limiter");
    assert_eq!(sync_allocations(sync_bulkhead), 0, "bulkhead");
    assert_eq!(sync_allocations(sync_fallback), 0, "fallback");
}

// Synced with Redis by the syncer's thread every millisecond while the
// calls run: nothing of it happens on the caller's thread.
#[cfg(feature = "redis")]
#[circuit_breaker(
    name = "alloc-redis-breaker",
    store = "redis",
    failure_rate_threshold = 0.5,
    sync_interval = "1ms"
)]
fn sync_redis_breaker() -> Result<u32, AppError> {
    Ok(7)
}

#[cfg(feature = "redis")]
#[test]
fn a_breaker_shared_through_redis_allocates_nothing_on_success() {
    let server = resilience_examples::redis_server::RedisServer::start();
    resilience_runtime::registry()
        .set_redis(server.url())
        .unwrap();
    assert_eq!(sync_allocations(sync_redis_breaker), 0);
}

#[cfg(feature = "fallback-cache")]
static CACHED_FAILS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(feature = "fallback-cache")]
#[fallback(cache = "1h")]
fn sync_cached(id: u32) -> Result<u32, AppError> {
    match CACHED_FAILS.load(std::sync::atomic::Ordering::Relaxed) {
        true => Err(AppError::Transient),
        false => Ok(id),
    }
}

#[cfg(feature = "fallback-cache")]
#[test]
fn a_cache_allocates_only_to_keep_a_new_argument_list() {
    use std::sync::atomic::Ordering;
    // The first success of an argument list makes room for it.
    assert!(allocations_during(|| assert_eq!(sync_cached(7).unwrap(), 7)) >= 1);
    // Storing it again replaces the answer in place, and a failure served
    // from the cache copies it out: neither allocates for a `u32`.
    assert_eq!(sync_allocations(|| sync_cached(7)), 0, "store");
    CACHED_FAILS.store(true, Ordering::Relaxed);
    assert_eq!(sync_allocations(|| sync_cached(7)), 0, "cache hit");
    CACHED_FAILS.store(false, Ordering::Relaxed);
}

#[fallback(value = 0)]
#[retry(max_attempts = 3)]
#[circuit_breaker(name = "alloc-sync-stack")]
#[rate_limiter(name = "alloc-sync-stack", max_tokens = 1000, refill_rate = 1000.0)]
#[bulkhead(name = "alloc-sync-stack")]
fn sync_stack() -> Result<u32, AppError> {
    Ok(7)
}

#[test]
fn a_sync_stack_allocates_nothing_on_success() {
    assert_eq!(sync_allocations(sync_stack), 0);
}

#[retry(max_attempts = 3, delay = "10ms")]
async fn async_retry() -> Result<u32, AppError> {
    Ok(7)
}

#[circuit_breaker(name = "alloc-async-breaker")]
async fn async_breaker() -> Result<u32, AppError> {
    Ok(7)
}

#[rate_limiter(name = "alloc-async-limiter", max_tokens = 1000, refill_rate = 1000.0)]
async fn async_limiter() -> Result<u32, AppError> {
    Ok(7)
}

#[bulkhead(name = "alloc-async-bulkhead")]
async fn async_bulkhead() -> Result<u32, AppError> {
    Ok(7)
}

#[time_limiter(timeout = "1s")]
async fn async_time_limiter() -> Result<u32, AppError> {
    Ok(7)
}

#[fallback(value = 0)]
async fn async_fallback() -> Result<u32, AppError> {
    Ok(7)
}

#[retry(
    name = "alloc-async-retry-depth",
    max_duration = "1s",
    adaptive = true,
    budget = "alloc-budget"
)]
async fn async_retry_depth() -> Result<u32, AppError> {
    Ok(7)
}

#[hedge(delay = "50ms")]
async fn async_hedge() -> Result<u32, AppError> {
    Ok(7)
}

#[hedge(delay = "p95")]
async fn async_hedge_percentile() -> Result<u32, AppError> {
    Ok(7)
}

#[test]
fn each_async_attribute_allocates_nothing_on_success() {
    assert_eq!(async_allocations(async_retry), 0, "retry");
    assert_eq!(
        async_allocations(async_retry_depth),
        0,
        "retry with max_duration, adaptive and a budget"
    );
    assert_eq!(async_allocations(async_breaker), 0, "circuit breaker");
    assert_eq!(async_allocations(async_limiter), 0, "rate limiter");
    assert_eq!(async_allocations(async_bulkhead), 0, "bulkhead");
    assert_eq!(async_allocations(async_time_limiter), 0, "time limiter");
    assert_eq!(async_allocations(async_fallback), 0, "fallback");
    assert_eq!(async_allocations(async_hedge), 0, "hedge");
    assert_eq!(
        async_allocations(async_hedge_percentile),
        0,
        "hedge with a percentile delay"
    );
}

#[fallback(value = 0)]
#[retry(max_attempts = 3, delay = "10ms")]
#[circuit_breaker(name = "alloc-async-stack")]
#[rate_limiter(name = "alloc-async-stack", max_tokens = 1000, refill_rate = 1000.0)]
#[bulkhead(name = "alloc-async-stack")]
#[time_limiter(timeout = "1s")]
async fn async_stack() -> Result<u32, AppError> {
    Ok(7)
}

#[test]
fn an_async_stack_of_all_six_allocates_nothing_on_success() {
    assert_eq!(async_allocations(async_stack), 0);
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the tests above against a counter that counts nothing.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 16]))) >= 1);
}

#[circuit_breaker(name = "alloc-keyed-hosts", key = host)]
#[rate_limiter(name = "alloc-keyed-tenants", key = tenant, max_tokens = 1000, refill_rate = 1000.0)]
#[bulkhead(name = "alloc-keyed-pools", key = port)]
fn keyed_sync(host: &str, tenant: u64, port: std::net::SocketAddr) -> Result<u32, AppError> {
    Ok(7)
}

#[circuit_breaker(name = "alloc-keyed-hosts-async", key = host)]
#[bulkhead(name = "alloc-keyed-pools-async", key = Some(host))]
async fn keyed_async(host: &str) -> Result<u32, AppError> {
    Ok(7)
}

#[test]
fn an_existing_key_allocates_nothing_whatever_its_type() {
    let address: std::net::SocketAddr = "[::1]:8080".parse().unwrap();
    assert_eq!(sync_allocations(|| keyed_sync("a.example", 42, address)), 0);
    assert_eq!(async_allocations(|| keyed_async("a.example")), 0);
}

#[cfg(feature = "tower")]
mod tower_layers {
    use std::time::Duration;

    use resilience_runtime::bulkhead::BulkheadConfig;
    use resilience_runtime::rate_limiter::RateLimiterConfig;
    use resilience_runtime::retry::RetryConfig;
    use resilience_runtime::time_limiter::TimeLimiterConfig;
    use resilience_runtime::tower::{
        BoxError, BulkheadLayer, CircuitBreakerLayer, FallbackLayer, KeyedLayer, RateLimiterLayer,
        RetryLayer, TimeLimiterLayer,
    };
    use tower::{service_fn, Layer, Service, ServiceBuilder};

    use super::{allocations_during, poll_to_completion, Context, Poll, Waker};

    fn answer(n: u32) -> std::future::Ready<Result<u32, BoxError>> {
        std::future::ready(Ok(n))
    }

    /// Allocations made by 100 ready-and-called requests through `layer`
    /// around a service that answers at once, after a first one.
    fn layer_allocations<L>(layer: L) -> u64
    where
        L: Layer<tower::util::ServiceFn<fn(u32) -> std::future::Ready<Result<u32, BoxError>>>>,
        L::Service: Service<u32, Response = u32, Error = BoxError>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let _context = runtime.enter();
        let mut service = layer.layer(service_fn(answer as fn(u32) -> _));
        let call = |service: &mut L::Service| {
            let ready = service.poll_ready(&mut Context::from_waker(Waker::noop()));
            assert!(matches!(ready, Poll::Ready(Ok(()))));
            assert_eq!(poll_to_completion(service.call(7)).unwrap(), 7);
        };
        call(&mut service);
        allocations_during(|| {
            for _ in 0..100 {
                call(&mut service);
            }
        })
    }

    fn retry() -> RetryLayer {
        let config = RetryConfig::default().delay(Duration::from_millis(10));
        RetryLayer::from_config("alloc-tower-retry", config).unwrap()
    }

    fn rate_limiter() -> RateLimiterLayer {
        let config = RateLimiterConfig::default()
            .max_tokens(1000)
            .refill_rate(1000.0)
            .max_wait(Duration::from_millis(10));
        RateLimiterLayer::from_config("alloc-tower-rate", config).unwrap()
    }

    fn bulkhead(max_wait: Duration) -> BulkheadLayer {
        let config = BulkheadConfig::default().max_wait(max_wait);
        BulkheadLayer::from_config("alloc-tower-bulkhead", config).unwrap()
    }

    fn time_limiter() -> TimeLimiterLayer {
        let config = TimeLimiterConfig::default().timeout(Duration::from_secs(1));
        TimeLimiterLayer::from_config("alloc-tower-timeout", config).unwrap()
    }

    fn fallback() -> FallbackLayer<fn(BoxError) -> Result<u32, BoxError>> {
        FallbackLayer::new(|_| Ok(0))
    }

    #[test]
    fn each_layer_allocates_nothing_on_success() {
        assert_eq!(layer_allocations(retry()), 0, "retry");
        assert_eq!(
            layer_allocations(CircuitBreakerLayer::named("alloc-tower-breaker")),
            0,
            "circuit breaker"
        );
        assert_eq!(
            layer_allocations(rate_limiter()),
            0,
            "rate limiter, with a max_wait"
        );
        assert_eq!(layer_allocations(bulkhead(Duration::ZERO)), 0, "bulkhead");
        assert_eq!(
            layer_allocations(bulkhead(Duration::from_millis(10))),
            0,
            "bulkhead, with a max_wait"
        );
        assert_eq!(layer_allocations(time_limiter()), 0, "time limiter");
        assert_eq!(layer_allocations(fallback()), 0, "fallback");
    }

    /// Every request for one tenant: an existing key after the first call.
    fn one_tenant(_: &u32) -> Option<&str> {
        Some("acme")
    }

    #[test]
    fn each_keyed_layer_allocates_nothing_for_an_existing_key() {
        let breaker = KeyedLayer::circuit_breaker("alloc-tower-keyed-breaker", one_tenant);
        assert_eq!(layer_allocations(breaker), 0, "circuit breaker");
        resilience_runtime::registry()
            .configure_rate_limiter(
                "alloc-tower-keyed-limiter",
                RateLimiterConfig::default()
                    .max_tokens(1000)
                    .refill_rate(1000.0),
            )
            .unwrap();
        let limiter = KeyedLayer::rate_limiter("alloc-tower-keyed-limiter", one_tenant);
        assert_eq!(layer_allocations(limiter), 0, "rate limiter");
        let bulkhead = KeyedLayer::bulkhead("alloc-tower-keyed-bulkhead", one_tenant);
        assert_eq!(layer_allocations(bulkhead), 0, "bulkhead");
    }

    #[test]
    fn a_stack_of_all_six_layers_allocates_nothing_on_success() {
        let stack = ServiceBuilder::new()
            .layer(fallback())
            .layer(retry())
            .layer(CircuitBreakerLayer::named("alloc-tower-stack"))
            .layer(rate_limiter())
            .layer(bulkhead(Duration::from_millis(10)))
            .layer(time_limiter())
            .into_inner();
        assert_eq!(layer_allocations(stack), 0);
    }
}
