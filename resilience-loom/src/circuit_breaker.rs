//! The runtime's circuit breaker core, compiled here against loom's atomics.

#[path = "../../resilience-runtime/src/circuit_breaker/machine.rs"]
pub(crate) mod machine;
#[path = "../../resilience-runtime/src/circuit_breaker/window/mod.rs"]
pub(crate) mod window;
#[path = "../../resilience-runtime/src/circuit_breaker/word.rs"]
pub(crate) mod word;
