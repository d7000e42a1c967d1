//! Examples and end-to-end tests of the resilience attributes live in `examples/` and `tests/`.
