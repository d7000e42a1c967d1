//! Time limiter: a 1 s deadline on a call that ends well within it, ready at
//! once or after one pending poll, against `tokio::time::timeout`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use resilience_bench::{across_call, poll_now, BenchError, PendingOnce};
use resilience_runtime::time_limiter::TimeLimiterConfig;
use resilience_runtime::{time_limiter, TimeLimiter};

const TIMEOUT: Duration = Duration::from_secs(1);

async fn ready(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

async fn pending_once(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(PendingOnce::new(value).await))
}

#[time_limiter(name = "bench-time-limiter-ready", timeout = "1s")]
async fn limited_ready(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[time_limiter(name = "bench-time-limiter-pending-once", timeout = "1s")]
async fn limited_pending_once(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(PendingOnce::new(value).await))
}

fn limiter(name: &'static str) -> TimeLimiter {
    TimeLimiter::new(name, TimeLimiterConfig::default().timeout(TIMEOUT)).expect("valid config")
}

/// The runtime API by hand: the body's future under `TimeLimiter::run`, a
/// timeout becoming the function's error, as the attribute does.
async fn by_hand(
    limiter: &TimeLimiter,
    body: impl std::future::Future<Output = Result<u64, BenchError>>,
) -> Result<u64, BenchError> {
    match limiter.run(body).await {
        Ok(result) => result,
        Err(timeout) => Err(timeout.into()),
    }
}

/// `tokio::time::timeout(1s, body)`: the same deadline on the same future,
/// its `Elapsed` becoming the function's error.
async fn by_tokio(
    body: impl std::future::Future<Output = Result<u64, BenchError>>,
) -> Result<u64, BenchError> {
    match tokio::time::timeout(TIMEOUT, body).await {
        Ok(result) => result,
        Err(_elapsed) => Err(BenchError::Downstream),
    }
}

fn time_limiter_ready(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let _guard = runtime.enter();
    let mut group = c.benchmark_group("time_limiter_ready");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| black_box(poll_now(ready(black_box(1))))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| black_box(poll_now(limited_ready(black_box(1))))))
    });
    let runtime_api = limiter("bench-time-limiter-runtime-ready");
    group.bench_function("runtime_api", |b| {
        b.iter(|| across_call(|| black_box(poll_now(by_hand(&runtime_api, ready(black_box(1)))))))
    });
    // `tokio::time::timeout` with the same 1 s: it polls the body first, and
    // the body is ready, so neither it nor we register a timer (ours does not
    // build one at all until the body is pending).
    group.bench_function("tokio_timeout", |b| {
        b.iter(|| across_call(|| black_box(poll_now(by_tokio(ready(black_box(1)))))))
    });
    group.finish();
}

fn time_limiter_pending_once(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let _guard = runtime.enter();
    let mut group = c.benchmark_group("time_limiter_pending_once");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| black_box(poll_now(pending_once(black_box(1))))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| black_box(poll_now(limited_pending_once(black_box(1))))))
    });
    let runtime_api = limiter("bench-time-limiter-runtime-pending-once");
    group.bench_function("runtime_api", |b| {
        b.iter(|| {
            across_call(|| black_box(poll_now(by_hand(&runtime_api, pending_once(black_box(1))))))
        })
    });
    // `tokio::time::timeout` with the same 1 s: the body is pending once, so
    // the deadline is registered with tokio's timer wheel, then removed when
    // the body is done; ours registers its own `sleep_until` the same way
    // once the body is pending.
    group.bench_function("tokio_timeout", |b| {
        b.iter(|| across_call(|| black_box(poll_now(by_tokio(pending_once(black_box(1)))))))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = time_limiter_ready, time_limiter_pending_once
}
criterion_main!(benches);
