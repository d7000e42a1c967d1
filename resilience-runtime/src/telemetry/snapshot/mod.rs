//! Every named instance at one moment, as one `serde::Serialize` value: its
//! kind, name, state, counts and rates, and its settings in force with their
//! origins; and every fallback's counts.

mod keyed;

use std::time::Duration;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::health::grammar;
use crate::bulkhead::BulkheadMetrics;
use crate::circuit_breaker::CircuitBreakerMetrics;
use crate::config::PolicyKind;
use crate::hedge::HedgeMetrics;
use crate::rate_limiter::RateLimiterMetrics;
use crate::registry::settings_by_key;
use crate::retry::RetryMetrics;
use crate::retry_budget::RetryBudgetMetrics;
use crate::time_limiter::TimeLimiterMetrics;
use crate::{CallSite, CircuitState, FallbackMetrics, Registry, Setting};

/// What [`Registry::snapshot`] returns: every named instance and every
/// fallback at one moment. Its JSON is a documented contract
/// (`docs/health.md`); durations are written in the attributes' grammar
/// (`"1m30s"`).
///
/// ```json
/// {
///   "instances": [
///     {
///       "kind": "circuit_breaker",
///       "name": "inventory",
///       "state": "OPEN",
///       "metrics": {"failure_rate": 0.6, "slow_call_rate": null, "window_calls": 10, "...": "..."},
///       "settings": {"failure_threshold": {"value": 5, "origin": {"source": "built_in"}}, "...": "..."},
///       "call_sites": [{"function": "fetch_stock", "file": "src/inventory.rs", "line": 12, "column": 1}]
///     }
///   ],
///   "fallbacks": [
///     {
///       "name": "fetch_stock", "error_calls": 3, "rejection_calls": 17,
///       "cache_hits": 12, "cache_misses": 8, "method_calls": 8, "value_calls": 0,
///       "sites": [{"function": "fetch_stock", "file": "src/inventory.rs", "line": 10, "column": 1, "cache": "5m", "cache_capacity": 1024}]
///     }
///   ]
/// }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Every named instance, called or not, by kind (in the order of
    /// [`Registry::instances`]) and name.
    pub instances: Vec<InstanceSnapshot>,
    /// Every `#[fallback]` by function name, used or not.
    #[serde(serialize_with = "fallbacks")]
    pub fallbacks: Vec<FallbackMetrics>,
}

/// One named instance at one moment.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceSnapshot {
    /// The kind of policy: `"circuit_breaker"`, `"bulkhead"`, ...
    pub kind: PolicyKind,
    /// The instance's name.
    pub name: String,
    /// A circuit breaker's state, written as it displays (`"HALF_OPEN"`);
    /// `null` for the other kinds.
    #[serde(serialize_with = "state")]
    pub state: Option<CircuitState>,
    /// Its counts, gauges, rates and durations.
    pub metrics: PolicyMetrics,
    /// Every setting in force, as an object from each key to its `value`
    /// and `origin`, in the order of the attribute's documentation.
    #[serde(serialize_with = "settings_by_key")]
    pub settings: Vec<Setting>,
    /// The annotated functions that use it, in source order.
    pub call_sites: Vec<CallSite>,
    /// Whether this is a keyed family: then `metrics` are its members'
    /// summed (see `docs/health.md`), and `state` is `null`.
    pub keyed: bool,
    /// For a family, how many keys have a member now; `null` otherwise.
    pub keys: Option<usize>,
    /// For a family, how many members were dropped to keep within
    /// `max_keys`; `null` otherwise.
    pub evicted: Option<u64>,
    /// For a family of circuit breakers, how many members are in each
    /// state, as an object from each state (as it displays) to its count;
    /// `null` otherwise.
    #[serde(serialize_with = "member_states")]
    pub member_states: Option<Vec<(CircuitState, usize)>>,
    /// For a family, each member by key, with
    /// [`set_per_key_metrics`](super::set_per_key_metrics) on; `null` with it
    /// off (the default) and for a plain instance.
    pub members: Option<Vec<MemberSnapshot>>,
}

/// One member of a keyed family at one moment, in
/// [`InstanceSnapshot::members`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberSnapshot {
    /// The member's key.
    pub key: String,
    /// A circuit breaker's state, as for an instance; `null` for the other kinds.
    #[serde(serialize_with = "state")]
    pub state: Option<CircuitState>,
    /// Its metrics, as for an instance.
    pub metrics: PolicyMetrics,
}

/// One instance's metrics, by kind. Serialized as one flat object whose
/// fields are those of the kind's metrics type, without the breaker's
/// `state` (it is the instance's), plus the breaker's `outage_duration`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyMetrics {
    /// A circuit breaker's, with how long it has refused calls if it does
    /// (see [`HealthRules::open_alert_after`](super::HealthRules::open_alert_after)).
    CircuitBreaker {
        /// The breaker's metrics.
        metrics: CircuitBreakerMetrics,
        /// How long it has refused calls without closing in between, if it
        /// refuses them now.
        outage_duration: Option<Duration>,
    },
    /// A bulkhead's.
    Bulkhead(BulkheadMetrics),
    /// A rate limiter's.
    RateLimiter(RateLimiterMetrics),
    /// A retry's.
    Retry(RetryMetrics),
    /// A time limiter's.
    TimeLimiter(TimeLimiterMetrics),
    /// A hedge's.
    Hedge(HedgeMetrics),
    /// A retry budget's.
    RetryBudget(RetryBudgetMetrics),
}

impl Serialize for PolicyMetrics {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            PolicyMetrics::CircuitBreaker {
                metrics: m,
                outage_duration,
            } => {
                map.serialize_entry("failure_rate", &m.failure_rate)?;
                map.serialize_entry("slow_call_rate", &m.slow_call_rate)?;
                map.serialize_entry("window_calls", &m.window_calls)?;
                map.serialize_entry("window_failed_calls", &m.window_failed_calls)?;
                map.serialize_entry("window_successful_calls", &m.window_successful_calls)?;
                map.serialize_entry("window_slow_calls", &m.window_slow_calls)?;
                map.serialize_entry("successful_calls", &m.successful_calls)?;
                map.serialize_entry("failed_calls", &m.failed_calls)?;
                map.serialize_entry("slow_calls", &m.slow_calls)?;
                map.serialize_entry("ignored_calls", &m.ignored_calls)?;
                map.serialize_entry("not_permitted_calls", &m.not_permitted_calls)?;
                map.serialize_entry("store_errors", &m.store_errors)?;
                map.serialize_entry("state_duration", &Grammar(m.state_duration))?;
                map.serialize_entry("open_duration", &Grammar(m.open_duration))?;
                map.serialize_entry("outage_duration", &outage_duration.map(Grammar))?;
            }
            PolicyMetrics::Bulkhead(m) => {
                map.serialize_entry("available_concurrent_calls", &m.available_concurrent_calls)?;
                map.serialize_entry(
                    "max_allowed_concurrent_calls",
                    &m.max_allowed_concurrent_calls,
                )?;
                map.serialize_entry("permitted_calls", &m.permitted_calls)?;
                map.serialize_entry("rejected_calls", &m.rejected_calls)?;
            }
            PolicyMetrics::RateLimiter(m) => {
                map.serialize_entry("available_permissions", &m.available_permissions)?;
                map.serialize_entry("waiting_calls", &m.waiting_calls)?;
                map.serialize_entry("permitted_calls", &m.permitted_calls)?;
                map.serialize_entry("waited_calls", &m.waited_calls)?;
                map.serialize_entry("rejected_calls", &m.rejected_calls)?;
                map.serialize_entry("store_errors", &m.store_errors)?;
            }
            PolicyMetrics::Retry(m) => {
                map.serialize_entry(
                    "successful_calls_without_retry",
                    &m.successful_calls_without_retry,
                )?;
                map.serialize_entry(
                    "successful_calls_with_retry",
                    &m.successful_calls_with_retry,
                )?;
                map.serialize_entry("failed_calls_without_retry", &m.failed_calls_without_retry)?;
                map.serialize_entry("failed_calls_with_retry", &m.failed_calls_with_retry)?;
                map.serialize_entry("attempts", &m.attempts)?;
            }
            PolicyMetrics::TimeLimiter(m) => {
                map.serialize_entry("successful_calls", &m.successful_calls)?;
                map.serialize_entry("failed_calls", &m.failed_calls)?;
                map.serialize_entry("timeout_calls", &m.timeout_calls)?;
            }
            PolicyMetrics::Hedge(m) => {
                map.serialize_entry("calls", &m.calls)?;
                map.serialize_entry("primary_wins", &m.primary_wins)?;
                map.serialize_entry("hedge_wins", &m.hedge_wins)?;
                map.serialize_entry("failed_calls", &m.failed_calls)?;
                map.serialize_entry("hedges_started", &m.hedges_started)?;
            }
            PolicyMetrics::RetryBudget(m) => {
                map.serialize_entry("calls", &m.calls)?;
                map.serialize_entry("retries_permitted", &m.retries_permitted)?;
                map.serialize_entry("retries_refused", &m.retries_refused)?;
                map.serialize_entry("available_retries", &m.available_retries)?;
            }
        }
        map.end()
    }
}

/// A duration serialized in the attributes' grammar.
struct Grammar(Duration);

impl Serialize for Grammar {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        grammar(&self.0, serializer)
    }
}

fn member_states<S: Serializer>(
    states: &Option<Vec<(CircuitState, usize)>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let Some(states) = states else {
        return serializer.serialize_none();
    };
    let mut map = serializer.serialize_map(Some(states.len()))?;
    for (state, count) in states {
        map.serialize_entry(&state.to_string(), count)?;
    }
    map.end()
}

fn state<S: Serializer>(state: &Option<CircuitState>, serializer: S) -> Result<S::Ok, S::Error> {
    match state {
        Some(state) => serializer.collect_str(state),
        None => serializer.serialize_none(),
    }
}

fn fallbacks<S: Serializer>(all: &[FallbackMetrics], serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Fallback<'a> {
        name: &'a str,
        error_calls: u64,
        rejection_calls: u64,
        cache_hits: u64,
        cache_misses: u64,
        method_calls: u64,
        value_calls: u64,
        sites: Vec<Site>,
    }
    #[derive(Serialize)]
    struct Site {
        #[serde(flatten)]
        call_site: CallSite,
        cache: Option<Grammar>,
        cache_capacity: Option<usize>,
    }
    serializer.collect_seq(all.iter().map(|fallback| {
        Fallback {
            name: fallback.name,
            error_calls: fallback.error_calls,
            rejection_calls: fallback.rejection_calls,
            cache_hits: fallback.cache_hits,
            cache_misses: fallback.cache_misses,
            method_calls: fallback.method_calls,
            value_calls: fallback.value_calls,
            sites: fallback
                .sites
                .iter()
                .map(|site| Site {
                    call_site: site.call_site,
                    cache: site.cache.map(Grammar),
                    cache_capacity: site.cache_capacity,
                })
                .collect(),
        }
    }))
}

impl Registry {
    /// Every named instance of the binary with its state, metrics and
    /// settings in force, and every fallback's counts, as one
    /// `serde::Serialize` value (the JSON of `GET /resilience/snapshot`).
    /// A declared instance that nothing has used yet is made now, with its
    /// declared settings, so that it can be read. A keyed family is one
    /// entry, its members' metrics summed, each member listed only with
    /// [`set_per_key_metrics`](crate::telemetry::set_per_key_metrics); no
    /// family is made for it.
    ///
    /// ```
    /// use resilience_runtime::{bulkhead, registry};
    ///
    /// #[bulkhead(name = "docs-snapshot-db", max_concurrent = 4)]
    /// fn query() -> Result<(), resilience_runtime::Error> { Ok(()) }
    ///
    /// query().unwrap();
    /// let snapshot = registry().snapshot();
    /// let db = snapshot.instances.iter().find(|i| i.name == "docs-snapshot-db").unwrap();
    /// let json = serde_json::to_value(db).unwrap();
    /// assert_eq!(json["kind"], "bulkhead");
    /// assert_eq!(json["state"], serde_json::Value::Null);
    /// assert_eq!(json["metrics"]["permitted_calls"], 1);
    /// assert_eq!(json["settings"]["max_concurrent"]["value"], 4);
    /// assert_eq!(json["settings"]["max_concurrent"]["origin"]["source"], "inline");
    /// assert_eq!(json["settings"]["max_wait"]["value"], "0s");
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let instances = self
            .instances()
            .into_iter()
            .map(|info| {
                if info.keyed {
                    return self.read_family(info);
                }
                let (state, metrics) = self.read_metrics(info.kind, &info.name);
                InstanceSnapshot {
                    kind: info.kind,
                    name: info.name,
                    state,
                    metrics,
                    settings: info.settings,
                    call_sites: info.call_sites,
                    keyed: false,
                    keys: None,
                    evicted: None,
                    member_states: None,
                    members: None,
                }
            })
            .collect();
        Snapshot {
            instances,
            fallbacks: self.fallbacks(),
        }
    }

    fn read_metrics(&self, kind: PolicyKind, name: &str) -> (Option<CircuitState>, PolicyMetrics) {
        match kind {
            PolicyKind::CircuitBreaker => {
                let breaker = self.circuit_breaker(name);
                let metrics = breaker.metrics();
                let outage_duration = breaker.outage_duration(metrics.state);
                (
                    Some(metrics.state),
                    PolicyMetrics::CircuitBreaker {
                        metrics,
                        outage_duration,
                    },
                )
            }
            PolicyKind::Bulkhead => (None, PolicyMetrics::Bulkhead(self.bulkhead(name).metrics())),
            PolicyKind::RateLimiter => (
                None,
                PolicyMetrics::RateLimiter(self.rate_limiter(name).metrics()),
            ),
            PolicyKind::Retry => (None, PolicyMetrics::Retry(self.retry(name).metrics())),
            PolicyKind::TimeLimiter => (
                None,
                PolicyMetrics::TimeLimiter(self.time_limiter(name).metrics()),
            ),
            PolicyKind::Hedge => (None, PolicyMetrics::Hedge(self.hedge(name).metrics())),
            PolicyKind::RetryBudget => (
                None,
                PolicyMetrics::RetryBudget(self.retry_budget(name).metrics()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::circuit_breaker::CircuitBreakerConfig;
    use crate::CircuitBreaker;

    #[tokio::test(start_paused = true)]
    async fn a_breakers_metrics_serialize_flat_with_durations_in_the_grammar() {
        let breaker = CircuitBreaker::new(
            "snapshot-unit",
            CircuitBreakerConfig::default().failure_threshold(1),
        )
        .unwrap();
        breaker.try_acquire().unwrap().success();
        breaker.try_acquire().unwrap().failure();
        tokio::time::advance(Duration::from_millis(1500)).await;
        let metrics = breaker.metrics();
        let json = serde_json::to_value(PolicyMetrics::CircuitBreaker {
            metrics,
            outage_duration: breaker.outage_duration(metrics.state),
        })
        .unwrap();
        assert_eq!(
            json,
            json!({
                "failure_rate": null,
                "slow_call_rate": null,
                "window_calls": 0,
                "window_failed_calls": 0,
                "window_successful_calls": 0,
                "window_slow_calls": 0,
                "successful_calls": 1,
                "failed_calls": 1,
                "slow_calls": 0,
                "ignored_calls": 0,
                "not_permitted_calls": 0,
                "store_errors": 0,
                "state_duration": "1s500ms",
                "open_duration": "1s500ms",
                "outage_duration": "1s500ms",
            })
        );
    }
}
