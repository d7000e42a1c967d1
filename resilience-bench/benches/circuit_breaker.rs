//! Circuit breakers: a successful call while CLOSED, a refused call while
//! OPEN, and the closed success from two threads on one shared breaker.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use failsafe::backoff;
use failsafe::failure_policy::consecutive_failures;
use failsafe::CircuitBreaker as _;
use recloser::Recloser;
use resilience_bench::{across_call, on_two_threads, BenchError};
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::{circuit_breaker, CircuitBreaker, Error};

/// Long enough that an opened breaker stays open for the whole run.
const LONG: Duration = Duration::from_secs(3600);

/// The body under test: a few nanoseconds of work.
fn bare(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

/// A call that always fails, to open the breakers.
fn failing() -> Result<u64, BenchError> {
    Err(BenchError::Downstream)
}

// Ours, as users write it: the default consecutive mode (5 failures in a row).
#[circuit_breaker(name = "bench-closed")]
fn closed(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

// Ours in rate mode, the same work as recloser: the failure rate over the
// last 10 calls, opening at 0.5.
#[circuit_breaker(
    name = "bench-closed-rate",
    failure_rate_threshold = 0.5,
    window_size = 10
)]
fn closed_rate_window(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

// Opened by calls with `value == 0` before measuring; stays open an hour.
#[circuit_breaker(name = "bench-open", recovery_timeout = "1h")]
fn opened(value: u64) -> Result<u64, BenchError> {
    if value == 0 {
        return Err(BenchError::Downstream);
    }
    Ok(black_box(value))
}

/// recloser counting the last 10 calls and opening at a 0.5 failure rate:
/// exactly our rate mode (`failure_rate_threshold = 0.5, window_size = 10`).
fn recloser() -> Recloser {
    Recloser::custom()
        .error_rate(0.5)
        .closed_len(10)
        .open_wait(LONG)
        .build()
}

/// failsafe's default policy: a success rate over a time window, or else 5
/// consecutive failures, with equal-jittered backoff.
fn failsafe_default() -> impl failsafe::CircuitBreaker + Sync {
    failsafe::Config::new().build()
}

/// failsafe opening after 5 failures in a row for a constant time: exactly
/// our default consecutive mode (`failure_threshold = 5`).
fn failsafe_consecutive() -> impl failsafe::CircuitBreaker + Sync {
    failsafe::Config::new()
        .failure_policy(consecutive_failures(5, backoff::constant(LONG)))
        .build()
}

/// Makes failing calls (each returns whether it was refused) until one is
/// refused: the breaker is open.
fn trip(mut call_failing: impl FnMut() -> bool) {
    assert!((0..100).any(|_| call_failing()), "the breaker never opened");
}

fn breaker_closed_success(c: &mut Criterion) {
    let ours = CircuitBreaker::new("bench-closed-api", CircuitBreakerConfig::default())
        .expect("a valid configuration");
    let recloser = recloser();
    let failsafe_default = failsafe_default();
    let failsafe_consecutive = failsafe_consecutive();

    let mut group = c.benchmark_group("breaker_closed_success");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| bare(black_box(1))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| closed(black_box(1))))
    });
    group.bench_function("attribute_rate_window", |b| {
        b.iter(|| across_call(|| closed_rate_window(black_box(1))))
    });
    group.bench_function("runtime_api", |b| {
        b.iter(|| across_call(|| ours.call(|| bare(black_box(1)))))
    });
    group.bench_function("recloser", |b| {
        b.iter(|| across_call(|| recloser.call(|| bare(black_box(1)))))
    });
    group.bench_function("failsafe_default", |b| {
        b.iter(|| across_call(|| failsafe_default.call(|| bare(black_box(1)))))
    });
    group.bench_function("failsafe_consecutive", |b| {
        b.iter(|| across_call(|| failsafe_consecutive.call(|| bare(black_box(1)))))
    });
    group.finish();
}

fn breaker_open_rejection(c: &mut Criterion) {
    // Each breaker is opened by failures, for an hour.
    trip(|| {
        matches!(
            opened(0),
            Err(BenchError::Resilience(Error::CircuitOpen { .. }))
        )
    });
    let ours = CircuitBreaker::new(
        "bench-open-api",
        CircuitBreakerConfig::default().recovery_timeout(LONG),
    )
    .expect("a valid configuration");
    trip(|| {
        matches!(
            ours.call(failing),
            Err(BenchError::Resilience(Error::CircuitOpen { .. }))
        )
    });
    let recloser = recloser();
    trip(|| matches!(recloser.call(failing), Err(recloser::Error::Rejected)));
    // Only the consecutive policy: the default one's jittered open time
    // (from 5s) could end within the run. Refusing costs the same whatever
    // the policy: the state is checked, not the policy.
    let failsafe_consecutive = failsafe_consecutive();
    trip(|| {
        matches!(
            failsafe_consecutive.call(failing),
            Err(failsafe::Error::Rejected)
        )
    });

    let mut group = c.benchmark_group("breaker_open_rejection");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| bare(black_box(1))))
    });
    // The attribute's error is the rejection (`BenchError::Resilience`).
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| opened(black_box(1))))
    });
    group.bench_function("runtime_api", |b| {
        b.iter(|| across_call(|| ours.call(|| bare(black_box(1)))))
    });
    group.bench_function("recloser", |b| {
        b.iter(|| across_call(|| recloser.call(|| bare(black_box(1)))))
    });
    group.bench_function("failsafe_consecutive", |b| {
        b.iter(|| across_call(|| failsafe_consecutive.call(|| bare(black_box(1)))))
    });
    group.finish();
}

fn breaker_closed_success_2_threads(c: &mut Criterion) {
    let ours = CircuitBreaker::new("bench-closed-api-2", CircuitBreakerConfig::default())
        .expect("a valid configuration");
    let recloser = recloser();
    let failsafe_default = failsafe_default();
    let failsafe_consecutive = failsafe_consecutive();

    let mut group = c.benchmark_group("breaker_closed_success_2_threads");
    on_two_threads(&mut group, "baseline", || bare(black_box(1)));
    on_two_threads(&mut group, "attribute", || closed(black_box(1)));
    on_two_threads(&mut group, "attribute_rate_window", || {
        closed_rate_window(black_box(1))
    });
    on_two_threads(&mut group, "runtime_api", || {
        ours.call(|| bare(black_box(1)))
    });
    on_two_threads(&mut group, "recloser", || {
        recloser.call(|| bare(black_box(1)))
    });
    on_two_threads(&mut group, "failsafe_default", || {
        failsafe_default.call(|| bare(black_box(1)))
    });
    on_two_threads(&mut group, "failsafe_consecutive", || {
        failsafe_consecutive.call(|| bare(black_box(1)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = breaker_closed_success, breaker_open_rejection, breaker_closed_success_2_threads
}
criterion_main!(benches);
