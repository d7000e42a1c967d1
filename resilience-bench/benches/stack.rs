//! All six policies on one async call, on the success path: our stacked
//! attributes against the same composition written by hand, with our runtime
//! types and with tokio, governor and recloser.
//!
//! The futures are polled with `poll_now` inside an entered tokio runtime (the
//! time limiters need its timer), so no executor's cost is measured.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use governor::{DefaultDirectRateLimiter, Quota};
use recloser::{AsyncRecloser, Recloser};
use resilience_bench::{across_call, poll_now, BenchError};
use resilience_runtime::bulkhead::BulkheadConfig;
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::retry::RetryConfig;
use resilience_runtime::time_limiter::TimeLimiterConfig;
use resilience_runtime::{
    bulkhead, circuit_breaker, fallback, rate_limiter, retry, time_limiter, Bulkhead,
    CircuitBreaker, Error, RateLimiter, Retry, TimeLimiter,
};
use tokio::sync::Semaphore;

/// Attempts in all, the first included.
const MAX_ATTEMPTS: u32 = 3;
/// A bucket so large and refilled so fast that it never runs out.
const HUGE: u32 = 1_000_000_000;
/// Enough slots for every caller.
const SLOTS: usize = 100;
/// Never reached by a body that is ready at once.
const TIMEOUT: Duration = Duration::from_secs(60);
/// What the fallbacks answer.
const FALLBACK: u64 = 0;

/// The body under test: a few nanoseconds of work.
async fn bare(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

// Ours, as users write it, in the recommended order. The breaker counts the
// last 10 calls and opens at a 0.5 failure rate, as recloser below does.
#[fallback(value = FALLBACK)]
#[retry(name = "bench-stack", max_attempts = 3)]
#[circuit_breaker(name = "bench-stack", failure_rate_threshold = 0.5, window_size = 10)]
#[rate_limiter(name = "bench-stack", max_tokens = 1_000_000_000, refill_rate = 1e9)]
#[bulkhead(name = "bench-stack", max_concurrent = 100)]
#[time_limiter(name = "bench-stack", timeout = "60s")]
async fn stacked(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

/// The same stack with our runtime types, composed by hand.
struct Ours {
    retry: Retry,
    breaker: CircuitBreaker,
    limiter: RateLimiter,
    bulkhead: Bulkhead,
    time_limiter: TimeLimiter,
}

impl Ours {
    fn new() -> Self {
        let name = "bench-stack-api";
        Ours {
            retry: Retry::new(name, RetryConfig::default().max_attempts(MAX_ATTEMPTS))
                .expect("a valid configuration"),
            breaker: CircuitBreaker::new(
                name,
                CircuitBreakerConfig::default()
                    .failure_rate_threshold(0.5)
                    .window_size(10),
            )
            .expect("a valid configuration"),
            limiter: RateLimiter::new(
                name,
                RateLimiterConfig::default()
                    .max_tokens(HUGE)
                    .refill_rate(f64::from(HUGE)),
            )
            .expect("a valid configuration"),
            bulkhead: Bulkhead::new(name, BulkheadConfig::default().max_concurrent(SLOTS))
                .expect("a valid configuration"),
            time_limiter: TimeLimiter::new(name, TimeLimiterConfig::default().timeout(TIMEOUT))
                .expect("a valid configuration"),
        }
    }

    /// fallback > retry > circuit breaker > the rest.
    async fn call(&self, value: u64) -> Result<u64, BenchError> {
        let mut attempts = self.retry.attempts();
        let result = loop {
            let result = match self.breaker.try_acquire() {
                Err(open) => Err(BenchError::from(open)),
                Ok(permit) => {
                    let result = self.limited(value).await;
                    match &result {
                        Ok(_) => permit.success(),
                        // A local refusal says nothing about the dependency
                        // (the permit records nothing); a timeout does.
                        Err(BenchError::Resilience(error)) if !error.is_timeout() => drop(permit),
                        Err(_) => permit.failure(),
                    }
                    result
                }
            };
            let error = match result {
                Ok(value) => break Ok(value),
                Err(error) => error,
            };
            let at_least = match &error {
                BenchError::Resilience(limited @ Error::RateLimited { .. }) => {
                    limited.retry_after()
                }
                _ => None,
            };
            match attempts.next_wait(at_least) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => break Err(error),
            }
        };
        result.or(Ok(FALLBACK))
    }

    /// rate limiter > bulkhead > time limiter > the body.
    async fn limited(&self, value: u64) -> Result<u64, BenchError> {
        self.limiter.try_acquire()?;
        let _slot = self.bulkhead.try_acquire()?;
        self.time_limiter.run(bare(value)).await?
    }
}

/// Why a hand-composed attempt failed.
#[derive(Debug)]
enum HandError {
    Downstream,
    RateLimited,
    Full,
    Timeout,
}

/// The same stack from the single-pattern crates, as a user would write it:
/// a retry loop and a fallback `match` around recloser's async `call` (the
/// same window of 10 calls and 0.5 rate), around governor's direct `check`
/// (the same bucket), tokio's `Semaphore::try_acquire` (the same slots) and
/// `tokio::time::timeout` (the same timeout).
struct Hand {
    breaker: AsyncRecloser,
    limiter: DefaultDirectRateLimiter,
    slots: Semaphore,
}

impl Hand {
    fn new() -> Self {
        Hand {
            breaker: AsyncRecloser::from(
                Recloser::custom()
                    .error_rate(0.5)
                    .closed_len(10)
                    .open_wait(Duration::from_secs(30))
                    .build(),
            ),
            limiter: governor::RateLimiter::direct(Quota::per_second(
                NonZeroU32::new(HUGE).expect("not zero"),
            )),
            slots: Semaphore::new(SLOTS),
        }
    }

    async fn call(&self, value: u64) -> Result<u64, BenchError> {
        let mut attempt = 1;
        let result = loop {
            // Only the dependency's failures count against the breaker.
            let counted =
                |error: &HandError| matches!(error, HandError::Downstream | HandError::Timeout);
            match self.breaker.call_with(counted, self.limited(value)).await {
                Ok(value) => break Ok(value),
                Err(error) if attempt >= MAX_ATTEMPTS => break Err(error),
                Err(_) => attempt += 1,
            }
        };
        match result {
            Ok(value) => Ok(value),
            Err(_) => Ok(FALLBACK),
        }
    }

    async fn limited(&self, value: u64) -> Result<u64, HandError> {
        self.limiter.check().map_err(|_| HandError::RateLimited)?;
        let _slot = self.slots.try_acquire().map_err(|_| HandError::Full)?;
        match tokio::time::timeout(TIMEOUT, bare(value)).await {
            Ok(result) => result.map_err(|_| HandError::Downstream),
            Err(_) => Err(HandError::Timeout),
        }
    }
}

fn full_stack_async(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let _guard = runtime.enter();
    let ours = Ours::new();
    let hand = Hand::new();
    assert_eq!(poll_now(stacked(1)).ok(), Some(1));
    assert_eq!(poll_now(ours.call(1)).ok(), Some(1));
    assert_eq!(poll_now(hand.call(1)).ok(), Some(1));

    let mut group = c.benchmark_group("full_stack_async");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| poll_now(bare(black_box(1)))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| poll_now(stacked(black_box(1)))))
    });
    group.bench_function("runtime_api", |b| {
        b.iter(|| across_call(|| poll_now(ours.call(black_box(1)))))
    });
    group.bench_function("hand_composed", |b| {
        b.iter(|| across_call(|| poll_now(hand.call(black_box(1)))))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = full_stack_async
}
criterion_main!(benches);
