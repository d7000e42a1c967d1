//! A circuit breaker's success path with its state shared through Redis,
//! next to the same breaker kept in the process: the fleet's syncer reads
//! the breaker's counters on its own thread every `sync_interval`, so a call
//! should cost the same. Needs `redis-server` (feature `redis`):
//!
//! ```sh
//! cargo bench -p resilience-bench --features redis --bench redis_breaker
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use resilience_bench::{across_call, on_two_threads, BenchError};
use resilience_examples::redis_server::RedisServer;
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::stores::Store;
use resilience_runtime::{circuit_breaker, registry, CircuitBreaker};

fn bare(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

// The same rate mode on both, as `store = "redis"` needs one.
#[circuit_breaker(
    name = "bench-store-local",
    failure_rate_threshold = 0.5,
    window_size = 10
)]
fn local(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[circuit_breaker(
    name = "bench-store-redis",
    store = "redis",
    failure_rate_threshold = 0.5,
    window_size = 10
)]
fn shared(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

fn config(store: Store) -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .failure_rate_threshold(0.5)
        .window_size(10)
        .store(store)
}

/// Waits until the syncer has sent a tick's counts, so that the runs
/// measure a breaker that is synced.
fn synced(server: &RedisServer) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.calls_of("hincrby") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the breaker never synced with Redis"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn breaker_store_success(c: &mut Criterion) {
    let server = RedisServer::start();
    registry()
        .set_redis(server.url())
        .expect("the harness's URL");
    let local_api = CircuitBreaker::new_shared("bench-store-local-api", config(Store::Local))
        .expect("a valid configuration");
    let shared_api = CircuitBreaker::new_shared("bench-store-redis-api", config(Store::Redis))
        .expect("a valid configuration");
    shared(1).expect("a success");
    shared_api.call(|| bare(1)).expect("a success");
    synced(&server);

    let mut group = c.benchmark_group("breaker_store_success");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| bare(black_box(1))))
    });
    group.bench_function("attribute_local_store", |b| {
        b.iter(|| across_call(|| local(black_box(1))))
    });
    group.bench_function("attribute_redis_store", |b| {
        b.iter(|| across_call(|| shared(black_box(1))))
    });
    group.bench_function("runtime_api_local_store", |b| {
        b.iter(|| across_call(|| local_api.call(|| bare(black_box(1)))))
    });
    group.bench_function("runtime_api_redis_store", |b| {
        b.iter(|| across_call(|| shared_api.call(|| bare(black_box(1)))))
    });
    group.finish();

    let mut group = c.benchmark_group("breaker_store_success_2_threads");
    on_two_threads(&mut group, "attribute_local_store", || local(black_box(1)));
    on_two_threads(&mut group, "attribute_redis_store", || shared(black_box(1)));
    on_two_threads(&mut group, "runtime_api_local_store", || {
        local_api.call(|| bare(black_box(1)))
    });
    on_two_threads(&mut group, "runtime_api_redis_store", || {
        shared_api.call(|| bare(black_box(1)))
    });
    group.finish();
    drop(server);
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = breaker_store_success
}
criterion_main!(benches);
