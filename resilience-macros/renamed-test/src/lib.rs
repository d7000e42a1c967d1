//! Nothing: this package exists for `tests/renamed.rs`, which uses the
//! attributes through the dependency `resilience-runtime` renamed `resilience`.
