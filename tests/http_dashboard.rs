//! `dashboards/grafana.json` queries only metrics the example service
//! exposes, and is a dashboard Grafana can import as it is.

#![cfg(all(feature = "axum", feature = "metrics"))]

mod http_common;
#[path = "../examples/service.rs"]
#[allow(dead_code)]
mod service;

use std::collections::BTreeSet;

use http_common::{client, metric_names, open_the_breaker, Server};
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::Value;

const DASHBOARD: &str = include_str!("../dashboards/grafana.json");

#[tokio::test(start_paused = true)]
async fn every_metric_the_dashboard_queries_is_one_the_service_exposes() {
    let prometheus = PrometheusBuilder::new().install_recorder().unwrap();
    let server = Server::start(service::app(move || prometheus.render(), None).unwrap()).await;
    let http = client();
    // Enough calls for the breaker's window to be judged, then an outage
    // that opens it, so that its rates and transitions are published too.
    open_the_breaker(&http, &server).await;
    let text = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exposed = metric_names(&text);

    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    let queried = queried_metrics(&dashboard);
    assert!(
        queried.len() >= 15 && queried.contains("resilience_circuitbreaker_state"),
        "the dashboard queries too little: {queried:?}"
    );
    let missing: Vec<&String> = queried
        .iter()
        .filter(|name| {
            let base = ["_bucket", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            !exposed.contains(*name) && !exposed.contains(base)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries {missing:?}, which the service does not expose; it exposes {exposed:?}"
    );

    drop(http);
    server.stop().await;
}

#[test]
fn the_dashboard_reads_a_prometheus_chosen_by_a_variable() {
    let dashboard: Value = serde_json::from_str(DASHBOARD).unwrap();
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(variables.iter().any(|v| v["type"] == "datasource"
        && v["query"] == "prometheus"
        && v["name"] == "datasource"));

    let panels = all_panels(&dashboard);
    let ids: BTreeSet<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids repeat");
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for title in [
        "Breaker state",
        "Breaker calls by outcome",
        "Retries by outcome",
        "Rejections",
        "Time open",
    ] {
        assert!(titles.contains(&title), "no panel `{title}` in {titles:?}");
    }
    let state = panels
        .iter()
        .find(|p| p["title"] == "Breaker state")
        .unwrap();
    assert_eq!(state["type"], "state-timeline");
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        for target in panel["targets"].as_array().unwrap() {
            assert_eq!(
                target["datasource"]["uid"], "${datasource}",
                "{}",
                panel["title"]
            );
            assert!(target["expr"].as_str().is_some_and(|e| !e.is_empty()));
        }
    }
}

/// Every panel, those inside collapsed rows included.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut panels = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        panels.push(panel);
        if let Some(inner) = panel["panels"].as_array() {
            panels.extend(inner);
        }
    }
    panels
}

/// Every `resilience_[a-z_]+` name in the panels' queries and the template
/// variables' queries.
fn queried_metrics(dashboard: &Value) -> BTreeSet<String> {
    let mut queries = Vec::new();
    for panel in all_panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.extend(target["expr"].as_str());
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        queries.extend(variable["definition"].as_str());
        queries.extend(variable["query"]["query"].as_str());
    }
    queries
        .iter()
        .flat_map(|query| metric_names_in(query))
        .collect()
}

/// The words matching `resilience_[a-z_]+` in a PromQL expression.
fn metric_names_in(query: &str) -> Vec<String> {
    const PREFIX: &str = "resilience_";
    let mut names = Vec::new();
    let mut rest = query;
    while let Some(start) = rest.find(PREFIX) {
        let tail = &rest[start + PREFIX.len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        if end > 0 {
            names.push(format!("{PREFIX}{}", &tail[..end]));
        }
        rest = &tail[end..];
    }
    names
}

#[test]
fn metric_names_are_read_out_of_promql() {
    assert_eq!(
        metric_names_in(
            r#"sum by (name) (rate(resilience_bulkhead_calls_total{kind="rejected"}[5m])) / resilience_x"#
        ),
        ["resilience_bulkhead_calls_total", "resilience_x"]
    );
    assert!(metric_names_in(r#"label_values({__name__=~"resilience_.+"}, name)"#).is_empty());
}
