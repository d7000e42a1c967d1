//! A keyed family's table slot, compiled here against loom's atomics.

#[path = "../../resilience-runtime/src/keyed/slot.rs"]
pub(crate) mod slot;
