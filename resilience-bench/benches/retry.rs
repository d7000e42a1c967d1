//! Retry: a call that succeeds at once, and one that fails twice then succeeds
//! with no wait between attempts, against backon and tokio-retry; and a
//! retry budget's cost per call.

use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use backon::{BlockingRetryable, ConstantBuilder, Retryable};
use criterion::{criterion_group, criterion_main, Criterion};
use resilience_bench::{across_call, poll_now, BenchError};
use resilience_runtime::retry::RetryConfig;
use resilience_runtime::{retry, Retry};
use tokio_retry::strategy::FixedInterval;

/// Three attempts in all, no wait: `#[retry(max_attempts = 3, delay = "0s")]`.
fn policy(name: &'static str) -> Retry {
    Retry::new(
        name,
        RetryConfig::default().max_attempts(3).delay(Duration::ZERO),
    )
    .expect("valid config")
}

/// backon's builder for the same: no wait, 2 retries after the first attempt,
/// so 3 attempts in all (`with_max_times` counts the retries).
const BACKON: ConstantBuilder = ConstantBuilder::new()
    .with_delay(Duration::ZERO)
    .with_max_times(2);

/// tokio-retry's strategy for the same: a zero interval, taken twice (the
/// strategy yields the waits before each retry), so 3 attempts in all.
fn tokio_retry_strategy() -> std::iter::Take<FixedInterval> {
    FixedInterval::new(Duration::ZERO).take(2)
}

fn bare(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

async fn bare_async(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[retry(name = "bench-retry-first-sync", max_attempts = 3, delay = "0s")]
fn retried(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[retry(name = "bench-retry-first-async", max_attempts = 3, delay = "0s")]
async fn retried_async(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[retry(
    name = "bench-retry-first-budgeted",
    max_attempts = 3,
    delay = "0s",
    budget = "bench-retry-budget"
)]
fn retried_budgeted(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

/// Fails on the first two attempts of a call, then succeeds; `attempts` is
/// reset to 0 before each call.
fn flaky(attempts: &Cell<u32>, value: u64) -> Result<u64, BenchError> {
    let attempt = attempts.get() + 1;
    attempts.set(attempt);
    if attempt < 3 {
        Err(BenchError::Downstream)
    } else {
        Ok(black_box(value))
    }
}

async fn flaky_async(attempts: &Cell<u32>, value: u64) -> Result<u64, BenchError> {
    flaky(attempts, value)
}

#[retry(name = "bench-retry-flaky-sync", max_attempts = 3, delay = "0s")]
fn retried_flaky(attempts: &Cell<u32>, value: u64) -> Result<u64, BenchError> {
    flaky(attempts, value)
}

#[retry(name = "bench-retry-flaky-async", max_attempts = 3, delay = "0s")]
async fn retried_flaky_async(attempts: &Cell<u32>, value: u64) -> Result<u64, BenchError> {
    flaky(attempts, value)
}

/// The baseline of the failing case: the bare body called until it succeeds,
/// at most 3 times, with no policy around it.
fn three_bare_attempts(attempts: &Cell<u32>, value: u64) -> Result<u64, BenchError> {
    let mut result = flaky(attempts, value);
    for _ in 1..3 {
        if result.is_ok() {
            break;
        }
        result = flaky(attempts, value);
    }
    result
}

async fn three_bare_attempts_async(attempts: &Cell<u32>, value: u64) -> Result<u64, BenchError> {
    let mut result = flaky_async(attempts, value).await;
    for _ in 1..3 {
        if result.is_ok() {
            break;
        }
        result = flaky_async(attempts, value).await;
    }
    result
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

fn retry_first_success_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("retry_first_success_sync");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| black_box(bare(black_box(1)))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| black_box(retried(black_box(1)))))
    });
    let runtime_api = policy("bench-retry-runtime-first-sync");
    group.bench_function("runtime_api", |b| {
        b.iter(|| across_call(|| black_box(runtime_api.call(|| bare(black_box(1))))))
    });
    // backon's blocking retry, `ConstantBuilder` with a zero delay and 2
    // retries: 3 attempts, no wait, as `max_attempts = 3, delay = "0s"`.
    group.bench_function("backon", |b| {
        b.iter(|| across_call(|| black_box((|| bare(black_box(1))).retry(BACKON).call())))
    });
    group.finish();
}

fn retry_first_success_async(c: &mut Criterion) {
    let runtime = current_thread_runtime();
    let _guard = runtime.enter();
    let mut group = c.benchmark_group("retry_first_success_async");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| black_box(poll_now(bare_async(black_box(1))))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| black_box(poll_now(retried_async(black_box(1))))))
    });
    let runtime_api = policy("bench-retry-runtime-first-async");
    group.bench_function("runtime_api", |b| {
        b.iter(|| {
            across_call(|| {
                black_box(poll_now(
                    runtime_api.call_async(|| bare_async(black_box(1))),
                ))
            })
        })
    });
    // backon's future retry, `ConstantBuilder` with a zero delay and 2
    // retries (3 attempts), waiting with its default tokio sleeper as we do.
    group.bench_function("backon", |b| {
        b.iter(|| across_call(|| black_box(poll_now((|| bare_async(black_box(1))).retry(BACKON)))))
    });
    // `tokio_retry::Retry::start` (`spawn` is its deprecated name) with
    // `FixedInterval` of zero taken twice: 2 retries with no wait, 3 attempts.
    group.bench_function("tokio_retry", |b| {
        b.iter(|| {
            across_call(|| {
                black_box(poll_now(tokio_retry::Retry::start(
                    tokio_retry_strategy(),
                    || bare_async(black_box(1)),
                )))
            })
        })
    });
    group.finish();
}

/// A retry budget's cost per call: every call deposits into it (a clock read
/// and two atomic operations on the budget's words), against the same
/// first-attempt success without one.
fn retry_budget_first_success(c: &mut Criterion) {
    let mut group = c.benchmark_group("retry_budget_first_success");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| black_box(bare(black_box(1)))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| black_box(retried(black_box(1)))))
    });
    group.bench_function("attribute_budget", |b| {
        b.iter(|| across_call(|| black_box(retried_budgeted(black_box(1)))))
    });
    let runtime_api = Retry::new(
        "bench-retry-runtime-budgeted",
        RetryConfig::default()
            .max_attempts(3)
            .budget("bench-retry-budget-runtime"),
    )
    .expect("valid config");
    group.bench_function("runtime_api_budget", |b| {
        b.iter(|| across_call(|| black_box(runtime_api.call(|| bare(black_box(1))))))
    });
    group.finish();
}

fn retry_after_two_failures_sync(c: &mut Criterion) {
    let attempts = Cell::new(0);
    let mut group = c.benchmark_group("retry_after_two_failures_sync");
    group.bench_function("baseline", |b| {
        b.iter(|| {
            across_call(|| {
                attempts.set(0);
                black_box(three_bare_attempts(&attempts, black_box(1)))
            })
        })
    });
    group.bench_function("attribute", |b| {
        b.iter(|| {
            across_call(|| {
                attempts.set(0);
                black_box(retried_flaky(&attempts, black_box(1)))
            })
        })
    });
    let runtime_api = policy("bench-retry-runtime-flaky-sync");
    group.bench_function("runtime_api", |b| {
        b.iter(|| {
            across_call(|| {
                attempts.set(0);
                black_box(runtime_api.call(|| flaky(&attempts, black_box(1))))
            })
        })
    });
    // backon's blocking retry, zero delay and 2 retries: the same 3 attempts
    // and two zero-length `std::thread::sleep`s, which ours skips.
    group.bench_function("backon", |b| {
        b.iter(|| {
            across_call(|| {
                attempts.set(0);
                black_box((|| flaky(&attempts, black_box(1))).retry(BACKON).call())
            })
        })
    });
    group.finish();
}

/// Driven by `block_on`, not `poll_now`: every peer here waits between
/// attempts with a zero-length tokio sleep, and a tokio sleep, even of zero,
/// is a timer that fires only when the time driver next turns, at the next
/// millisecond tick (tokio-rs/tokio#6390). Under `poll_now` the driver never
/// turns and the call never ends; under `block_on` each retry waits for the
/// tick, about 1 ms, so this group measures that wait, the same for every id
/// that sleeps, and not the policies' own cost.
fn retry_after_two_failures_async(c: &mut Criterion) {
    let runtime = current_thread_runtime();
    let attempts = Cell::new(0);
    let mut group = c.benchmark_group("retry_after_two_failures_async");
    // A call takes milliseconds: 10 samples are enough and stay within the
    // measurement time.
    group.sample_size(10);
    group.bench_function("baseline", |b| {
        b.iter(|| {
            across_call(|| {
                attempts.set(0);
                black_box(runtime.block_on(three_bare_attempts_async(&attempts, black_box(1))))
            })
        })
    });
    group.bench_function("attribute", |b| {
        b.iter(|| {
            across_call(|| {
                attempts.set(0);
                black_box(runtime.block_on(retried_flaky_async(&attempts, black_box(1))))
            })
        })
    });
    let runtime_api = policy("bench-retry-runtime-flaky-async");
    group.bench_function("runtime_api", |b| {
        b.iter(|| {
            across_call(|| {
                attempts.set(0);
                black_box(
                    runtime
                        .block_on(runtime_api.call_async(|| flaky_async(&attempts, black_box(1)))),
                )
            })
        })
    });
    // backon, zero delay and 2 retries: 3 attempts, each wait a zero-length
    // `tokio::time::sleep` (its default sleeper), which lasts until the timer's
    // next tick; ours skips a zero wait.
    group.bench_function("backon", |b| {
        b.iter(|| {
            across_call(|| {
                attempts.set(0);
                black_box(runtime.block_on((|| flaky_async(&attempts, black_box(1))).retry(BACKON)))
            })
        })
    });
    // tokio-retry, `FixedInterval` of zero taken twice: 3 attempts, each wait
    // a `tokio::time::sleep_until(now)`.
    group.bench_function("tokio_retry", |b| {
        b.iter(|| {
            across_call(|| {
                attempts.set(0);
                black_box(
                    runtime.block_on(tokio_retry::Retry::start(tokio_retry_strategy(), || {
                        flaky_async(&attempts, black_box(1))
                    })),
                )
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = retry_first_success_sync, retry_first_success_async,
        retry_budget_first_success, retry_after_two_failures_sync, retry_after_two_failures_async
}
criterion_main!(benches);
