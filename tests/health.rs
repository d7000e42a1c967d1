//! `registry().health()` and `registry().snapshot()` as a service's probe and
//! admin routes read them: the JSON of each, the rules with their thresholds
//! from the configuration's `[health]` table, alerts reported once when they
//! start and once when they clear, and `watch_health` raising them with no
//! probe calling.
//!
//! Health is judged over every instance of the binary, so each test holds
//! `exclusive()` throughout and leaves its instances healthy.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::AppError;
use resilience_runtime::config::{Config, PolicyKind};
use resilience_runtime::telemetry::{watch_health, HealthStatus, ReasonCode};
use resilience_runtime::{
    bulkhead, circuit_breaker, fallback, rate_limiter, registry, Event, ListenerId,
};
use serde_json::{json, Value};
use tokio::sync::{Mutex as AsyncMutex, MutexGuard};
use tokio::time::advance;

static LOCK: AsyncMutex<()> = AsyncMutex::const_new(());

async fn exclusive() -> MutexGuard<'static, ()> {
    LOCK.lock().await
}

fn apply(text: &str) -> String {
    let config = Config::from_toml_str(text).unwrap_or_else(|errors| panic!("{errors}"));
    registry()
        .apply(&config)
        .unwrap_or_else(|errors| panic!("{errors}"))
        .to_string()
}

fn health_json() -> Value {
    serde_json::to_value(registry().health()).unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The `HealthChanged` events of one instance, as `from -> to`, until dropped.
struct Alerts {
    id: ListenerId,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Alerts {
    fn of(instance: &'static str) -> Alerts {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let id = registry().on_event(move |event| {
            if let Event::HealthChanged { name, from, to, .. } = event {
                if *name == instance {
                    sink.lock().unwrap().push(format!("{from} -> {to}"));
                }
            }
        });
        Alerts { id, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Alerts {
    fn drop(&mut self) {
        registry().remove_listener(self.id);
    }
}

#[circuit_breaker(
    name = "health-inventory",
    failure_threshold = 1,
    recovery_timeout = "1s"
)]
fn inventory(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn health_turns_degraded_when_a_breaker_opens_critical_past_open_alert_after_and_healthy_after_a_reset(
) {
    let _guard = exclusive().await;
    let alerts = Alerts::of("health-inventory");
    let report = apply("[health]\nopen_alert_after = \"2s\"\n");
    assert_eq!(
        report,
        "health.open_alert_after: \"5m\" -> \"2s\" (config table)\n"
    );
    assert_eq!(registry().health_rules().open_alert_after, secs(2));
    inventory(false).unwrap();
    assert_eq!(
        health_json(),
        json!({
            "status": "healthy",
            "instances": [],
            "rules": {"open_alert_after": "2s", "failure_rate_alert": 0.3, "rejection_rate_alert": 0.1},
        })
    );

    assert!(inventory(true).is_err());
    let health = health_json();
    assert_eq!(health["status"], "degraded");
    assert_eq!(
        health["instances"],
        json!([{
            "kind": "circuit_breaker",
            "name": "health-inventory",
            "keyed": false,
            "status": "degraded",
            "reasons": [{"code": "circuit_open", "message": "OPEN, refusing calls for 0s; critical after 2s"}],
        }])
    );

    // The probe after the open time fails and reopens the circuit: still the
    // same outage, whose time keeps running.
    advance(Duration::from_millis(1500)).await;
    assert!(matches!(inventory(true), Err(AppError::Transient)));
    assert_eq!(
        registry().circuit_breaker("health-inventory").state(),
        resilience_runtime::CircuitState::Open
    );
    assert_eq!(health_json()["status"], "degraded");
    advance(Duration::from_millis(900)).await;
    let health = health_json();
    assert_eq!(health["status"], "critical");
    let reason = &health["instances"][0]["reasons"][0];
    assert_eq!(reason["code"], "open_too_long");
    // 2.4 s, less the few microseconds by which another test's runtime may
    // have made the breaker later than this one started.
    let message = reason["message"].as_str().unwrap();
    assert!(
        message.starts_with("OPEN, refusing calls for 2s") && message.ends_with(", longer than 2s"),
        "{message}"
    );
    assert_eq!(health_json()["status"], "critical");

    registry().circuit_breaker("health-inventory").reset();
    assert_eq!(health_json()["status"], "healthy");
    assert_eq!(health_json()["instances"], json!([]));
    assert_eq!(
        alerts.seen(),
        [
            "healthy -> degraded",
            "degraded -> critical",
            "critical -> healthy"
        ]
    );

    // A configuration without `[health]` returns the rules to their defaults.
    assert_eq!(
        apply(""),
        "health.open_alert_after: \"2s\" -> \"5m\" (built-in default)\n"
    );
}

#[bulkhead(name = "health-db", max_concurrent = 1)]
fn query() -> Result<(), AppError> {
    Ok(())
}

#[rate_limiter(name = "health-pricing", max_tokens = 1, refill_rate = 0.001)]
fn price() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn bulkheads_and_rate_limiters_rejecting_over_a_tenth_of_the_last_minute_are_degraded() {
    let _guard = exclusive().await;
    let db = Alerts::of("health-db");
    let pricing = Alerts::of("health-pricing");
    // The baseline: the counts now, or zero for an instance made after it.
    assert_eq!(registry().health().status, HealthStatus::Healthy);
    query().unwrap();

    let bulkhead = registry().bulkhead("health-db");
    let slot = bulkhead.try_acquire().unwrap();
    assert!(query().is_err());
    assert!(query().is_err());
    drop(slot);
    for _ in 0..8 {
        query().unwrap();
    }
    price().unwrap();
    assert!(price().is_err());
    advance(secs(10)).await;
    let health = registry().health();
    assert_eq!(health.status, HealthStatus::Degraded);
    let listed: Vec<(PolicyKind, &str, ReasonCode, &str)> = health
        .instances
        .iter()
        .map(|instance| {
            let message = instance.reasons[0].message.as_str();
            // The span is the ten seconds advanced here, or a little more
            // when the baseline is another test's evaluation.
            assert!(
                message.contains(" calls over the last 10s")
                    && message.ends_with(", more than 10%"),
                "{message}"
            );
            let rate = message.split(" over ").next().unwrap();
            (
                instance.kind,
                instance.name.as_str(),
                instance.reasons[0].code,
                rate,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                PolicyKind::RateLimiter,
                "health-pricing",
                ReasonCode::RejectionRate,
                "rejected 50% of 2 calls"
            ),
            (
                PolicyKind::Bulkhead,
                "health-db",
                ReasonCode::RejectionRate,
                // The slot taken by hand is a call too.
                "rejected 16.7% of 12 calls"
            ),
        ]
    );

    // Judged from the oldest sample of the last minute: the rejections stay
    // in it until the samples taken before them are older than a minute.
    advance(secs(45)).await;
    assert_eq!(registry().health().status, HealthStatus::Degraded);
    advance(secs(10)).await;
    assert_eq!(registry().health().status, HealthStatus::Healthy);
    assert_eq!(db.seen(), ["healthy -> degraded", "degraded -> healthy"]);
    assert_eq!(
        pricing.seen(),
        ["healthy -> degraded", "degraded -> healthy"]
    );
}

#[circuit_breaker(name = "health-search", failure_rate_threshold = 0.9, window_size = 10)]
fn search(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

#[tokio::test]
async fn a_failure_rate_at_the_alert_degrades_a_breaker_that_is_still_closed() {
    let _guard = exclusive().await;
    for fail in [false, true, false, false, true, false, false, true, false] {
        let _ = search(fail);
    }
    // Nine calls: the window of ten is not judged yet.
    assert_eq!(registry().health().status, HealthStatus::Healthy);
    search(false).unwrap();
    let health = health_json();
    assert_eq!(health["status"], "degraded");
    assert_eq!(
        health["instances"][0]["reasons"],
        json!([{
            "code": "failure_rate",
            "message": "failure rate 30% over the 10 calls of its window, at or above 30%"
        }])
    );
    assert_eq!(
        registry().circuit_breaker("health-search").state(),
        resilience_runtime::CircuitState::Closed
    );
    registry().circuit_breaker("health-search").reset();
    assert_eq!(registry().health().status, HealthStatus::Healthy);
}

#[tokio::test(start_paused = true)]
async fn watch_health_raises_and_clears_alerts_with_no_probe_calling() {
    let _guard = exclusive().await;
    let breaker = registry().circuit_breaker("health-watched");
    let alerts = Alerts::of("health-watched");
    let watcher = watch_health(secs(1));
    // Its first evaluation runs at once.
    tokio::task::yield_now().await;
    breaker.force_open();
    assert!(alerts.seen().is_empty());
    advance(secs(1)).await;
    tokio::task::yield_now().await;
    assert_eq!(alerts.seen(), ["healthy -> degraded"]);
    advance(secs(5 * 60)).await;
    tokio::task::yield_now().await;
    assert_eq!(
        alerts.seen(),
        ["healthy -> degraded", "degraded -> critical"]
    );
    breaker.reset();
    advance(secs(1)).await;
    tokio::task::yield_now().await;
    assert_eq!(
        alerts.seen(),
        [
            "healthy -> degraded",
            "degraded -> critical",
            "critical -> healthy"
        ]
    );
    watcher.abort();
}

#[tokio::test]
async fn a_broken_health_table_refuses_the_whole_configuration() {
    let _guard = exclusive().await;
    let before = registry().health_rules();
    // Read through serde, so that `apply` is the one to find the problem.
    let config: Config = toml::from_str(
        "[bulkhead.health-db]\nmax_concurrent = 3\n[health]\nopen_alert_after = 10\nfailure_rate_alert = 0.5\n",
    )
    .unwrap();
    let errors = registry().apply(&config).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "`health.open_alert_after`: a duration needs a unit; write `open_alert_after = \"10s\"` for seconds or `\"10ms\"` for milliseconds"
    );
    assert_eq!(registry().bulkhead("health-db").max_concurrent(), 1);
    assert_eq!(registry().health_rules(), before);

    let errors = Config::from_toml_str("[helth]\nopen_alert_after = \"1m\"\n").unwrap_err();
    assert_eq!(
        errors.to_string(),
        "line 1, column 2: `helth`: unknown table; did you mean `[health]`?"
    );
}

#[circuit_breaker(name = "health-snapshot-stock", failure_threshold = 3)]
fn stock() -> Result<u32, AppError> {
    Err(AppError::Transient)
}

#[fallback(value = 0)]
#[circuit_breaker(name = "health-snapshot-catalog", recovery_timeout = "45s")]
fn catalog() -> Result<u32, AppError> {
    Err(AppError::Permanent)
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_shows_every_declared_instance_with_its_state_metrics_and_settings() {
    let _guard = exclusive().await;
    assert!(stock().is_err());
    assert_eq!(catalog().unwrap(), 0);
    let snapshot = serde_json::to_value(registry().snapshot()).unwrap();
    let instance = |name: &str| {
        snapshot["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|instance| instance["name"] == name)
            .unwrap_or_else(|| panic!("`{name}` is not in the snapshot"))
            .clone()
    };

    let stock = instance("health-snapshot-stock");
    assert_eq!(stock["kind"], "circuit_breaker");
    assert_eq!(stock["state"], "CLOSED");
    assert_eq!(stock["metrics"]["failed_calls"], 1);
    assert_eq!(stock["metrics"]["successful_calls"], 0);
    assert_eq!(stock["metrics"]["failure_rate"], Value::Null);
    assert_eq!(stock["metrics"]["outage_duration"], Value::Null);
    assert_eq!(
        stock["settings"]["failure_threshold"]["value"],
        json!(3),
        "{stock}"
    );
    let origin = &stock["settings"]["failure_threshold"]["origin"];
    assert_eq!(origin["source"], "inline");
    assert_eq!(origin["call_site"]["function"], "stock");
    assert_eq!(origin["call_site"]["file"], "tests/health.rs");
    assert_eq!(
        stock["settings"]["recovery_timeout"],
        json!({"value": "30s", "origin": {"source": "built_in"}})
    );
    assert_eq!(
        stock["settings"]["failure_rate_threshold"]["value"],
        Value::Null
    );
    assert_eq!(stock["call_sites"][0]["function"], "stock");
    let mut keys: Vec<&str> = stock["metrics"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "failed_calls",
            "failure_rate",
            "ignored_calls",
            "not_permitted_calls",
            "open_duration",
            "outage_duration",
            "slow_call_rate",
            "slow_calls",
            "state_duration",
            "store_errors",
            "successful_calls",
            "window_calls",
            "window_failed_calls",
            "window_slow_calls",
            "window_successful_calls",
        ]
    );

    // Declared, never called: made for the snapshot, with its declared settings.
    let bulkhead = instance("health-db");
    assert_eq!(bulkhead["kind"], "bulkhead");
    assert_eq!(bulkhead["state"], Value::Null);
    assert_eq!(
        bulkhead["metrics"]["max_allowed_concurrent_calls"],
        json!(1)
    );

    let fallback = snapshot["fallbacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|fallback| fallback["name"] == "catalog")
        .unwrap()
        .clone();
    let site = &fallback["sites"][0];
    assert_eq!(site["function"], "catalog");
    assert_eq!(site["file"], "tests/health.rs");
    assert_eq!(
        fallback,
        json!({
            "name": "catalog", "error_calls": 1, "rejection_calls": 0,
            "cache_hits": 0, "cache_misses": 0, "method_calls": 0, "value_calls": 1,
            "sites": [{
                "function": "catalog", "file": "tests/health.rs",
                "line": site["line"], "column": site["column"],
                "cache": null, "cache_capacity": null
            }]
        })
    );

    // The listing of `instances()` has the same settings, and its call sites.
    let listed = serde_json::to_value(registry().instances()).unwrap();
    let catalog = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|instance| instance["name"] == "health-snapshot-catalog")
        .unwrap();
    assert_eq!(catalog["kind"], "circuit_breaker");
    assert_eq!(catalog["in_use"], true);
    assert_eq!(catalog["settings"]["recovery_timeout"]["value"], "45s");
    assert_eq!(catalog["call_sites"][0]["function"], "catalog");
}

#[cfg(feature = "tracing")]
#[path = "tracing_capture/mod.rs"]
mod tracing_capture;

#[cfg(feature = "tracing")]
mod traced {
    use resilience_runtime::registry;
    use tracing::Level;

    use super::tracing_capture::{Capture, Captured};

    #[test]
    fn a_health_alert_is_a_warn_when_raised_and_an_info_when_cleared() {
        let _guard = super::LOCK.blocking_lock();
        let breaker = registry().circuit_breaker("health-traced");
        let capture = Capture::default();
        // The other tests here read health on threads with no subscriber.
        let _registered = capture.registered();
        tracing::subscriber::with_default(capture.clone(), || {
            registry().health();
            breaker.force_open();
            registry().health();
            registry().health();
            breaker.reset();
            registry().health();
        });
        let alerts: Vec<Captured> = capture
            .about("health-traced")
            .into_iter()
            .filter(|(_, fields)| fields["message"].starts_with("health alert"))
            .collect();
        assert_eq!(alerts.len(), 2, "{alerts:?}");
        let (level, raised) = &alerts[0];
        assert_eq!(*level, Level::WARN);
        assert_eq!(raised["kind"], "circuit_breaker");
        assert_eq!(
            (raised["from"].as_str(), raised["to"].as_str()),
            ("healthy", "degraded")
        );
        assert!(
            raised["message"]
                .starts_with("health alert raised: circuit_open: FORCED_OPEN, refusing calls for "),
            "{}",
            raised["message"]
        );
        let (level, cleared) = &alerts[1];
        assert_eq!(*level, Level::INFO);
        assert_eq!(
            (cleared["from"].as_str(), cleared["to"].as_str()),
            ("degraded", "healthy")
        );
        assert_eq!(cleared["message"], "health alert cleared");
    }
}
