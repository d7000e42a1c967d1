//! Examples and end-to-end tests of the resilience attributes live in `examples/` and `tests/`.
//! This library holds what they share beyond one file: with the `redis`
//! feature, a Redis server that a test or an example starts for itself.

#[cfg(feature = "redis")]
pub mod redis_server;
