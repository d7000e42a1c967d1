//! Rate limiters: a check that passes, a check that is refused, and the
//! passing check from two threads on one shared limiter.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use governor::{DefaultDirectRateLimiter, Quota};
use resilience_bench::{across_call, on_two_threads, BenchError};
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::{rate_limiter, Error, RateLimiter};

/// A bucket so large and refilled so fast that it never runs out.
const HUGE: u32 = 1_000_000_000;

/// The refill period of the empty buckets: one token every 1000s.
const SLOW: Duration = Duration::from_secs(1000);

/// The body under test: a few nanoseconds of work.
fn bare(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

// Ours, as users write it: 1e9 tokens, refilled at 1e9 a second.
#[rate_limiter(name = "bench-allowed", max_tokens = 1_000_000_000, refill_rate = 1e9)]
fn allowed(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

// One token, refilled every 1000s; drained before measuring.
#[rate_limiter(name = "bench-denied", max_tokens = 1, refill_rate = 0.001)]
fn denied(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

fn huge_limiter(name: &'static str) -> RateLimiter {
    RateLimiter::new(
        name,
        RateLimiterConfig::default()
            .max_tokens(HUGE)
            .refill_rate(f64::from(HUGE)),
    )
    .expect("a valid configuration")
}

/// governor with the same bucket: a burst of 1e9, one cell per nanosecond.
fn huge_governor() -> DefaultDirectRateLimiter {
    governor::RateLimiter::direct(Quota::per_second(NonZeroU32::new(HUGE).expect("not zero")))
}

fn rate_limiter_allowed(c: &mut Criterion) {
    let ours = huge_limiter("bench-allowed-api");
    // governor's direct (unkeyed) limiter, `check()` then the body: the same
    // token bucket (GCRA) as ours, one atomic compare-and-swap per check.
    let governor = huge_governor();

    let mut group = c.benchmark_group("rate_limiter_allowed");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| bare(black_box(1))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| allowed(black_box(1))))
    });
    group.bench_function("runtime_api", |b| {
        b.iter(|| across_call(|| ours.call(|| bare(black_box(1)))))
    });
    group.bench_function("governor", |b| {
        b.iter(|| across_call(|| governor.check().map(|()| bare(black_box(1)))))
    });
    group.finish();
}

fn rate_limiter_denied(c: &mut Criterion) {
    // Each bucket holds one token, refilled every 1000s, and is drained first.
    assert!(denied(1).is_ok());
    assert!(matches!(
        denied(1),
        Err(BenchError::Resilience(Error::RateLimited { .. }))
    ));
    let ours = RateLimiter::new(
        "bench-denied-api",
        RateLimiterConfig::default()
            .max_tokens(1)
            .refill_rate(1.0 / SLOW.as_secs_f64()),
    )
    .expect("a valid configuration");
    assert!(ours.try_acquire().is_ok());
    assert!(ours.try_acquire().is_err());
    // governor with the same bucket: a burst of 1, one cell per 1000s.
    let governor = DefaultDirectRateLimiter::direct(
        Quota::with_period(SLOW)
            .expect("a positive period")
            .allow_burst(NonZeroU32::MIN),
    );
    assert!(governor.check().is_ok());
    assert!(governor.check().is_err());

    let mut group = c.benchmark_group("rate_limiter_denied");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| bare(black_box(1))))
    });
    // The attribute's error is the rejection (`BenchError::Resilience`).
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| denied(black_box(1))))
    });
    group.bench_function("runtime_api", |b| {
        b.iter(|| across_call(|| ours.call(|| bare(black_box(1)))))
    });
    group.bench_function("governor", |b| {
        b.iter(|| across_call(|| governor.check().map(|()| bare(black_box(1)))))
    });
    group.finish();
}

fn rate_limiter_allowed_2_threads(c: &mut Criterion) {
    let ours = huge_limiter("bench-allowed-api-2");
    let governor = huge_governor();

    let mut group = c.benchmark_group("rate_limiter_allowed_2_threads");
    on_two_threads(&mut group, "baseline", || bare(black_box(1)));
    on_two_threads(&mut group, "attribute", || allowed(black_box(1)));
    on_two_threads(&mut group, "runtime_api", || {
        ours.call(|| bare(black_box(1)))
    });
    on_two_threads(&mut group, "governor", || {
        governor.check().map(|()| bare(black_box(1)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = rate_limiter_allowed, rate_limiter_denied, rate_limiter_allowed_2_threads
}
criterion_main!(benches);
