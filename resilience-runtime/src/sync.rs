//! The atomics of the lock-free cores. The `resilience-loom` crate compiles
//! the same core files against loom's atomics to model-check them.

pub(crate) use std::sync::atomic;
