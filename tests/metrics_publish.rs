//! The `metrics` feature: `telemetry::publish_metrics()` copies every named
//! instance's counts into the `metrics` facade, where a Prometheus exporter
//! renders them with the names, labels and values the traffic implies.

#![cfg(feature = "metrics")]

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use resilience_runtime::{
    bulkhead, circuit_breaker, fallback, rate_limiter, registry, retry, telemetry, time_limiter,
};

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("downstream failed")]
    Downstream,
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

async fn stale(_fail: bool, _error: CallError) -> Result<u32, CallError> {
    Ok(0)
}

#[fallback(method = stale)]
#[retry(name = "metrics-retry", max_attempts = 2)]
#[circuit_breaker(
    name = "metrics-breaker",
    failure_threshold = 2,
    recovery_timeout = "1h"
)]
#[rate_limiter(name = "metrics-rate", max_tokens = 100, refill_rate = 1.0)]
#[bulkhead(name = "metrics-bulkhead", max_concurrent = 3)]
#[time_limiter(name = "metrics-time", timeout = "1s")]
async fn call(fail: bool) -> Result<u32, CallError> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    if fail {
        Err(CallError::Downstream)
    } else {
        Ok(1)
    }
}

/// The value of the series `series` (`name{label="value",...}`, labels in any
/// order) in the Prometheus text.
fn value(text: &str, series: &str) -> f64 {
    let wanted = parse(series);
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (parse(series) == wanted).then(|| value.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no series `{series}` in:\n{text}"))
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

#[tokio::test(start_paused = true)]
async fn every_policy_is_published_with_its_counts() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // Two successes, then a failure retried into a second failure: the
    // breaker opens, and the fallback answers. The next call's two attempts
    // are refused by the breaker: the fallback answers again.
    assert_eq!(call(false).await.unwrap(), 1);
    assert_eq!(call(false).await.unwrap(), 1);
    assert_eq!(call(true).await.unwrap(), 0);
    assert_eq!(call(false).await.unwrap(), 0);
    metrics::with_local_recorder(&recorder, telemetry::publish_metrics);
    let text = handle.render();

    let breaker = |rest: &str| format!("resilience_circuitbreaker_{rest}");
    assert_eq!(
        value(
            &text,
            &breaker("state{name=\"metrics-breaker\",state=\"open\"}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &breaker("state{name=\"metrics-breaker\",state=\"closed\"}")
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            &breaker("calls_total{kind=\"successful\",name=\"metrics-breaker\"}")
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            &breaker("calls_total{kind=\"failed\",name=\"metrics-breaker\"}")
        ),
        2.0
    );
    // The last call's two attempts were refused.
    assert_eq!(
        value(
            &text,
            &breaker("calls_total{kind=\"not_permitted\",name=\"metrics-breaker\"}")
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            &breaker("transitions_total{from=\"closed\",name=\"metrics-breaker\",to=\"open\"}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &breaker("slow_calls_total{name=\"metrics-breaker\"}")
        ),
        0.0
    );
    assert_eq!(
        value(&text, &breaker("buffered_calls{name=\"metrics-breaker\"}")),
        0.0
    );
    assert!(text.contains("resilience_circuitbreaker_open_seconds_total{name=\"metrics-breaker\"}"));
    assert!(
        !text.contains("resilience_circuitbreaker_failure_rate{name=\"metrics-breaker\"}"),
        "a breaker without a rate window has no rate to show"
    );

    let retry = |kind: &str| {
        value(
            &text,
            &format!("resilience_retry_calls_total{{kind=\"{kind}\",name=\"metrics-retry\"}}"),
        )
    };
    assert_eq!(retry("successful_without_retry"), 2.0);
    assert_eq!(retry("successful_with_retry"), 0.0);
    // The failing call, and the call the open breaker refused twice.
    assert_eq!(retry("failed_with_retry"), 2.0);
    assert_eq!(retry("failed_without_retry"), 0.0);
    assert_eq!(
        value(
            &text,
            "resilience_retry_attempts_total{name=\"metrics-retry\"}"
        ),
        6.0
    );

    assert_eq!(
        value(
            &text,
            "resilience_ratelimiter_calls_total{kind=\"permitted\",name=\"metrics-rate\"}"
        ),
        4.0
    );
    assert_eq!(
        value(
            &text,
            "resilience_ratelimiter_calls_total{kind=\"rejected\",name=\"metrics-rate\"}"
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            "resilience_ratelimiter_waiting_calls{name=\"metrics-rate\"}"
        ),
        0.0
    );
    assert!(
        value(
            &text,
            "resilience_ratelimiter_available_permissions{name=\"metrics-rate\"}"
        ) > 95.0
    );

    assert_eq!(
        value(
            &text,
            "resilience_bulkhead_calls_total{kind=\"permitted\",name=\"metrics-bulkhead\"}"
        ),
        4.0
    );
    assert_eq!(
        value(
            &text,
            "resilience_bulkhead_available_concurrent_calls{name=\"metrics-bulkhead\"}"
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "resilience_bulkhead_max_allowed_concurrent_calls{name=\"metrics-bulkhead\"}"
        ),
        3.0
    );

    assert_eq!(
        value(
            &text,
            "resilience_timelimiter_calls_total{kind=\"successful\",name=\"metrics-time\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "resilience_timelimiter_calls_total{kind=\"failed\",name=\"metrics-time\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "resilience_timelimiter_calls_total{kind=\"timeout\",name=\"metrics-time\"}"
        ),
        0.0
    );

    assert_eq!(
        value(
            &text,
            "resilience_fallback_calls_total{kind=\"error\",name=\"call\",source=\"method\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "resilience_fallback_calls_total{kind=\"rejection\",name=\"call\",source=\"method\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "resilience_fallback_calls_total{kind=\"error\",name=\"call\",source=\"cache\"}"
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            "resilience_fallback_cache_misses_total{name=\"call\"}"
        ),
        0.0
    );

    // Published again, the counters move with the traffic.
    registry().circuit_breaker("metrics-breaker").reset();
    assert_eq!(call(false).await.unwrap(), 1);
    metrics::with_local_recorder(&recorder, telemetry::publish_metrics);
    let text = handle.render();
    assert_eq!(
        value(
            &text,
            "resilience_bulkhead_calls_total{kind=\"permitted\",name=\"metrics-bulkhead\"}"
        ),
        5.0
    );
    assert_eq!(
        value(
            &text,
            &breaker("state{name=\"metrics-breaker\",state=\"closed\"}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &breaker("transitions_total{from=\"open\",name=\"metrics-breaker\",to=\"closed\"}")
        ),
        1.0
    );
}
