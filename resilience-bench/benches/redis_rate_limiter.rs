//! The rate limiter with its bucket in Redis (`store = "redis"`), against a
//! `redis-server` on 127.0.0.1 that the bench starts: the time per check
//! from one caller (its latency) and with 8 in flight (its throughput),
//! next to the bare round trip (`PING` on the same kind of connection) and
//! the local limiter. Run with `cargo bench -p resilience-bench --features
//! redis --bench redis_rate_limiter`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use resilience_examples::redis_server::RedisServer;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::stores::Store;
use resilience_runtime::{registry, RateLimiter};
use tokio::runtime::Runtime;

/// Callers in flight at once in the throughput cases.
const IN_FLIGHT: u64 = 8;

/// A bucket so large and refilled so fast that every check is admitted.
fn huge() -> RateLimiterConfig {
    RateLimiterConfig::default()
        .max_tokens(1_000_000_000)
        .refill_rate(1e9)
}

/// Runs `iters` calls of `call` on `runtime`, `in_flight` at once, and
/// returns the wall time: criterion divides it by `iters`.
fn spread<F, Fut>(runtime: &Runtime, iters: u64, in_flight: u64, call: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..in_flight)
            .map(|i| {
                let call = call.clone();
                let share = iters / in_flight + u64::from(i < iters % in_flight);
                tokio::spawn(async move {
                    for _ in 0..share {
                        call().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a caller");
        }
        start.elapsed()
    })
}

fn redis_rate_limiter(c: &mut Criterion) {
    let server = RedisServer::start();
    registry().set_redis(server.url()).expect("a Redis URL");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    // Without the pre-check, so that every check is a round trip.
    let unchecked = Arc::new(
        RateLimiter::new(
            "bench-redis",
            huge().store(Store::Redis).local_precheck(false),
        )
        .unwrap(),
    );
    let local = Arc::new(RateLimiter::new("bench-local", huge()).unwrap());
    let client = redis::Client::open(server.url()).expect("a client");
    let ping = runtime
        .block_on(client.get_connection_manager())
        .expect("a connection");
    runtime
        .block_on(unchecked.acquire())
        .expect("the script loaded");

    let mut group = c.benchmark_group("redis_rate_limiter");
    for in_flight in [1, IN_FLIGHT] {
        let ping = ping.clone();
        group.bench_function(format!("ping_{in_flight}"), |b| {
            b.iter_custom(|iters| {
                let ping = ping.clone();
                spread(&runtime, iters, in_flight, move || {
                    let mut ping = ping.clone();
                    async move {
                        let pong: String = redis::cmd("PING")
                            .query_async(&mut ping)
                            .await
                            .expect("PONG");
                        black_box(pong);
                    }
                })
            })
        });
        for (id, limiter) in [("check", &unchecked), ("local", &local)] {
            group.bench_function(format!("{id}_{in_flight}"), |b| {
                b.iter_custom(|iters| {
                    let limiter = limiter.clone();
                    spread(&runtime, iters, in_flight, move || {
                        let limiter = limiter.clone();
                        async move { limiter.acquire().await.expect("a huge bucket") }
                    })
                })
            });
        }
    }
    group.finish();
    drop(server);
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = redis_rate_limiter
}
criterion_main!(benches);
