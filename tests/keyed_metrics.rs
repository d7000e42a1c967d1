//! Keyed families through the `metrics` feature and a real Prometheus
//! recorder: one set of series per family under its name, its members
//! summed; each member with a `key` label only once per-key metrics are on.

#![cfg(feature = "metrics")]

use metrics_exporter_prometheus::PrometheusBuilder;
use resilience_runtime::{circuit_breaker, rate_limiter, telemetry};

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("downstream failed")]
    Downstream,
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

#[rate_limiter(name = "km-tenants", key = tenant, max_tokens = 2, refill_rate = 0.0)]
fn search(tenant: &str) -> Result<(), CallError> {
    let _ = tenant;
    Ok(())
}

#[circuit_breaker(name = "km-hosts", key = host, failure_threshold = 1, recovery_timeout = "1h")]
fn fetch(host: &str, fail: bool) -> Result<(), CallError> {
    let _ = host;
    if fail {
        Err(CallError::Downstream)
    } else {
        Ok(())
    }
}

/// The Prometheus text after a publication.
fn published() -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, telemetry::publish_metrics);
    handle.render()
}

/// The value of `series` (`name{label="value",...}`, labels in any order).
fn value(text: &str, series: &str) -> Option<f64> {
    let wanted = parse(series);
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (parse(series) == wanted).then(|| value.parse().unwrap())
        })
}

/// A series as its name and its sorted labels.
fn parse(series: &str) -> (String, Vec<String>) {
    let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
    let mut labels: Vec<String> = labels
        .trim_end_matches('}')
        .split(',')
        .filter(|label| !label.is_empty())
        .map(str::to_owned)
        .collect();
    labels.sort();
    (name.to_owned(), labels)
}

#[test]
fn a_family_is_published_summed_and_per_key_only_when_asked() {
    search("acme").unwrap();
    search("globex").unwrap();
    search("globex").unwrap();
    assert!(matches!(search("globex"), Err(CallError::Resilience(_))));
    fetch("a.example", true).unwrap_err();
    fetch("b.example", false).unwrap();

    let text = published();
    let permitted = "resilience_ratelimiter_calls_total{kind=\"permitted\",name=\"km-tenants\"}";
    assert_eq!(value(&text, permitted), Some(3.0), "{text}");
    assert_eq!(
        value(
            &text,
            "resilience_ratelimiter_calls_total{kind=\"rejected\",name=\"km-tenants\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "resilience_ratelimiter_available_permissions{name=\"km-tenants\"}"
        ),
        Some(1.0)
    );
    // The state gauge counts the family's breakers in each state.
    let state = |state: &str| {
        value(
            &text,
            &format!("resilience_circuitbreaker_state{{name=\"km-hosts\",state=\"{state}\"}}"),
        )
    };
    assert_eq!((state("open"), state("closed")), (Some(1.0), Some(1.0)));
    assert_eq!(
        value(
            &text,
            "resilience_circuitbreaker_calls_total{kind=\"failed\",name=\"km-hosts\"}"
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("key=\""),
        "no per-key series by default:\n{text}"
    );

    telemetry::set_per_key_metrics(true);
    let text = published();
    telemetry::set_per_key_metrics(false);
    assert_eq!(value(&text, permitted), Some(3.0), "the sums stay");
    assert_eq!(
        value(
            &text,
            "resilience_ratelimiter_calls_total{key=\"globex\",kind=\"rejected\",name=\"km-tenants\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "resilience_ratelimiter_calls_total{key=\"acme\",kind=\"permitted\",name=\"km-tenants\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "resilience_circuitbreaker_state{key=\"a.example\",name=\"km-hosts\",state=\"open\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "resilience_circuitbreaker_state{key=\"b.example\",name=\"km-hosts\",state=\"open\"}"
        ),
        Some(0.0)
    );
}
