//! Model checks, with loom, of the circuit breaker's lock-free core: the state
//! machine and the count window, compiled from the runtime's own source files
//! against loom's atomics, so that what is checked is what ships. Every
//! interleaving of the threads in each model is explored.
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

#[cfg(test)]
mod models;
