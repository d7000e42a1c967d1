//! What the policies make visible to operators: their events as `tracing`
//! events (feature `tracing`, see `docs/observability.md` for the levels and
//! fields), their counts as metrics (feature `metrics`), every instance at
//! once as a serializable [`Snapshot`], and an overall [`Health`] with alerts.
//!
//! # Snapshot
//!
//! [`Registry::snapshot`](crate::Registry::snapshot): every named instance
//! with its kind, name, state, metrics and settings in force (with their
//! origins), and every fallback's counts, as one `serde::Serialize` value.
//! `docs/health.md` documents its JSON, field by field.
//!
//! # Health
//!
//! [`Registry::health`](crate::Registry::health): `healthy`, `degraded` or
//! `critical`, with the reasons of each instance that is not healthy.
//!
//! - a circuit breaker OPEN, HALF_OPEN or FORCED_OPEN is **degraded**, and
//!   **critical** once it has refused calls for longer than
//!   `open_alert_after` (default 5 minutes), counted from when it left
//!   CLOSED: moves between OPEN and HALF_OPEN do not restart the count, only
//!   closing (or a reset) ends it;
//! - a circuit breaker whose window's failure rate is at or above
//!   `failure_rate_alert` (default 0.3) is **degraded**;
//! - a bulkhead or a rate limiter that rejected more than
//!   `rejection_rate_alert` (default 0.1) of its calls over the last minute
//!   is **degraded**. The policies count over their lifetime, so each
//!   evaluation samples their counts (on tokio's clock, at most once a second
//!   per instance) and the rate is taken from the oldest sample of the last
//!   minute to now: an instance's first evaluation has no rate yet, and one
//!   watched for less than a minute is judged over that time.
//!
//! - a circuit breaker with `store = "redis"` that cannot reach Redis is
//!   **degraded**: it judges its own calls alone, and its probes are not
//!   bounded across the fleet, until Redis answers again;
//!
//! - a keyed family is judged as one instance (`keyed` in
//!   [`InstanceHealth`]): degraded while a member breaker refuses calls,
//!   with a reason naming how many keys do (and the first few), critical
//!   once one has for longer than `open_alert_after`; its failure rate and
//!   its rejection rate are taken over its members' summed counts.
//!
//! An instance's status is its worst reason's, and the overall status the
//! worst instance's; only instances that are not healthy are listed. The
//! thresholds are [`HealthRules`], set in code with
//! [`Registry::set_health_rules`](crate::Registry::set_health_rules) or in
//! the configuration file's `[health]` table (code wins, as `configure_*`
//! does over a policy's table; a configuration without the table returns
//! its rules to the defaults).
//!
//! A dependency's outage alone must not take a healthy replica out of its
//! load balancer: a freshly opened breaker is degraded, not critical. Let a
//! readiness probe fail (HTTP 503) on `critical` only and pass on
//! `degraded`; never point a liveness probe at health, since restarting the
//! process does not mend its dependencies.
//!
//! Each evaluation compares every instance's status and reason codes with
//! the previous one and reports a change as
//! [`Event::HealthChanged`](crate::Event::HealthChanged) (a WARN under
//! `tracing` when the instance gets worse or its reasons change, an INFO when
//! it gets better). Alerts are judged only when health is evaluated:
//! [`watch_health`] evaluates it on an interval, so that they fire with no
//! probe calling.

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
//! A keyed family is published under its name, its members summed (the
//! state gauge counts the members in each state). With
//! [`set_per_key_metrics`] on, each member is published too, with a `key`
//! label: off by default, since each key is a series per metric, and a
//! family of 10,000 tenants would make some 100,000 series in Prometheus.
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
//! | `resilience_circuitbreaker_store_errors_total` (`store = "redis"` only) | | counter: syncs with Redis that failed or timed out |
//! | `resilience_circuitbreaker_store_available` (`store = "redis"` only) | | gauge: 1 while it reaches Redis (a family: the share of its members that do) |
//! | `resilience_retry_calls_total` | `kind`: successful_without_retry, successful_with_retry, failed_with_retry, failed_without_retry | counter |
//! | `resilience_retry_attempts_total` | | counter: attempts of the calls that ended, first ones included |
//! | `resilience_bulkhead_available_concurrent_calls`, `resilience_bulkhead_max_allowed_concurrent_calls` | | gauge |
//! | `resilience_bulkhead_calls_total` | `kind`: permitted, rejected | counter |
//! | `resilience_ratelimiter_available_permissions`, `resilience_ratelimiter_waiting_calls` | | gauge |
//! | `resilience_ratelimiter_calls_total` | `kind`: permitted, rejected | counter |
//! | `resilience_timelimiter_calls_total` | `kind`: successful, failed, timeout | counter |
//! | `resilience_hedge_calls_total` | `kind`: primary_won, hedge_won, failed | counter |
//! | `resilience_hedge_started_total` | | counter: hedged copies started |
//! | `resilience_retry_budget_calls_total` | | counter: calls that deposited into the budget |
//! | `resilience_retry_budget_retries_total` | `kind`: permitted, refused | counter |
//! | `resilience_retry_budget_available_retries` | | gauge: retries the window allows now |
//! | `resilience_fallback_calls_total` | `kind`: error, rejection; `source`: cache, method, value (what answered); `name` is the function's | counter |
//! | `resilience_fallback_cache_misses_total` | `name` is the function's | counter: failures the cache had no fresh answer for (0 without `cache`) |

pub(crate) mod family;
pub(crate) mod health;
#[cfg(feature = "metrics")]
mod metrics;
mod snapshot;
#[cfg(feature = "tracing")]
pub(crate) mod tracing;

pub use family::{per_key_metrics, set_per_key_metrics};
pub use health::{
    watch_health, Health, HealthReason, HealthRules, HealthStatus, InstanceHealth, ReasonCode,
};
#[cfg(feature = "metrics")]
pub use metrics::{publish_metrics, publish_metrics_every};
pub use snapshot::{InstanceSnapshot, MemberSnapshot, PolicyMetrics, Snapshot};
