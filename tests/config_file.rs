//! Reading configuration files: every kind of problem is reported with its
//! key path, line and column, all of them in one pass.

use resilience_runtime::config::{Config, ConfigErrors, Location};

/// Each problem as `line:column path: message`.
fn problems(text: &str) -> Vec<String> {
    let errors: ConfigErrors = Config::from_toml_str(text).expect_err("the file has problems");
    errors
        .problems()
        .iter()
        .map(|problem| {
            let Location { line, column } = problem.location.expect("a place in the file");
            format!("{line}:{column} {}: {}", problem.path, problem.message)
        })
        .collect()
}

#[test]
fn a_valid_file_lists_its_tables_in_file_order() {
    let config = Config::from_toml_str(
        r#"
        [circuit_breaker.default]
        recovery_timeout = "20s"

        [circuit_breaker.strict]
        failure_rate_threshold = 0.25
        window_size = 50

        [circuit_breaker.inventory]
        base = "strict"
        half_open_max_calls = 3

        [rate_limiter.pricing]
        max_tokens = 100
        refill_rate = 50.0

        [time_limiter.ec2_run_instances]
        timeout = "3m"

        [retry.fetch]
        jitter = "full"
        delay = "1m30s"

        [bulkhead.db]
        max_concurrent = 2
        "#,
    )
    .unwrap();
    let tables: Vec<_> = config.instances().collect();
    assert_eq!(
        tables,
        [
            ("circuit_breaker", "default"),
            ("circuit_breaker", "strict"),
            ("circuit_breaker", "inventory"),
            ("rate_limiter", "pricing"),
            ("time_limiter", "ec2_run_instances"),
            ("retry", "fetch"),
            ("bulkhead", "db"),
        ]
    );
}

#[test]
fn syntax_errors_give_their_line() {
    let found = problems("[bulkhead.db]\nmax_concurrent = = 3\n");
    assert_eq!(found[0], "2:18 : invalid TOML: extra `=`, expected nothing");
    // What the parser recovers after a syntax error is not judged.
    assert!(
        found.iter().all(|problem| problem.contains("invalid TOML")),
        "{found:?}"
    );
}

#[test]
fn unknown_kinds_and_keys_suggest_the_closest_name() {
    let found = problems(
        r#"
[circuit_braker.inventory]
failure_threshold = 3

[rate_limiter.pricing]
max-tokens = 100
refil_rate = 5.0
colour = "red"

[throttle.x]
"#,
    );
    assert_eq!(
        found,
        [
            "2:2 circuit_braker: unknown kind of policy; did you mean `circuit_breaker`?",
            "6:1 rate_limiter.pricing.max-tokens: unknown key; did you mean `max_tokens`?",
            "7:1 rate_limiter.pricing.refil_rate: unknown key; did you mean `refill_rate`?",
            "8:1 rate_limiter.pricing.colour: unknown key; expected `max_tokens`, `refill_rate`, `max_wait`, `max_keys`, `store`, `on_store_error`, `store_timeout`, `expected_replicas`, `local_precheck` or `base`",
            "10:2 throttle: unknown kind of policy; expected one of `retry`, `circuit_breaker`, `rate_limiter`, `bulkhead`, `time_limiter`, `hedge` or `retry_budget`",
        ]
    );
}

#[test]
fn wrong_types_say_what_was_found_and_show_a_valid_value() {
    let found = problems(
        r#"
[circuit_breaker.inventory]
window_size = "ten"
failure_rate_threshold = true
[retry.fetch]
jitter = "sometimes"
max_attempts = 2.5
[bulkhead.db]
max_wait = [1, 2]
"#,
    );
    assert_eq!(
        found,
        [
            "3:1 circuit_breaker.inventory.window_size: expected a whole number, found the string `\"ten\"`; e.g. `window_size = 20`",
            "4:1 circuit_breaker.inventory.failure_rate_threshold: expected a number, found `true`; e.g. `failure_rate_threshold = 0.5`",
            "6:1 retry.fetch.jitter: unknown jitter `\"sometimes\"`; expected a fraction in [0, 1] or one of `\"full\"`, `\"equal\"` or `\"decorrelated\"`",
            "7:1 retry.fetch.max_attempts: expected a whole number, found the number `2.5`; e.g. `max_attempts = 3`",
            "9:1 bulkhead.db.max_wait: expected a duration, found an array; e.g. `max_wait = \"100ms\"`",
        ]
    );
}

#[test]
fn values_out_of_range_are_refused_with_the_attributes_ranges() {
    let found = problems(
        r#"
[circuit_breaker.inventory]
window_size = 0
failure_rate_threshold = 1.5
recovery_backoff = 0.5
window_duration = "0s"
[retry.fetch]
max_attempts = -1
jitter = 2.0
[rate_limiter.pricing]
max_tokens = 5000000000
refill_rate = -1
"#,
    );
    assert_eq!(
        found,
        [
            "3:1 circuit_breaker.inventory.window_size: must be at least 1, got 0",
            "4:1 circuit_breaker.inventory.failure_rate_threshold: must be in (0, 1], got 1.5",
            "5:1 circuit_breaker.inventory.recovery_backoff: must be a factor of at least 1.0, got 0.5",
            "6:1 circuit_breaker.inventory.window_duration: must be longer than zero; e.g. `window_duration = \"60s\"`",
            "8:1 retry.fetch.max_attempts: must be at least 1, got -1",
            "9:1 retry.fetch.jitter: a fraction must be in [0, 1], got 2; `0.2` moves each wait by up to 20% either way",
            "11:1 rate_limiter.pricing.max_tokens: must be at most 4294967295, got 5000000000",
            "12:1 rate_limiter.pricing.refill_rate: must be zero or a positive number, got -1",
        ]
    );
}

#[test]
fn durations_need_a_unit_and_use_the_attributes_grammar() {
    let found = problems(
        r#"
[time_limiter.ec2]
timeout = 10
[bulkhead.db]
max_wait = "5 parsecs"
[retry.fetch]
delay = "1m30"
max_delay = 2.5
"#,
    );
    assert_eq!(
        found,
        [
            "3:1 time_limiter.ec2.timeout: a duration needs a unit; write `timeout = \"10s\"` for seconds or `\"10ms\"` for milliseconds",
            "5:1 bulkhead.db.max_wait: invalid duration `\"5 parsecs\"`: `parsecs` is not a unit; write a number and a unit (`ns`, `us`, `ms`, `s`, `m`, `h`), e.g. `max_wait = \"100ms\"`",
            "7:1 retry.fetch.delay: invalid duration `\"1m30\"`: `30` has no unit; write a number and a unit (`ns`, `us`, `ms`, `s`, `m`, `h`), e.g. `delay = \"200ms\"`",
            "8:1 retry.fetch.max_delay: a duration needs a unit; write `max_delay = \"2.5s\"` for seconds or `\"2.5ms\"` for milliseconds",
        ]
    );
}

#[test]
fn bases_must_name_a_template_of_the_same_kind_without_a_cycle() {
    let found = problems(
        r#"
[circuit_breaker.strict]
window_size = 50
[circuit_breaker.inventory]
base = "stritc"
[circuit_breaker.a]
base = "b"
[circuit_breaker.b]
base = "a"
[circuit_breaker.default]
base = "strict"
[circuit_breaker.c]
base = "default"
[bulkhead.db]
base = 3
"#,
    );
    assert_eq!(
        found,
        [
            "5:1 circuit_breaker.inventory.base: unknown base `stritc`: no `[circuit_breaker.stritc]` table; did you mean `strict`?",
            "7:1 circuit_breaker.a.base: circular base: a -> b -> a; a chain of bases must end in a table without one",
            "9:1 circuit_breaker.b.base: circular base: b -> a -> b; a chain of bases must end in a table without one",
            "11:1 circuit_breaker.default.base: the `default` table cannot have a base; it is the base of every table of its kind",
            "13:1 circuit_breaker.c.base: `default` cannot be a base: every `circuit_breaker` inherits it already; remove `base`",
            "15:1 bulkhead.db.base: expected the name of a template table, e.g. `base = \"strict\"` for `[bulkhead.strict]`",
        ]
    );
}

#[test]
fn settings_belong_in_an_instance_table() {
    let found = problems("circuit_breaker = 3\n[bulkhead]\nmax_concurrent = 3\n");
    assert_eq!(
        found,
        [
            "1:1 circuit_breaker: expected a table of named instances, e.g. `[circuit_breaker.inventory]`",
            "3:1 bulkhead.max_concurrent: a setting must be inside an instance's table, e.g. `[bulkhead.default]`",
        ]
    );
}

#[test]
fn every_problem_of_a_file_is_reported_at_once_in_file_order() {
    let errors = Config::from_toml_str(
        "[bulkhead.db]\nmax_wait = 10\n[retry.fetch]\nmax_attempts = 0\n[time_limiter.x]\ntimeot = \"1s\"\n",
    )
    .unwrap_err();
    let lines: Vec<usize> = errors
        .problems()
        .iter()
        .map(|problem| problem.location.unwrap().line)
        .collect();
    assert_eq!(lines, [2, 4, 6]);
    assert_eq!(
        errors.to_string().lines().last().unwrap(),
        "line 6, column 1: `time_limiter.x.timeot`: unknown key; did you mean `timeout`?"
    );
}

#[test]
fn a_file_is_read_from_disk_and_a_missing_one_is_named() {
    let dir = std::env::temp_dir().join(format!("resilience-config-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("resilience.toml");
    std::fs::write(&path, "[time_limiter.report]\ntimeout = \"1m30s\"\n").unwrap();
    let config = Config::from_file(&path).unwrap();
    assert_eq!(
        config.instances().collect::<Vec<_>>(),
        [("time_limiter", "report")]
    );

    let missing = dir.join("missing.toml");
    let errors = Config::from_file(&missing).unwrap_err();
    assert!(
        errors
            .to_string()
            .starts_with(&format!("cannot read `{}`", missing.display())),
        "{errors}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[derive(serde::Deserialize)]
struct AppConfig {
    listen: String,
    resilience: Config,
}

#[test]
fn a_service_embeds_the_configuration_in_its_own() {
    let app: AppConfig = toml::from_str(
        r#"
        listen = "127.0.0.1:8080"
        [resilience.time_limiter.report]
        timeout = "250ms"
        [resilience.bulkhead.db]
        max_concurrent = 4
        "#,
    )
    .unwrap();
    assert_eq!(app.listen, "127.0.0.1:8080");
    let mut tables: Vec<_> = app.resilience.instances().collect();
    tables.sort();
    assert_eq!(tables, [("bulkhead", "db"), ("time_limiter", "report")]);
    // The same text read on its own is the same configuration, less the places.
    let alone = Config::from_toml_str("[time_limiter.report]\ntimeout = \"250ms\"\n").unwrap();
    assert_eq!(alone.instances().next(), Some(("time_limiter", "report")));
}

#[test]
fn a_retrys_new_keys_and_a_retry_budget_table_read_back() {
    let config = Config::from_toml_str(
        r#"
        [retry.fetch]
        backoff = "linear"
        max_duration = "2s"
        adaptive = true
        budget = "api"

        [retry_budget.api]
        ttl = "5s"
        retry_ratio = 0.1
        min_retries_per_second = 3
        "#,
    )
    .unwrap();
    assert_eq!(
        config.instances().collect::<Vec<_>>(),
        [("retry", "fetch"), ("retry_budget", "api")]
    );
}

#[test]
fn bad_retry_depth_keys_name_their_place_and_a_fix() {
    assert_eq!(
        problems(
            r#"
[retry.fetch]
backoff = "quadratic"
adaptive = "yes"
budget = 5
max_duration = "0s"
max-duration = "1s"

[retry_budget.api]
retry_ratio = 2000.0
min_retries_per_second = -1
ttl = 10
ratio = 0.2
"#
        ),
        [
            "3:1 retry.fetch.backoff: expected a positive factor or `\"linear\"`, found the string `\"quadratic\"`; e.g. `backoff = 2.0` or `backoff = \"linear\"`",
            "4:1 retry.fetch.adaptive: expected `true` or `false`, found the string `\"yes\"`; e.g. `adaptive = true`",
            "5:1 retry.fetch.budget: expected the name of an instance, found the number `5`; e.g. `budget = \"api\"`",
            "6:1 retry.fetch.max_duration: must be longer than zero; e.g. `max_duration = \"30s\"`",
            "7:1 retry.fetch.max-duration: unknown key; did you mean `max_duration`?",
            "10:1 retry_budget.api.retry_ratio: must be in [0, 1000], got 2000",
            "11:1 retry_budget.api.min_retries_per_second: must be at least 0, got -1",
            "12:1 retry_budget.api.ttl: a duration needs a unit; write `ttl = \"10s\"` for seconds or `\"10ms\"` for milliseconds",
            "13:1 retry_budget.api.ratio: unknown key; expected `ttl`, `retry_ratio`, `min_retries_per_second` or `base`",
        ]
    );
}

#[test]
fn a_misspelt_retry_budget_kind_is_suggested() {
    assert_eq!(
        problems("[retry-budget.api]\nttl = \"5s\"\n"),
        ["1:2 retry-budget: unknown kind of policy; did you mean `retry_budget`?"]
    );
}
