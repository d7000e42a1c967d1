//! Hedging: the first-answer latency of calls with a long tail (90% take
//! 1 ms, 10% take 50 ms), with no hedge, with `#[hedge]` (a fixed 5 ms
//! delay, and the p90 of recent latencies) and with a hand-written
//! `tokio::select!` hedge; and the cost of a hedged call whose primary is
//! ready at once.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use resilience_bench::{across_call, poll_now, BenchError};
use resilience_runtime::hedge;
use resilience_runtime::hedge::{Hedge, HedgeConfig};

const DELAY: Duration = Duration::from_millis(5);
const FAST: Duration = Duration::from_millis(1);
const SLOW: Duration = Duration::from_millis(50);

/// The latencies of one call's copies, in the order they start: each copy
/// sleeps for the next one.
struct Call {
    latencies: [Duration; 3],
    next: AtomicUsize,
}

impl Call {
    async fn copy(&self) -> Result<u64, BenchError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.latencies[index.min(2)]).await;
        Ok(index as u64)
    }
}

/// A seeded xorshift: every variant draws the same latencies, call by call.
struct Draws(u64);

impl Draws {
    fn new() -> Draws {
        Draws(0x9e37_79b9_7f4a_7c15)
    }

    fn latency(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if self.0 % 10 == 0 {
            SLOW
        } else {
            FAST
        }
    }

    fn call(&mut self) -> Call {
        Call {
            latencies: [self.latency(), self.latency(), self.latency()],
            next: AtomicUsize::new(0),
        }
    }
}

#[hedge(name = "bench-hedge-tail", delay = "5ms")]
async fn hedged(call: &Call) -> Result<u64, BenchError> {
    call.copy().await
}

#[hedge(name = "bench-hedge-tail-p90", delay = "p90", delay_floor = "2ms")]
async fn hedged_p90(call: &Call) -> Result<u64, BenchError> {
    call.copy().await
}

/// A hedge by hand: the primary alone for `DELAY`, then the primary and one
/// copy, the first to answer winning.
async fn by_select(call: &Call) -> Result<u64, BenchError> {
    let primary = call.copy();
    tokio::pin!(primary);
    tokio::select! {
        biased;
        answer = &mut primary => answer,
        () = tokio::time::sleep(DELAY) => {
            let copy = call.copy();
            tokio::select! {
                biased;
                answer = primary => answer,
                answer = copy => answer,
            }
        }
    }
}

/// The mean time to the first answer over `iterations` calls, on tokio's
/// real clock, each call drawing its copies' latencies in turn.
fn first_answer<F, Fut>(iterations: u64, run: F) -> Duration
where
    F: Fn(Call) -> Fut,
    Fut: Future<Output = u64>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let mut draws = Draws::new();
        let began = Instant::now();
        for _ in 0..iterations {
            black_box(run(draws.call()).await);
        }
        began.elapsed()
    })
}

fn hedge_long_tail(c: &mut Criterion) {
    let mut group = c.benchmark_group("hedge_long_tail");
    group.bench_function("baseline", |b| {
        b.iter_custom(|n| first_answer(n, |call| async move { call.copy().await.unwrap() }))
    });
    group.bench_function("attribute", |b| {
        b.iter_custom(|n| first_answer(n, |call| async move { hedged(&call).await.unwrap() }))
    });
    group.bench_function("attribute_p90", |b| {
        b.iter_custom(|n| first_answer(n, |call| async move { hedged_p90(&call).await.unwrap() }))
    });
    group.bench_function("tokio_select", |b| {
        b.iter_custom(|n| first_answer(n, |call| async move { by_select(&call).await.unwrap() }))
    });
    group.finish();
}

async fn ready(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[hedge(name = "bench-hedge-ready", delay = "50ms")]
async fn hedged_ready(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[hedge(name = "bench-hedge-ready-p95", delay = "p95")]
async fn hedged_ready_p95(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

/// `tokio::select!` over the body and a 50 ms sleep, body first: the sleep
/// is built, never polled.
async fn select_ready(value: u64) -> Result<u64, BenchError> {
    tokio::select! {
        biased;
        answer = ready(value) => answer,
        () = tokio::time::sleep(Duration::from_millis(50)) => ready(value).await,
    }
}

fn hedge_ready(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let _guard = runtime.enter();
    let mut group = c.benchmark_group("hedge_ready");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| black_box(poll_now(ready(black_box(1))))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| black_box(poll_now(hedged_ready(black_box(1))))))
    });
    // Two clock reads and a latency recorded per call.
    group.bench_function("attribute_p95", |b| {
        b.iter(|| across_call(|| black_box(poll_now(hedged_ready_p95(black_box(1))))))
    });
    let runtime_api = Hedge::new(
        "bench-hedge-runtime-ready",
        HedgeConfig::default().delay(Duration::from_millis(50)),
    )
    .expect("valid config");
    group.bench_function("runtime_api", |b| {
        b.iter(|| {
            across_call(|| black_box(poll_now(runtime_api.call_async(|| ready(black_box(1))))))
        })
    });
    group.bench_function("tokio_select", |b| {
        b.iter(|| across_call(|| black_box(poll_now(select_ready(black_box(1))))))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = hedge_ready, hedge_long_tail
}
criterion_main!(benches);
