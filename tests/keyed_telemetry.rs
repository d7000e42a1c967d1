//! Keyed families as operators see them: listed once as a family with its
//! key count, never as a plain instance of the family's name; the snapshot
//! sums the members, and lists them one by one only when per-key detail is
//! on; health judges a family of breakers by its open members.

mod common;

use std::time::Duration;

use common::AppError;
use resilience_runtime::config::PolicyKind;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::telemetry::{self, HealthRules, ReasonCode};
use resilience_runtime::{circuit_breaker, rate_limiter, registry, CircuitState};
use serde_json::{json, Value};
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::advance;

/// Held by the tests that turn per-key detail on or judge health, which are
/// global to the process.
async fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

fn snapshot_of(kind: PolicyKind, name: &str) -> Value {
    let snapshot = registry().snapshot();
    let found: Vec<_> = snapshot
        .instances
        .iter()
        .filter(|i| i.kind == kind && i.name == name)
        .collect();
    assert_eq!(found.len(), 1, "{name} is listed once");
    serde_json::to_value(found[0]).unwrap()
}

#[circuit_breaker(name = "kt-listed", key = host, failure_threshold = 1, recovery_timeout = "1h")]
fn listed(host: &str) -> Result<(), AppError> {
    let _ = host;
    Ok(())
}

#[circuit_breaker(name = "kt-never-called", key = host)]
fn never_called(host: &str) -> Result<(), AppError> {
    let _ = host;
    Ok(())
}

#[test]
fn a_family_is_listed_once_with_its_keys_and_no_plain_instance_is_made() {
    listed("a.example").unwrap();
    listed("b.example").unwrap();
    registry().rate_limiter_family("kt-by-lookup");

    let instances = registry().instances();
    let entry = |kind: PolicyKind, name: &str| {
        let found: Vec<_> = instances
            .iter()
            .filter(|i| i.kind == kind && i.name == name)
            .collect();
        assert_eq!(found.len(), 1, "{name} is listed once");
        serde_json::to_value(found[0]).unwrap()
    };
    let hosts = entry(PolicyKind::CircuitBreaker, "kt-listed");
    assert_eq!(
        (&hosts["keyed"], &hosts["keys"], &hosts["in_use"]),
        (&json!(true), &json!(2), &json!(true))
    );
    assert_eq!(hosts["call_sites"][0]["function"], "listed");
    assert_eq!(hosts["settings"]["failure_threshold"]["value"], 1);
    let idle = entry(PolicyKind::CircuitBreaker, "kt-never-called");
    assert_eq!(
        (&idle["keyed"], &idle["keys"], &idle["in_use"]),
        (&json!(true), &json!(0), &json!(false))
    );
    let lookup = entry(PolicyKind::RateLimiter, "kt-by-lookup");
    assert_eq!(
        (&lookup["keyed"], &lookup["keys"]),
        (&json!(true), &json!(0))
    );
    assert!(registry()
        .instances()
        .to_string()
        .contains("kt-listed (keyed, 2 keys)"));

    // Every reader of the registry, and then no plain instance of the names.
    registry().snapshot();
    registry().health();
    for name in ["kt-listed", "kt-never-called"] {
        assert!(registry().find_circuit_breaker(name).is_none(), "{name}");
        assert!(registry()
            .circuit_breakers()
            .iter()
            .all(|b| b.name() != name));
    }
    assert!(registry().find_rate_limiter("kt-by-lookup").is_none());
    assert!(registry()
        .rate_limiters()
        .iter()
        .all(|l| l.name() != "kt-by-lookup"));
    let idle = snapshot_of(PolicyKind::CircuitBreaker, "kt-never-called");
    assert_eq!((&idle["keys"], &idle["evicted"]), (&json!(0), &json!(0)));
    assert!(
        registry()
            .instances()
            .iter()
            .any(|i| i.name == "kt-never-called" && !i.in_use),
        "the snapshot made no family"
    );
}

#[circuit_breaker(name = "kt-both", failure_threshold = 3)]
fn both_plain() -> Result<(), AppError> {
    Ok(())
}

#[circuit_breaker(name = "kt-both", key = host, failure_threshold = 3)]
fn both_keyed(host: &str) -> Result<(), AppError> {
    let _ = host;
    Ok(())
}

#[test]
fn a_name_both_plain_and_keyed_attributes_use_is_listed_once_each_way() {
    both_plain().unwrap();
    both_keyed("a").unwrap();
    let listed: Vec<_> = registry()
        .instances()
        .into_iter()
        .filter(|i| i.name == "kt-both")
        .map(|i| (i.keyed, i.keys, i.call_sites[0].function))
        .collect();
    assert_eq!(
        listed,
        [(false, None, "both_plain"), (true, Some(1), "both_keyed")]
    );
    assert!(registry().find_circuit_breaker("kt-both").is_some());
}

#[rate_limiter(name = "kt-tenants", key = tenant, max_tokens = 3, refill_rate = 0.0)]
fn search(tenant: &str) -> Result<(), AppError> {
    let _ = tenant;
    Ok(())
}

#[circuit_breaker(name = "kt-hosts", key = host, failure_threshold = 1, recovery_timeout = "1h")]
fn fetch(host: &str, fail: bool) -> Result<(), AppError> {
    let _ = host;
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

#[tokio::test]
async fn the_snapshot_sums_a_familys_members_and_lists_them_only_per_key() {
    let _guard = exclusive().await;
    for _ in 0..2 {
        search("acme").unwrap();
    }
    for _ in 0..3 {
        search("globex").unwrap();
    }
    assert!(search("globex").is_err());
    fetch("a.example", true).unwrap_err();
    fetch("b.example", false).unwrap();
    fetch("b.example", false).unwrap();

    let tenants = snapshot_of(PolicyKind::RateLimiter, "kt-tenants");
    assert_eq!(tenants["keyed"], true);
    assert_eq!(tenants["keys"], 2);
    assert_eq!(tenants["evicted"], 0);
    assert_eq!(tenants["state"], Value::Null);
    assert_eq!(tenants["member_states"], Value::Null);
    assert_eq!(tenants["members"], Value::Null, "per key is opt-in");
    assert_eq!(tenants["metrics"]["permitted_calls"], 5);
    assert_eq!(tenants["metrics"]["rejected_calls"], 1);
    assert_eq!(tenants["metrics"]["available_permissions"], 1.0);
    assert_eq!(tenants["settings"]["max_tokens"]["value"], 3);

    let hosts = snapshot_of(PolicyKind::CircuitBreaker, "kt-hosts");
    assert_eq!(hosts["state"], Value::Null, "a family is no one breaker");
    assert_eq!(
        hosts["member_states"],
        json!({"CLOSED": 1, "OPEN": 1, "HALF_OPEN": 0, "FORCED_OPEN": 0, "DISABLED": 0, "METRICS_ONLY": 0})
    );
    assert_eq!(hosts["metrics"]["successful_calls"], 2);
    assert_eq!(hosts["metrics"]["failed_calls"], 1);
    assert_ne!(
        hosts["metrics"]["outage_duration"],
        Value::Null,
        "a.example refuses calls"
    );

    telemetry::set_per_key_metrics(true);
    let tenants = snapshot_of(PolicyKind::RateLimiter, "kt-tenants");
    let hosts = snapshot_of(PolicyKind::CircuitBreaker, "kt-hosts");
    telemetry::set_per_key_metrics(false);
    let members = tenants["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["key"], "acme");
    assert_eq!(members[0]["state"], Value::Null);
    assert_eq!(members[0]["metrics"]["permitted_calls"], 2);
    assert_eq!(members[1]["key"], "globex");
    assert_eq!(members[1]["metrics"]["rejected_calls"], 1);
    assert_eq!(tenants["metrics"]["permitted_calls"], 5, "the sums stay");
    assert_eq!(hosts["members"][0]["key"], "a.example");
    assert_eq!(hosts["members"][0]["state"], "OPEN");
    assert_eq!(hosts["members"][1]["state"], "CLOSED");
}

#[circuit_breaker(name = "kt-health-hosts", key = host, failure_threshold = 1, recovery_timeout = "1h")]
fn probe(host: &str, fail: bool) -> Result<(), AppError> {
    let _ = host;
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

/// The health of the family `name`, if it is not healthy.
fn family_health(name: &str) -> Option<Value> {
    let health = registry().health();
    let found: Vec<_> = health.instances.iter().filter(|i| i.name == name).collect();
    assert!(found.len() <= 1);
    found
        .first()
        .map(|instance| serde_json::to_value(instance).unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_family_is_degraded_while_a_key_is_open_critical_past_open_alert_after_healthy_after_a_reset(
) {
    let _guard = exclusive().await;
    registry()
        .set_health_rules(HealthRules::default().open_alert_after(Duration::from_secs(2)))
        .unwrap();
    probe("b.example", false).unwrap();
    assert_eq!(family_health("kt-health-hosts"), None);

    probe("a.example", true).unwrap_err();
    let degraded = family_health("kt-health-hosts").unwrap();
    assert_eq!(
        degraded,
        json!({
            "kind": "circuit_breaker",
            "name": "kt-health-hosts",
            "keyed": true,
            "status": "degraded",
            "reasons": [{
                "code": "circuit_open",
                "message": "1 of 2 keys refusing calls (a.example OPEN), the longest for 0s; critical after 2s",
            }],
        })
    );

    advance(Duration::from_secs(3)).await;
    let critical = family_health("kt-health-hosts").unwrap();
    assert_eq!(critical["status"], "critical");
    assert_eq!(critical["reasons"][0]["code"], "open_too_long");

    let hosts = registry().circuit_breaker_family("kt-health-hosts");
    hosts.find("a.example").unwrap().reset();
    assert_eq!(family_health("kt-health-hosts"), None);
    assert!(registry()
        .circuit_breakers()
        .iter()
        .all(|b| b.name() != "kt-health-hosts"));
    assert_eq!(
        hosts.find("b.example").unwrap().state(),
        CircuitState::Closed
    );
    registry().set_health_rules(HealthRules::default()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_family_rejecting_over_a_tenth_of_its_summed_calls_is_degraded() {
    let _guard = exclusive().await;
    // The baseline on this test's clock: a family made after it starts from
    // zero then, not at the last evaluation of another test's paused clock.
    registry().health();
    registry()
        .configure_rate_limiter(
            "kt-health-tenants",
            RateLimiterConfig::default().max_tokens(1).refill_rate(0.0),
        )
        .unwrap();
    let tenants = registry().rate_limiter_family("kt-health-tenants");
    // The first evaluation of a family samples it: nothing to compare with yet.
    assert_eq!(family_health("kt-health-tenants"), None);
    assert!(tenants.get("x").try_acquire().is_ok());
    assert!(tenants.get("x").try_acquire().is_err());
    assert!(tenants.get("y").try_acquire().is_ok());
    advance(Duration::from_secs(1)).await;
    let degraded = family_health("kt-health-tenants").unwrap();
    assert_eq!(degraded["keyed"], true);
    assert_eq!(
        degraded["reasons"][0]["code"],
        ReasonCode::RejectionRate.as_str()
    );
    assert_eq!(
        degraded["reasons"][0]["message"],
        "rejected 33.3% of 3 calls over the last 1s, more than 10%"
    );
}
