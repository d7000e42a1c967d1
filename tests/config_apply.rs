//! Applying configuration to the registry: instances known before any call,
//! the precedence of every layer, reports, warnings, and an apply that fails
//! whole. Tests here share the registry's one applied configuration, so each
//! holds `exclusive()` while it applies and checks.

mod common;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use common::AppError;
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::config::{Config, Origin, PolicyKind, Value};
use resilience_runtime::{
    bulkhead, circuit_breaker, rate_limiter, registry, retry, Error, Event, InstanceInfo,
};

fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn apply(text: &str) -> resilience_runtime::config::ApplyReport {
    let config = Config::from_toml_str(text).unwrap_or_else(|errors| panic!("{errors}"));
    registry()
        .apply(&config)
        .unwrap_or_else(|errors| panic!("{errors}"))
}

fn instance(kind: PolicyKind, name: &str) -> InstanceInfo {
    registry()
        .instances()
        .iter()
        .find(|instance| instance.kind == kind && instance.name == name)
        .unwrap_or_else(|| panic!("{kind} `{name}` is not listed"))
        .clone()
}

/// `(value, origin)` of one setting, as `instances()` lists it.
fn setting(kind: PolicyKind, name: &str, key: &str) -> (Value, Origin) {
    let instance = instance(kind, name);
    let setting = instance
        .settings
        .iter()
        .find(|setting| setting.key == key)
        .unwrap_or_else(|| panic!("no setting `{key}`"));
    (setting.value, setting.origin.clone())
}

fn secs(n: u64) -> Value {
    Value::Duration(Duration::from_secs(n))
}

#[bulkhead(name = "cfg-lookup-first", max_concurrent = 1)]
fn lookup_first() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn a_lookup_before_the_first_call_gets_the_declared_instance() {
    let _guard = exclusive();
    // Looked up before anything called it: the attribute's one slot, not the default ten.
    let bulkhead = registry().bulkhead("cfg-lookup-first");
    assert_eq!(bulkhead.max_concurrent(), 1);
    let permit = bulkhead.try_acquire().unwrap();
    assert!(matches!(
        lookup_first(),
        Err(AppError::Resilience(Error::BulkheadFull { .. }))
    ));
    drop(permit);
    lookup_first().unwrap();
}

#[circuit_breaker(name = "cfg-listed", failure_threshold = 4, recovery_timeout = "5s")]
fn listed_one() -> Result<(), AppError> {
    Ok(())
}

const SECOND_SITE: u32 = line!() + 1;
#[circuit_breaker(name = "cfg-listed", failure_threshold = 4, recovery_timeout = "5s")]
fn listed_two() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn every_declared_instance_is_listed_before_any_call_with_its_call_sites() {
    let listed = instance(PolicyKind::CircuitBreaker, "cfg-listed");
    assert!(!listed.in_use, "nothing has called or looked it up");
    let sites: Vec<(&str, &str)> = listed
        .call_sites
        .iter()
        .map(|site| (site.function, site.file))
        .collect();
    assert_eq!(sites, [("listed_one", file!()), ("listed_two", file!())]);
    assert_eq!(listed.call_sites[1].line, SECOND_SITE);
    let failure_threshold = &listed.settings[0];
    assert_eq!(failure_threshold.key, "failure_threshold");
    assert_eq!(failure_threshold.value, Value::Count(4));
    assert_eq!(
        failure_threshold.origin,
        Origin::Inline(listed.call_sites[0])
    );
    // The table shows every setting with its origin and the call sites.
    let table = registry().instances().to_string();
    let row = table
        .lines()
        .find(|line| line.contains("cfg-listed"))
        .expect("a row for the instance");
    assert!(row.starts_with("circuit_breaker"), "{row}");
    assert!(
        row.contains("failure_threshold") && row.contains("listed_one ("),
        "{row}"
    );
    listed_one().unwrap();
    listed_two().unwrap();
    assert!(instance(PolicyKind::CircuitBreaker, "cfg-listed").in_use);
}

#[circuit_breaker(
    name = "cfg-precedence",
    failure_threshold = 4,
    recovery_timeout = "5s",
    window_size = 30,
    half_open_max_calls = 2
)]
fn precedence() -> Result<(), AppError> {
    Ok(())
}

const PRECEDENCE: &str = r#"
[circuit_breaker.default]
recovery_timeout = "20s"       # below the inline argument
recovery_backoff = 2.0         # nothing above it
[circuit_breaker.cfg-far]
window_size = 40               # a base beats the inline argument
max_recovery_timeout = "2m"
[circuit_breaker.cfg-near]
base = "cfg-far"
max_recovery_timeout = "1m"    # the nearer base wins
[circuit_breaker.cfg-precedence]
base = "cfg-near"
half_open_max_calls = 3        # the instance's table beats everything but code
"#;

#[test]
fn each_setting_takes_the_first_of_code_table_bases_inline_default_table_built_in() {
    let _guard = exclusive();
    apply(PRECEDENCE);
    let site = instance(PolicyKind::CircuitBreaker, "cfg-precedence").call_sites[0];
    let of = |key| setting(PolicyKind::CircuitBreaker, "cfg-precedence", key);
    assert_eq!(of("half_open_max_calls"), (Value::Count(3), Origin::Table));
    assert_eq!(
        of("max_recovery_timeout"),
        (secs(60), Origin::Base("cfg-near".into()))
    );
    assert_eq!(
        of("window_size"),
        (Value::Count(40), Origin::Base("cfg-far".into()))
    );
    assert_eq!(
        of("failure_threshold"),
        (Value::Count(4), Origin::Inline(site))
    );
    assert_eq!(of("recovery_timeout"), (secs(5), Origin::Inline(site)));
    assert_eq!(
        of("recovery_backoff"),
        (Value::Number(2.0), Origin::DefaultTable)
    );
    assert_eq!(
        of("slow_call_rate_threshold"),
        (Value::Number(1.0), Origin::BuiltIn)
    );
    assert_eq!(
        of("failure_rate_threshold"),
        (Value::Unset, Origin::BuiltIn)
    );

    // The instance made now has exactly those settings.
    precedence().unwrap();
    let config = registry()
        .circuit_breaker("cfg-precedence")
        .config()
        .clone();
    assert_eq!(config.half_open_max_calls, 3);
    assert_eq!(config.window_size, 40);
    assert_eq!(config.max_recovery_timeout, Some(Duration::from_secs(60)));
    assert_eq!(config.recovery_timeout, Duration::from_secs(5));
    assert_eq!(config.recovery_backoff, 2.0);

    // Code beats every layer, and a later apply does not undo it.
    let code = CircuitBreakerConfig::default().failure_threshold(11);
    registry()
        .configure_circuit_breaker("cfg-precedence", code.clone())
        .unwrap();
    assert_eq!(of("half_open_max_calls"), (Value::Count(1), Origin::Code));
    assert_eq!(of("failure_threshold"), (Value::Count(11), Origin::Code));
    apply(PRECEDENCE);
    assert_eq!(registry().circuit_breaker("cfg-precedence").config(), &code);
    apply("");
}

#[rate_limiter(name = "cfg-report", max_tokens = 10)]
fn reported() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn the_report_lists_each_change_and_a_removed_setting_returns_to_its_inline_value() {
    let _guard = exclusive();
    apply("");
    reported().unwrap();
    let limiter = registry().rate_limiter("cfg-report");
    let report = apply("[rate_limiter.cfg-report]\nmax_tokens = 3\nmax_wait = \"250ms\"\n");
    let ours: Vec<String> = report
        .changes
        .iter()
        .filter(|change| change.name == "cfg-report")
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        ours,
        [
            "rate_limiter.cfg-report.max_tokens: 10 -> 3 (config table)",
            "rate_limiter.cfg-report.max_wait: \"0s\" -> \"250ms\" (config table)",
        ]
    );
    assert_eq!(limiter.config().max_tokens, 3);
    assert!(limiter.available_tokens() <= 3.0);

    // Removed from the file: back to the attribute's value, and the report says so.
    let report = apply("");
    let change = report
        .changes
        .iter()
        .find(|change| change.name == "cfg-report" && change.key == "max_tokens")
        .expect("max_tokens changes back");
    assert_eq!(
        (change.old, change.new),
        (Value::Count(3), Value::Count(10))
    );
    assert!(matches!(change.origin, Origin::Inline(_)));
    assert_eq!(limiter.config().max_tokens, 10);
    assert_eq!(limiter.config().max_wait, Duration::ZERO);
}

#[retry(name = "cfg-inventory", max_attempts = 2)]
fn inventory() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn a_table_naming_no_declared_instance_is_a_warning_with_a_did_you_mean() {
    let _guard = exclusive();
    let report = apply(
        "[retry.cfg-inventroy]\nmax_attempts = 5\n\n[retry.cfg-template]\ndelay = \"1s\"\n[retry.cfg-inventory]\nbase = \"cfg-template\"\n[bulkhead.cfg-listed]\nmax_concurrent = 3\n",
    );
    let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "line 1, column 8: `retry.cfg-inventroy`: no attribute, handle lookup or `configure_*` declares this retry, and no table uses it as a `base`, so it sets nothing; did you mean `cfg-inventory`?",
            "line 8, column 11: `bulkhead.cfg-listed`: no attribute, handle lookup or `configure_*` declares this bulkhead, and no table uses it as a `base`, so it sets nothing; did you mean `[circuit_breaker.cfg-listed]`?",
        ]
    );
    assert!(report.to_string().contains("warning: line 1, column 8"));
    // The template used as a base is no warning, and its setting reaches the instance.
    assert_eq!(
        setting(PolicyKind::Retry, "cfg-inventory", "delay"),
        (secs(1), Origin::Base("cfg-template".into()))
    );
    inventory().unwrap();
    apply("");
}

#[test]
fn find_answers_none_for_a_name_nothing_declares_and_makes_nothing() {
    assert!(registry().find_circuit_breaker("cfg-nobody").is_none());
    assert!(registry().find_bulkhead("cfg-nobody").is_none());
    assert!(registry().find_rate_limiter("cfg-nobody").is_none());
    assert!(registry().find_retry("cfg-nobody").is_none());
    assert!(registry().find_time_limiter("cfg-nobody").is_none());
    assert!(registry()
        .instances()
        .iter()
        .all(|i| i.name != "cfg-nobody"));
    // Declared by an attribute, by a lookup, or in code: found.
    assert!(registry().find_bulkhead("cfg-lookup-first").is_some());
    registry().time_limiter("cfg-looked-up");
    assert!(registry().find_time_limiter("cfg-looked-up").is_some());
    registry()
        .configure_circuit_breaker("cfg-coded", CircuitBreakerConfig::default())
        .unwrap();
    assert!(registry().find_circuit_breaker("cfg-coded").is_some());
}

#[circuit_breaker(name = "cfg-atomic", window_size = 10, failure_rate_threshold = 0.5)]
fn atomic() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn an_apply_with_any_problem_changes_nothing() {
    let _guard = exclusive();
    apply("[circuit_breaker.cfg-atomic]\nrecovery_timeout = \"7s\"\n[bulkhead.cfg-lookup-first]\nmax_wait = \"1s\"\n");
    atomic().unwrap();
    let breaker = registry().circuit_breaker("cfg-atomic");
    let touched = || {
        (
            instance(PolicyKind::CircuitBreaker, "cfg-atomic"),
            instance(PolicyKind::Bulkhead, "cfg-lookup-first"),
        )
    };
    let before = touched();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let listener = registry().on_event(move |event| {
        if let Event::ConfigRejected(errors) = event {
            sink.lock().unwrap().push(errors.to_string());
        }
    });

    // Each table is valid on its own; the breaker's settings do not fit together.
    let config = Config::from_toml_str(
        "[bulkhead.cfg-lookup-first]\nmax_concurrent = 5\n\n[circuit_breaker.cfg-atomic]\nrecovery_timeout = \"1s\"\nminimum_calls = 20\n",
    )
    .unwrap();
    let errors = registry().apply(&config).unwrap_err();
    registry().remove_listener(listener);
    assert_eq!(
        errors.to_string(),
        "line 6, column 1: `circuit_breaker.cfg-atomic.minimum_calls`: must be at most `window_size` (10), got 20 (set by config table)"
    );
    assert_eq!(*heard.lock().unwrap(), [errors.to_string()]);
    assert_eq!(touched(), before);
    assert_eq!(breaker.config().recovery_timeout, Duration::from_secs(7));
    assert_eq!(registry().bulkhead("cfg-lookup-first").max_concurrent(), 1);
    apply("");
}
