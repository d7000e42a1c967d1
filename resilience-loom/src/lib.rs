//! Model checks, with loom, of the runtime's lock-free cores: the circuit
//! breaker's state machine and count window, and a keyed family's table slot,
//! compiled from the runtime's own source files against loom's atomics, so
//! that what is checked is what ships. Every interleaving of the threads in
//! each model is explored.
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p resilience-loom --release --target-dir target/loom
//! ```
//!
//! Without `--cfg loom` this crate is empty.

#![cfg(loom)]
#![allow(dead_code)]

mod sync {
    pub(crate) use loom::sync::atomic;
}

mod circuit_breaker;
mod keyed;

#[cfg(test)]
mod breaker_models;
#[cfg(test)]
mod keyed_models;

/// Explores every interleaving with up to three preemptions per thread, the
/// bound under which loom finds almost every ordering bug while staying fast.
#[cfg(test)]
fn model(check: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(check);
}
