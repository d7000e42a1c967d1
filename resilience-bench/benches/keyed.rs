//! Keyed rate limiters: a check that passes for one of 100 or of 100,000
//! tenants, each already known, against governor's keyed limiter on its
//! `DashMap` store, from one thread and from two.

use std::cell::Cell;
use std::hint::black_box;
use std::num::NonZeroU32;

use criterion::{criterion_group, criterion_main, Criterion};
use governor::{DefaultKeyedRateLimiter, Quota};
use resilience_bench::{across_call, on_two_threads, BenchError};
use resilience_runtime::keyed::Family;
use resilience_runtime::{rate_limiter, registry, RateLimiter};

/// A bucket so large and refilled so fast that it never runs out.
const HUGE: u32 = 1_000_000_000;

fn bare(tenant: &str) -> Result<u64, BenchError> {
    Ok(black_box(tenant.len() as u64))
}

// Ours, as users write it: a bucket per tenant, room for every tenant.
#[rate_limiter(name = "bench-keyed", key = tenant, max_tokens = 1_000_000_000, refill_rate = 1e9, max_keys = 200_000)]
fn allowed(tenant: &str) -> Result<u64, BenchError> {
    Ok(black_box(tenant.len() as u64))
}

thread_local! {
    static NEXT: Cell<usize> = const { Cell::new(0) };
}

/// The next tenant of `tenants` on this thread: a prime stride, so that
/// consecutive calls land far apart in both maps.
fn next(tenants: &[String]) -> &String {
    NEXT.with(|next| {
        let i = (next.get() + 7_919) % tenants.len();
        next.set(i);
        &tenants[i]
    })
}

fn keyed(c: &mut Criterion, keys: usize) {
    let tenants: Vec<String> = (0..keys).map(|n| format!("tenant-{n:06}")).collect();
    let family: std::sync::Arc<Family<RateLimiter>> = registry().rate_limiter_family("bench-keyed");
    // governor's keyed limiter with the same bucket per key: `check_key` then
    // the body. Its keys are owned `String`s, looked up by reference.
    let governor: DefaultKeyedRateLimiter<String> =
        governor::RateLimiter::dashmap(Quota::per_second(NonZeroU32::new(HUGE).expect("not zero")));
    for tenant in &tenants {
        allowed(tenant).expect("a huge bucket");
        governor.check_key(tenant).expect("a huge bucket");
    }
    assert_eq!(family.len(), keys, "every tenant known, none evicted");

    let mut group = c.benchmark_group(format!("keyed_rate_limiter_{keys}"));
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| bare(next(&tenants))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| allowed(next(&tenants))))
    });
    group.bench_function("runtime_api", |b| {
        b.iter(|| {
            across_call(|| {
                let tenant = next(&tenants);
                family
                    .with(tenant, |limiter| limiter.try_acquire())
                    .map(|()| bare(tenant))
            })
        })
    });
    group.bench_function("governor", |b| {
        b.iter(|| {
            across_call(|| {
                let tenant = next(&tenants);
                governor.check_key(tenant).map(|()| bare(tenant))
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("keyed_rate_limiter_{keys}_2_threads"));
    on_two_threads(&mut group, "baseline", || bare(next(&tenants)));
    on_two_threads(&mut group, "attribute", || allowed(next(&tenants)));
    on_two_threads(&mut group, "governor", || {
        let tenant = next(&tenants);
        governor.check_key(tenant).map(|()| bare(tenant))
    });
    group.finish();
}

fn keyed_100(c: &mut Criterion) {
    keyed(c, 100);
}

fn keyed_100_000(c: &mut Criterion) {
    keyed(c, 100_000);
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = keyed_100, keyed_100_000
}
criterion_main!(benches);
