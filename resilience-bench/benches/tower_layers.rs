//! Each tower layer against the same policy as an attribute: a call that
//! succeeds at once, never waiting nor refused; through the layer, it is
//! `ready()` then `call()` on a service kept across iterations, as a client
//! keeps its stack. Built on the attribute's registry name, the layer drives
//! the attribute's instance.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use resilience_bench::{across_call, poll_now, BenchError};
use resilience_runtime::tower::{
    BoxError, BulkheadLayer, CircuitBreakerLayer, FallbackLayer, RateLimiterLayer, RetryLayer,
    TimeLimiterLayer,
};
use resilience_runtime::{bulkhead, circuit_breaker, fallback, rate_limiter, retry, time_limiter};
use tower::limit::ConcurrencyLimit;
use tower::timeout::Timeout;
use tower::{service_fn, Layer, Service, ServiceExt};

async fn bare(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[retry(name = "bench-tower-retry", max_attempts = 3, delay = "0s")]
async fn with_retry(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[circuit_breaker(name = "bench-tower-breaker")]
async fn with_breaker(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[bulkhead(name = "bench-tower-bulkhead", max_concurrent = 10)]
async fn with_bulkhead(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[rate_limiter(
    name = "bench-tower-rate",
    max_tokens = 1_000_000_000,
    refill_rate = 1e9
)]
async fn with_rate_limiter(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[time_limiter(name = "bench-tower-timeout", timeout = "1s")]
async fn with_time_limiter(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[fallback(value = 0)]
async fn with_fallback(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

/// One ready-and-call of `service`, polled to completion.
fn through<S>(service: &mut S) -> Result<u64, BoxError>
where
    S: Service<u64, Response = u64>,
    S::Error: Into<BoxError>,
{
    poll_now(async {
        let ready = service.ready().await.map_err(Into::into)?;
        ready.call(black_box(1)).await.map_err(Into::into)
    })
}

/// `baseline` (the bare async fn) and `attribute` (`annotated`), then
/// `layer` around a `service_fn` of the bare function.
fn cases<F, L>(group: &mut BenchmarkGroup<'_, WallTime>, annotated: fn(u64) -> F, layer: L)
where
    F: std::future::Future<Output = Result<u64, BenchError>>,
    L: Layer<tower::util::ServiceFn<fn(u64) -> Bare>>,
    L::Service: Service<u64, Response = u64>,
    <L::Service as Service<u64>>::Error: Into<BoxError>,
{
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| black_box(poll_now(bare(black_box(1))))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| black_box(poll_now(annotated(black_box(1))))))
    });
    let mut service = layer.layer(bare_service());
    group.bench_function("layer", |b| {
        b.iter(|| across_call(|| black_box(through(&mut service))))
    });
}

/// The bare function as a ready future, so that the `service_fn` around
/// it, shared by every layer and peer, costs what `bare` does.
type Bare = std::future::Ready<Result<u64, BenchError>>;

fn ready_bare(value: u64) -> Bare {
    std::future::ready(Ok(black_box(value)))
}

fn bare_service() -> tower::util::ServiceFn<fn(u64) -> Bare> {
    service_fn(ready_bare as fn(u64) -> Bare)
}

fn tower_layers(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let _guard = runtime.enter();

    let mut group = c.benchmark_group("tower_retry");
    cases(
        &mut group,
        with_retry,
        RetryLayer::named("bench-tower-retry"),
    );
    group.finish();

    let mut group = c.benchmark_group("tower_circuit_breaker");
    cases(
        &mut group,
        with_breaker,
        CircuitBreakerLayer::named("bench-tower-breaker"),
    );
    group.finish();

    let mut group = c.benchmark_group("tower_bulkhead");
    cases(
        &mut group,
        with_bulkhead,
        BulkheadLayer::named("bench-tower-bulkhead"),
    );
    let mut peer = ConcurrencyLimit::new(bare_service(), 10);
    group.bench_function("tower_concurrency_limit", |b| {
        b.iter(|| across_call(|| black_box(through(&mut peer))))
    });
    group.finish();

    let mut group = c.benchmark_group("tower_rate_limiter");
    cases(
        &mut group,
        with_rate_limiter,
        RateLimiterLayer::named("bench-tower-rate"),
    );
    group.finish();

    let mut group = c.benchmark_group("tower_time_limiter");
    cases(
        &mut group,
        with_time_limiter,
        TimeLimiterLayer::named("bench-tower-timeout"),
    );
    let mut peer = Timeout::new(bare_service(), Duration::from_secs(1));
    group.bench_function("tower_timeout", |b| {
        b.iter(|| across_call(|| black_box(through(&mut peer))))
    });
    group.finish();

    let mut group = c.benchmark_group("tower_fallback");
    cases(
        &mut group,
        with_fallback,
        FallbackLayer::new(|_: BoxError| Ok(0)),
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = tower_layers
}
criterion_main!(benches);
