//! What the policies make visible to operators: their events as `tracing`
//! events (feature `tracing`, see `docs/observability.md` for the levels and
//! fields) and their counts as metrics (feature `metrics`).
//!
//! # Metrics
//!
//! The counters and gauges of every named instance, published to the
//! [`metrics`](https://docs.rs/metrics) facade, so that any exporter
//! (Prometheus, StatsD, OpenTelemetry) shows them.
//!
//! Nothing is published on the call path: the policies count in their own
//! atomics, and [`publish_metrics`] copies those counts into the facade when
//! it is called, typically right before an exporter renders (the `/metrics`
//! route of the `axum` feature does) or on an interval with
//! [`publish_metrics_every`]. Counters are
//! published as absolute values; a breaker's counts start over with
//! [`reset`](crate::CircuitBreaker::reset), which Prometheus reads as a
//! counter reset.
//!
//! Every series has the label `name`. Unnamed policies (an attribute without
//! `name`) belong to one function each and are not published.
//!
//! | metric | labels | type |
//! |---|---|---|
//! | `resilience_circuitbreaker_state` | `state`: closed, open, half_open, forced_open, disabled, metrics_only (1 for the current one, 0 for the others) | gauge |
//! | `resilience_circuitbreaker_calls_total` | `kind`: successful, failed, ignored, not_permitted | counter |
//! | `resilience_circuitbreaker_slow_calls_total` | | counter |
//! | `resilience_circuitbreaker_failure_rate`, `resilience_circuitbreaker_slow_call_rate` | | gauge, absent until the window is first judged, then its last judged rate |
//! | `resilience_circuitbreaker_buffered_calls` | | gauge: calls in the window |
//! | `resilience_circuitbreaker_transitions_total` | `from`, `to` | counter |
//! | `resilience_circuitbreaker_open_seconds_total` | | counter: whole seconds spent OPEN, HALF_OPEN or FORCED_OPEN |
//! | `resilience_retry_calls_total` | `kind`: successful_without_retry, successful_with_retry, failed_with_retry, failed_without_retry | counter |
//! | `resilience_retry_attempts_total` | | counter: attempts of the calls that ended, first ones included |
//! | `resilience_bulkhead_available_concurrent_calls`, `resilience_bulkhead_max_allowed_concurrent_calls` | | gauge |
//! | `resilience_bulkhead_calls_total` | `kind`: permitted, rejected | counter |
//! | `resilience_ratelimiter_available_permissions`, `resilience_ratelimiter_waiting_calls` | | gauge |
//! | `resilience_ratelimiter_calls_total` | `kind`: permitted, rejected | counter |
//! | `resilience_timelimiter_calls_total` | `kind`: successful, failed, timeout | counter |
//! | `resilience_fallback_calls_total` | `kind`: error, rejection; `name` is the function's | counter |

#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "tracing")]
pub(crate) mod tracing;

#[cfg(feature = "metrics")]
pub use metrics::{publish_metrics, publish_metrics_every};
