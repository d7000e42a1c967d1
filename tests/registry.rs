//! The registry of named instances: sharing by name, one instance per
//! unnamed function, registry configuration over inline arguments, config
//! errors, and conflicting call sites reported with both places.

mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use common::AppError;
use resilience_runtime::bulkhead::BulkheadConfig;
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::config::PolicyKind;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::{circuit_breaker, rate_limiter, registry, CircuitState, Conflict, Error};

fn fail(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

/// The name of the breaker whose open circuit rejected `result`.
fn open_circuit(result: Result<(), AppError>) -> String {
    match result {
        Err(AppError::Resilience(Error::CircuitOpen { name, .. })) => name.to_string(),
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
}

static SHARED_B_RUNS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(name = "reg-shared", failure_threshold = 2)]
fn shared_a(failing: bool) -> Result<(), AppError> {
    fail(failing)
}

#[circuit_breaker(name = "reg-shared", failure_threshold = 2)]
fn shared_b() -> Result<(), AppError> {
    SHARED_B_RUNS.fetch_add(1, SeqCst);
    Ok(())
}

#[test]
fn functions_naming_one_breaker_share_its_state() {
    assert!(shared_a(true).is_err());
    assert!(shared_a(true).is_err());
    assert_eq!(open_circuit(shared_b()), "reg-shared");
    assert_eq!(SHARED_B_RUNS.load(SeqCst), 0);

    let breaker = registry().circuit_breaker("reg-shared");
    assert_eq!(breaker.state(), CircuitState::Open);
    assert!(Arc::ptr_eq(
        &breaker,
        &registry().circuit_breaker("reg-shared")
    ));
    // Same arguments at both sites: nothing to report.
    let conflicts = registry().conflicts();
    assert!(conflicts.iter().all(|c| c.name != "reg-shared"));
}

#[rate_limiter(name = "reg-shared-bucket", max_tokens = 1, refill_rate = 0.001)]
fn bucket_a() -> Result<(), AppError> {
    Ok(())
}

#[rate_limiter(name = "reg-shared-bucket", max_tokens = 1, refill_rate = 0.001)]
fn bucket_b() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn functions_naming_one_rate_limiter_share_its_bucket() {
    assert!(bucket_a().is_ok());
    assert!(matches!(
        bucket_b(),
        Err(AppError::Resilience(Error::RateLimited { .. }))
    ));
}

#[circuit_breaker(failure_threshold = 1)]
fn unnamed_a(failing: bool) -> Result<(), AppError> {
    fail(failing)
}

#[circuit_breaker(failure_threshold = 1)]
fn unnamed_b(failing: bool) -> Result<(), AppError> {
    fail(failing)
}

#[test]
fn each_unnamed_function_has_its_own_breaker() {
    assert!(unnamed_a(true).is_err());
    // Named after its function, and kept out of the registry.
    assert_eq!(open_circuit(unnamed_a(false)), "unnamed_a");
    assert!(unnamed_b(false).is_ok());
    assert!(registry()
        .circuit_breakers()
        .iter()
        .all(|breaker| !breaker.name().starts_with("unnamed_")));
}

#[circuit_breaker(name = "reg-configured", failure_threshold = 5)]
fn configured(failing: bool) -> Result<(), AppError> {
    fail(failing)
}

#[test]
fn registry_configuration_given_before_first_use_beats_inline_arguments() {
    let config = CircuitBreakerConfig::default().failure_threshold(1);
    registry()
        .configure_circuit_breaker("reg-configured", config.clone())
        .unwrap();
    assert!(configured(true).is_err());
    assert_eq!(open_circuit(configured(false)), "reg-configured");
    assert_eq!(
        registry().circuit_breaker("reg-configured").config(),
        &config
    );
    let unreported = registry().conflicts();
    assert!(unreported.iter().all(|c| c.name != "reg-configured"));
}

#[circuit_breaker(name = "reg-in-use", failure_threshold = 5)]
fn in_use(failing: bool) -> Result<(), AppError> {
    fail(failing)
}

#[test]
fn configuring_an_instance_in_use_takes_effect_at_once() {
    in_use(false).unwrap();
    registry()
        .configure_circuit_breaker(
            "reg-in-use",
            CircuitBreakerConfig::default().failure_threshold(1),
        )
        .unwrap();
    assert!(in_use(true).is_err());
    assert_eq!(open_circuit(in_use(false)), "reg-in-use");

    // A handle lookup's instance takes code configuration too.
    let bulkhead = registry().bulkhead("reg-looked-up");
    registry()
        .configure_bulkhead("reg-looked-up", BulkheadConfig::default().max_concurrent(3))
        .unwrap();
    assert_eq!(bulkhead.max_concurrent(), 3);
}

#[test]
fn invalid_configurations_fail_with_the_key_and_the_reason() {
    let registry = registry();
    let rate = CircuitBreakerConfig::default().failure_rate_threshold(1.5);
    let error = registry
        .configure_circuit_breaker("reg-invalid", rate)
        .unwrap_err();
    assert_eq!(error.key(), "failure_rate_threshold");
    assert_eq!(error.reason(), "must be in (0, 1], got 1.5");

    let error = registry
        .configure_bulkhead("reg-invalid", BulkheadConfig::default().max_concurrent(0))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `max_concurrent`: must be at least 1"
    );

    let negative_rate = RateLimiterConfig::default().refill_rate(-1.0);
    let error = registry
        .configure_rate_limiter("reg-invalid", negative_rate)
        .unwrap_err();
    assert_eq!(error.key(), "refill_rate");

    // A rejected configuration leaves the name free to configure.
    let valid = CircuitBreakerConfig::default().failure_threshold(2);
    registry
        .configure_circuit_breaker("reg-invalid", valid)
        .unwrap();
}

const FIRST_LINE: u32 = line!() + 1;
#[circuit_breaker(name = "reg-conflict", failure_threshold = 2)]
fn conflict_first(failing: bool) -> Result<(), AppError> {
    fail(failing)
}

const SECOND_LINE: u32 = line!() + 1;
#[circuit_breaker(name = "reg-conflict", failure_threshold = 7)]
fn conflict_second(failing: bool) -> Result<(), AppError> {
    fail(failing)
}

#[test]
fn different_inline_arguments_for_one_name_are_reported_naming_both_sites() {
    let conflicts: Vec<Conflict> = registry()
        .conflicts()
        .into_iter()
        .filter(|c| c.name == "reg-conflict")
        .collect();
    assert_eq!(conflicts.len(), 1);
    let conflict = &conflicts[0];
    assert_eq!(conflict.kind, PolicyKind::CircuitBreaker);
    let first = conflict.first;
    assert_eq!(
        (first.function, first.file, first.line),
        ("conflict_first", file!(), FIRST_LINE)
    );
    let second = conflict.second;
    assert_eq!(
        (second.function, second.file, second.line),
        ("conflict_second", file!(), SECOND_LINE)
    );
    let message = conflict.to_string();
    assert!(message.contains("conflict_first") && message.contains("conflict_second"));

    conflict_first(false).unwrap();
    conflict_second(false).unwrap();

    // The first configuration stays in use, for both functions.
    assert_eq!(
        registry()
            .circuit_breaker("reg-conflict")
            .config()
            .failure_threshold,
        2
    );
    assert!(conflict_second(true).is_err());
    assert!(conflict_second(true).is_err());
    assert_eq!(open_circuit(conflict_first(false)), "reg-conflict");
}

#[circuit_breaker(name = "reg-list-b")]
fn listed_b() -> Result<(), AppError> {
    Ok(())
}

#[circuit_breaker(name = "reg-list-a")]
fn listed_a() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn circuit_breakers_lists_the_named_instances_sorted_by_name() {
    listed_b().unwrap();
    listed_a().unwrap();
    let names: Vec<String> = registry()
        .circuit_breakers()
        .iter()
        .map(|breaker| breaker.name().to_owned())
        .collect();
    let a = names.iter().position(|name| name == "reg-list-a");
    let b = names.iter().position(|name| name == "reg-list-b");
    assert!(matches!((a, b), (Some(a), Some(b)) if a < b), "{names:?}");
    assert!(names.is_sorted());
}
