//! Publishing to the `metrics` facade: the names and labels are listed in
//! the [module's documentation](super).

mod keyable;

use std::sync::Once;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, gauge, Unit};

use crate::{registry, CircuitState, FallbackSource};

/// Copies the counts and gauges of every named instance, and of every
/// fallback, into the `metrics` facade's recorder. Cheap enough to call on
/// each scrape: it reads atomics and takes the registry's read lock.
///
/// A keyed family is published under its name, its members summed; with
/// [`set_per_key_metrics`](super::set_per_key_metrics) on, each member is
/// published as well, with a `key` label (see the
/// [module's documentation](super#metrics) for the cost).
///
/// ```
/// use resilience_runtime::{bulkhead, registry, telemetry};
///
/// #[bulkhead(name = "docs-metrics-reports", max_concurrent = 2)]
/// fn report() -> Result<(), resilience_runtime::Error> { Ok(()) }
///
/// report().unwrap();
/// // With an exporter installed (`metrics_exporter_prometheus`, say), its
/// // next render shows `resilience_bulkhead_calls_total{kind="permitted",name="docs-metrics-reports"} 1`.
/// telemetry::publish_metrics();
/// ```
pub fn publish_metrics() {
    describe();
    let registry = registry();
    keyable::breakers(registry);
    for retry in registry.retries() {
        let name = retry.name().to_owned();
        let metrics = retry.metrics();
        for (kind, count) in [
            (
                "successful_without_retry",
                metrics.successful_calls_without_retry,
            ),
            ("successful_with_retry", metrics.successful_calls_with_retry),
            ("failed_with_retry", metrics.failed_calls_with_retry),
            ("failed_without_retry", metrics.failed_calls_without_retry),
        ] {
            counter!("resilience_retry_calls_total", "name" => name.clone(), "kind" => kind)
                .absolute(count);
        }
        counter!("resilience_retry_attempts_total", "name" => name).absolute(metrics.attempts);
    }
    keyable::bulkheads(registry);
    keyable::rate_limiters(registry);
    for limiter in registry.time_limiters() {
        let name = limiter.name().to_owned();
        let metrics = limiter.metrics();
        for (kind, count) in [
            ("successful", metrics.successful_calls),
            ("failed", metrics.failed_calls),
            ("timeout", metrics.timeout_calls),
        ] {
            counter!("resilience_timelimiter_calls_total", "name" => name.clone(), "kind" => kind)
                .absolute(count);
        }
    }
    for budget in registry.retry_budgets() {
        let name = budget.name().to_owned();
        let metrics = budget.metrics();
        counter!("resilience_retry_budget_calls_total", "name" => name.clone())
            .absolute(metrics.calls);
        for (kind, count) in [
            ("permitted", metrics.retries_permitted),
            ("refused", metrics.retries_refused),
        ] {
            counter!("resilience_retry_budget_retries_total", "name" => name.clone(), "kind" => kind)
                .absolute(count);
        }
        gauge!("resilience_retry_budget_available_retries", "name" => name)
            .set(metrics.available_retries as f64);
    }
    for hedge in registry.hedges() {
        let name = hedge.name().to_owned();
        let metrics = hedge.metrics();
        for (kind, count) in [
            ("primary_won", metrics.primary_wins),
            ("hedge_won", metrics.hedge_wins),
            ("failed", metrics.failed_calls),
        ] {
            counter!("resilience_hedge_calls_total", "name" => name.clone(), "kind" => kind)
                .absolute(count);
        }
        counter!("resilience_hedge_started_total", "name" => name).absolute(metrics.hedges_started);
    }
    for fallback in registry.fallbacks() {
        for (kind, for_rejection) in [("error", false), ("rejection", true)] {
            for source in FallbackSource::ALL {
                counter!(
                    "resilience_fallback_calls_total",
                    "name" => fallback.name,
                    "kind" => kind,
                    "source" => source.as_str()
                )
                .absolute(fallback.calls(for_rejection, source));
            }
        }
        counter!("resilience_fallback_cache_misses_total", "name" => fallback.name)
            .absolute(fallback.cache_misses);
    }
}

/// Calls [`publish_metrics`] now and then every `interval` on a tokio task,
/// for exporters that push rather than render on a scrape. Dropping or
/// aborting the returned handle's task stops it.
pub fn publish_metrics_every(interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            publish_metrics();
        }
    })
}

/// The state as a label value.
fn label(state: CircuitState) -> &'static str {
    match state {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half_open",
        CircuitState::ForcedOpen => "forced_open",
        CircuitState::Disabled => "disabled",
        CircuitState::MetricsOnly => "metrics_only",
    }
}

// Once per process, to the recorder of the first publication: the help text
// is all it adds, so a recorder installed later goes without.
fn describe() {
    static DESCRIBED: Once = Once::new();
    DESCRIBED.call_once(|| {
        describe_gauge!(
            "resilience_circuitbreaker_state",
            "1 for the breaker's current state, 0 for the others"
        );
        describe_counter!(
            "resilience_circuitbreaker_calls_total",
            "Calls through the breaker, by outcome"
        );
        describe_counter!(
            "resilience_circuitbreaker_slow_calls_total",
            "Calls slower than slow_call_duration"
        );
        describe_gauge!(
            "resilience_circuitbreaker_failure_rate",
            "Share of failed calls in the window, once judged"
        );
        describe_gauge!(
            "resilience_circuitbreaker_slow_call_rate",
            "Share of slow calls in the window, once judged"
        );
        describe_gauge!(
            "resilience_circuitbreaker_buffered_calls",
            "Calls in the window"
        );
        describe_counter!(
            "resilience_circuitbreaker_transitions_total",
            "State transitions, by from and to"
        );
        describe_counter!(
            "resilience_circuitbreaker_store_errors_total",
            "With store = redis: syncs with Redis that failed or timed out"
        );
        describe_gauge!(
            "resilience_circuitbreaker_store_available",
            "With store = redis: 1 while the breaker reaches Redis, 0 while it judges alone"
        );
        describe_counter!(
            "resilience_circuitbreaker_open_seconds_total",
            Unit::Seconds,
            "Time spent OPEN, HALF_OPEN or FORCED_OPEN"
        );
        describe_counter!(
            "resilience_retry_calls_total",
            "Calls under the retry, by outcome"
        );
        describe_counter!(
            "resilience_retry_attempts_total",
            "Attempts of the calls that ended, first ones included"
        );
        describe_gauge!(
            "resilience_bulkhead_available_concurrent_calls",
            "Free slots"
        );
        describe_gauge!(
            "resilience_bulkhead_max_allowed_concurrent_calls",
            "max_concurrent in force"
        );
        describe_counter!(
            "resilience_bulkhead_calls_total",
            "Calls permitted and rejected"
        );
        describe_gauge!(
            "resilience_ratelimiter_available_permissions",
            "Tokens in the bucket"
        );
        describe_gauge!(
            "resilience_ratelimiter_waiting_calls",
            "Calls waiting for a token"
        );
        describe_counter!(
            "resilience_ratelimiter_calls_total",
            "Calls permitted and rejected"
        );
        describe_counter!("resilience_timelimiter_calls_total", "Calls by outcome");
        describe_counter!(
            "resilience_hedge_calls_total",
            "Calls under the hedge, by which copy answered"
        );
        describe_counter!("resilience_hedge_started_total", "Hedged copies started");
        describe_counter!(
            "resilience_retry_budget_calls_total",
            "Calls that deposited into the retry budget"
        );
        describe_counter!(
            "resilience_retry_budget_retries_total",
            "Retries the budget permitted and refused"
        );
        describe_gauge!(
            "resilience_retry_budget_available_retries",
            "Retries the budget's window allows now"
        );
        describe_counter!(
            "resilience_fallback_calls_total",
            "Results replaced by a fallback, by cause and by what answered"
        );
        describe_counter!(
            "resilience_fallback_cache_misses_total",
            "Failures a fallback's cache had no fresh answer for"
        );
    });
}
