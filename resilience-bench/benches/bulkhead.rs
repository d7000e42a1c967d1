//! Bulkhead: one slot taken and given back, never waiting (the slots are never
//! all taken), against tokio's semaphore and tower's concurrency limit.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use resilience_bench::{across_call, on_two_threads, poll_now, BenchError};
use resilience_runtime::bulkhead::BulkheadConfig;
use resilience_runtime::{bulkhead, Bulkhead};
use tokio::sync::Semaphore;
use tower::limit::ConcurrencyLimit;
use tower::{service_fn, Service, ServiceExt};

/// Slots in every pool: more than the callers, so no call waits or is refused.
const SLOTS: usize = 10;

fn bare(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

async fn bare_async(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[bulkhead(name = "bench-bulkhead-sync", max_concurrent = 10)]
fn guarded(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[bulkhead(name = "bench-bulkhead-async", max_concurrent = 10)]
async fn guarded_async(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

fn bulkhead(name: &'static str) -> Bulkhead {
    Bulkhead::new(name, BulkheadConfig::default().max_concurrent(SLOTS)).expect("valid config")
}

/// The runtime API by hand: a slot without waiting, held while the body runs.
fn by_hand(bulkhead: &Bulkhead, value: u64) -> Result<u64, BenchError> {
    let _permit = bulkhead.try_acquire()?;
    bare(value)
}

/// tokio's semaphore by hand, the same shape: a permit or a refusal, held
/// while the body runs.
fn by_semaphore(semaphore: &Semaphore, value: u64) -> Result<u64, BenchError> {
    match semaphore.try_acquire() {
        Ok(_permit) => bare(value),
        Err(_) => Err(BenchError::Downstream),
    }
}

fn bulkhead_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("bulkhead_sync");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| black_box(bare(black_box(1)))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| black_box(guarded(black_box(1)))))
    });
    let runtime_api = bulkhead("bench-bulkhead-runtime-sync");
    group.bench_function("runtime_api", |b| {
        b.iter(|| across_call(|| black_box(by_hand(&runtime_api, black_box(1)))))
    });
    // `Semaphore::try_acquire` on a semaphore of 10 permits: one permit taken
    // without waiting and returned on drop, as the bulkhead's slot is.
    let semaphore = Semaphore::new(SLOTS);
    group.bench_function("tokio_semaphore", |b| {
        b.iter(|| across_call(|| black_box(by_semaphore(&semaphore, black_box(1)))))
    });
    group.finish();
}

fn bulkhead_async(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let _guard = runtime.enter();
    let mut group = c.benchmark_group("bulkhead_async");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| black_box(poll_now(bare_async(black_box(1))))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| black_box(poll_now(guarded_async(black_box(1))))))
    });
    let runtime_api = bulkhead("bench-bulkhead-runtime-async");
    group.bench_function("runtime_api", |b| {
        b.iter(|| {
            across_call(|| {
                black_box(poll_now(async {
                    let _permit = runtime_api.acquire().await?;
                    bare_async(black_box(1)).await
                }))
            })
        })
    });
    // `Semaphore::try_acquire` on 10 permits: the bulkhead's `max_wait` is
    // zero, so its `acquire` never waits either; the permit is held across
    // the body's await and returned on drop.
    let semaphore = Semaphore::new(SLOTS);
    group.bench_function("tokio_semaphore", |b| {
        b.iter(|| {
            across_call(|| {
                black_box(poll_now(async {
                    let _permit = semaphore
                        .try_acquire()
                        .map_err(|_| BenchError::Downstream)?;
                    bare_async(black_box(1)).await
                }))
            })
        })
    });
    // `ConcurrencyLimit::new(service_fn(body), 10)`: `ready()` takes a permit
    // of its semaphore (never waiting, 10 are free), `call()` moves it into
    // the response future, which returns it when the body is done.
    let mut service = ConcurrencyLimit::new(service_fn(bare_async), SLOTS);
    group.bench_function("tower_concurrency_limit", |b| {
        b.iter(|| {
            across_call(|| {
                black_box(poll_now(async {
                    service.ready().await?.call(black_box(1)).await
                }))
            })
        })
    });
    group.finish();
}

fn bulkhead_sync_2_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("bulkhead_sync_2_threads");
    on_two_threads(&mut group, "baseline", || bare(black_box(1)));
    on_two_threads(&mut group, "attribute", || guarded(black_box(1)));
    let runtime_api = bulkhead("bench-bulkhead-runtime-2-threads");
    on_two_threads(&mut group, "runtime_api", || {
        by_hand(&runtime_api, black_box(1))
    });
    // One `Semaphore` of 10 permits shared by both threads, `try_acquire` +
    // drop around the body: the same contended counter as one bulkhead.
    let semaphore = Semaphore::new(SLOTS);
    on_two_threads(&mut group, "tokio_semaphore", || {
        by_semaphore(&semaphore, black_box(1))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = bulkhead_sync, bulkhead_async, bulkhead_sync_2_threads
}
criterion_main!(benches);
