//! A named hedge in the registry: listed before any call, configured from a
//! file table `[hedge.<name>]`, reloaded whole or not at all, in the
//! snapshot, and (feature `metrics`) published.

mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use common::AppError;
use resilience_runtime::config::{Config, Origin, PolicyKind, Value};
use resilience_runtime::hedge::HedgeDelay;
use resilience_runtime::{hedge, registry};
use tokio::time::{sleep, Instant};

const MS: Duration = Duration::from_millis(1);

/// The first copy of each call hangs for a second, the others answer at once.
#[hedge(name = "cfg-hedge", delay = "50ms")]
async fn lookup(copies: &AtomicU32) -> Result<u32, AppError> {
    let copy = copies.fetch_add(1, SeqCst);
    if copy == 0 {
        sleep(1000 * MS).await;
    }
    Ok(copy)
}

/// How long a call with a hanging primary takes, and how many copies ran.
async fn hedged_call() -> (Duration, u32) {
    let copies = AtomicU32::new(0);
    let origin = Instant::now();
    lookup(&copies).await.unwrap();
    (origin.elapsed(), copies.load(SeqCst))
}

fn setting(key: &str) -> (Value, Origin) {
    let instances = registry().instances();
    let hedge = instances
        .iter()
        .find(|i| i.kind == PolicyKind::Hedge && i.name == "cfg-hedge")
        .expect("the hedge is listed");
    let setting = hedge.settings.iter().find(|s| s.key == key).unwrap();
    (setting.value, setting.origin.clone())
}

// One test: applying a configuration replaces the whole of the previous one.
#[tokio::test(start_paused = true)]
async fn a_hedge_table_configures_reloads_and_is_refused_whole() {
    // Declared, with its settings, before any call.
    let (delay, origin) = setting("delay");
    assert_eq!(delay, Value::Duration(50 * MS));
    assert!(matches!(origin, Origin::Inline(site) if site.function == "lookup"));
    assert_eq!(
        setting("max_hedged_attempts"),
        (Value::Count(1), Origin::BuiltIn)
    );
    assert_eq!(hedged_call().await, (50 * MS, 2));

    let config = Config::from_toml_str(
        "[hedge.cfg-hedge]\ndelay = \"p95\"\nmax_hedged_attempts = 2\ndelay_floor = \"20ms\"\n",
    )
    .unwrap();
    let report = registry().apply(&config).unwrap();
    assert_eq!(
        report.to_string(),
        "hedge.cfg-hedge.delay: \"50ms\" -> \"p95\" (config table)\n\
         hedge.cfg-hedge.max_hedged_attempts: 1 -> 2 (config table)\n\
         hedge.cfg-hedge.delay_floor: \"10ms\" -> \"20ms\" (config table)\n"
    );
    let hedge = registry().hedge("cfg-hedge");
    assert_eq!(hedge.config().delay, HedgeDelay::Percentile(95.0));
    assert_eq!(setting("delay").0, Value::Percentile(95.0));
    // Too few latencies for a percentile: the floor. The hedge at 20 ms answers.
    assert_eq!(hedged_call().await, (20 * MS, 2));

    // Each bad value is reported with its place and nothing changes.
    for (table, expected) in [
        (
            "[hedge.cfg-hedge]\ndelay = \"p100\"\n",
            "line 2, column 1: `hedge.cfg-hedge.delay`: the percentile in `\"p100\"` must be above 0 and below 100, got 100; e.g. `\"p95\"` or `\"p99.9\"`",
        ),
        (
            "[hedge.cfg-hedge]\ndelay = \"pxx\"\n",
            "line 2, column 1: `hedge.cfg-hedge.delay`: invalid delay `\"pxx\"`: expected a duration such as `\"50ms\"` or a percentile of recent latencies such as `\"p95\"`",
        ),
        (
            "[hedge.cfg-hedge]\ndelay = 50\n",
            "line 2, column 1: `hedge.cfg-hedge.delay`: a duration needs a unit; write `delay = \"50s\"` for seconds or `\"50ms\"` for milliseconds",
        ),
        (
            "[hedge.cfg-hedge]\nmax_hedged_attempts = 0\n",
            "line 2, column 1: `hedge.cfg-hedge.max_hedged_attempts`: must be at least 1, got 0",
        ),
        (
            "[hedge.cfg-hedge]\nmax_hedged_attempts = 11\n",
            "line 2, column 1: `hedge.cfg-hedge.max_hedged_attempts`: must be at most 10, got 11",
        ),
    ] {
        let errors = Config::from_toml_str(table)
            .map_err(|errors| errors.to_string())
            .and_then(|config| registry().apply(&config).map_err(|e| e.to_string()))
            .unwrap_err();
        assert_eq!(errors, expected);
        assert_eq!(hedge.config().delay, HedgeDelay::Percentile(95.0));
        assert_eq!(hedge.config().max_hedged_attempts, 2);
    }

    // The snapshot shows the kind, its counts and its settings.
    let snapshot = serde_json::to_value(registry().snapshot()).unwrap();
    let listed = snapshot["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "cfg-hedge")
        .unwrap();
    assert_eq!(listed["kind"], "hedge");
    assert_eq!(listed["metrics"]["calls"], 2);
    assert_eq!(listed["metrics"]["hedge_wins"], 2);
    assert_eq!(listed["metrics"]["hedges_started"], 2);
    assert_eq!(listed["settings"]["delay"]["value"], "p95");
    assert_eq!(listed["settings"]["delay_floor"]["value"], "20ms");

    // A configuration without the table returns to the inline arguments.
    registry()
        .apply(&Config::from_toml_str("").unwrap())
        .unwrap();
    assert_eq!(hedge.config().delay, HedgeDelay::Fixed(50 * MS));
    assert_eq!(hedged_call().await, (50 * MS, 2));
}

#[test]
fn registry_lookups_know_declared_hedges_only() {
    assert!(registry().find_hedge("cfg-hedge").is_some());
    assert!(registry().find_hedge("cfg-hedge-undeclared").is_none());
    registry()
        .configure_hedge(
            "cfg-hedge-in-code",
            resilience_runtime::hedge::HedgeConfig::default().max_hedged_attempts(3),
        )
        .unwrap();
    let made = registry().find_hedge("cfg-hedge-in-code").unwrap();
    assert_eq!(made.config().max_hedged_attempts, 3);
    assert!(registry()
        .hedges()
        .iter()
        .any(|hedge| hedge.name() == "cfg-hedge-in-code"));
    let refused = registry().configure_hedge(
        "cfg-hedge-in-code",
        resilience_runtime::hedge::HedgeConfig::default().max_hedged_attempts(0),
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "invalid `max_hedged_attempts`: must be in 1..=10, got 0"
    );
}

#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn hedge_counts_are_published() {
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[hedge(name = "cfg-hedge-metrics", delay = "10ms")]
    async fn published(copies: &AtomicU32) -> Result<u32, AppError> {
        let copy = copies.fetch_add(1, SeqCst);
        sleep(if copy == 0 { 100 * MS } else { MS }).await;
        Ok(copy)
    }

    published(&AtomicU32::new(0)).await.unwrap();
    published(&AtomicU32::new(5)).await.unwrap();
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, resilience_runtime::telemetry::publish_metrics);
    let text = handle.render();
    for line in [
        "resilience_hedge_calls_total{name=\"cfg-hedge-metrics\",kind=\"hedge_won\"} 1",
        "resilience_hedge_calls_total{name=\"cfg-hedge-metrics\",kind=\"primary_won\"} 1",
        "resilience_hedge_calls_total{name=\"cfg-hedge-metrics\",kind=\"failed\"} 0",
        "resilience_hedge_started_total{name=\"cfg-hedge-metrics\"} 1",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
}

#[cfg(feature = "tracing")]
#[path = "tracing_capture/mod.rs"]
mod tracing_capture;

#[cfg(feature = "tracing")]
#[tokio::test(start_paused = true)]
async fn a_started_copy_is_a_debug_tracing_event() {
    #[hedge(name = "cfg-hedge-traced", delay = "10ms")]
    async fn traced(copies: &AtomicU32) -> Result<u32, AppError> {
        let copy = copies.fetch_add(1, SeqCst);
        sleep(if copy == 0 { 100 * MS } else { MS }).await;
        Ok(copy)
    }

    let capture = tracing_capture::Capture::default();
    // The other tests here run hedges on threads with no subscriber.
    let _registered = capture.registered();
    let _default = tracing::subscriber::set_default(capture.clone());
    traced(&AtomicU32::new(0)).await.unwrap();
    let events = capture.about("cfg-hedge-traced");
    assert_eq!(events.len(), 1, "{events:?}");
    let (level, fields) = &events[0];
    assert_eq!(*level, tracing::Level::DEBUG);
    assert_eq!(fields["kind"], "hedge");
    assert_eq!(fields["attempt"], "1");
    assert_eq!(fields["delay"], "10ms");
    assert_eq!(fields["message"], "no answer yet, hedged copy started");
}
