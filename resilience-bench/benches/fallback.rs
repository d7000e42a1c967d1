//! Fallback: the success path, where the replacement is never used, against
//! the `match` a user would write by hand.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use resilience_bench::{across_call, BenchError};
use resilience_runtime::fallback;

fn bare(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

#[fallback(value = 0)]
fn with_value(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

fn replacement(_value: u64, _error: BenchError) -> Result<u64, BenchError> {
    Ok(0)
}

#[fallback(method = replacement)]
fn with_method(value: u64) -> Result<u64, BenchError> {
    Ok(black_box(value))
}

/// What users write without the attribute: the error replaced by a value.
fn hand_match(value: u64) -> Result<u64, BenchError> {
    match bare(value) {
        Ok(value) => Ok(value),
        Err(_error) => Ok(0),
    }
}

fn fallback_success(c: &mut Criterion) {
    let mut group = c.benchmark_group("fallback_success");
    group.bench_function("baseline", |b| {
        b.iter(|| across_call(|| black_box(bare(black_box(1)))))
    });
    group.bench_function("attribute", |b| {
        b.iter(|| across_call(|| black_box(with_value(black_box(1)))))
    });
    group.bench_function("attribute_method", |b| {
        b.iter(|| across_call(|| black_box(with_method(black_box(1)))))
    });
    // A `match` on the same body, `Err` replaced by `Ok(0)`: the work of
    // `#[fallback(value = 0)]` with no library at all.
    group.bench_function("hand_match", |b| {
        b.iter(|| across_call(|| black_box(hand_match(black_box(1)))))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = resilience_bench::criterion();
    targets = fallback_success
}
criterion_main!(benches);
