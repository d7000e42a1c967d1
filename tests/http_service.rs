//! The example service end to end, over real sockets: traffic until its
//! breaker opens, the Prometheus text that shows it, the admin routes, and a
//! reload over HTTP. One test, since the registry and the metrics recorder
//! are the process's; tokio's clock is paused so the time the breaker stays
//! open is exact.

#![cfg(all(feature = "axum", feature = "metrics"))]

mod http_common;
#[path = "../examples/service.rs"]
#[allow(dead_code)]
mod service;

use std::collections::BTreeMap;
use std::time::Duration;

use http_common::{client, samples, series, Server};
use metrics_exporter_prometheus::PrometheusBuilder;
use reqwest::StatusCode;
use resilience_runtime::{registry, CircuitState};
use serde_json::{json, Value};

const TOKEN: &str = "e2e-admin-token-5d1f";

#[tokio::test(start_paused = true)]
async fn the_service_shows_an_outage_and_is_operated_over_http() {
    let prometheus = PrometheusBuilder::new().install_recorder().unwrap();
    let app = service::app(move || prometheus.render(), Some(TOKEN.into())).unwrap();
    let server = Server::start(app).await;
    let http = client();

    let before = instance(&http, &server, "circuit_breaker", "downstream").await;
    assert_eq!(before["in_use"], json!(false), "{before}");
    let threshold = &before["settings"]["failure_rate_threshold"];
    assert_eq!(threshold["value"], json!(0.5), "{before}");
    assert_eq!(threshold["origin"]["source"], "inline", "{before}");
    assert_eq!(threshold["origin"]["call_site"]["function"], "fetch_item");

    // Five good requests, then failing ones until the breaker refuses.
    for id in 1..=5 {
        let response = http
            .get(server.url(&format!("/items/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let item: Value = response.json().await.unwrap();
        assert_eq!(item, json!({"id": id, "name": format!("item {id}")}));
    }
    let mut statuses = Vec::new();
    while statuses.last() != Some(&StatusCode::SERVICE_UNAVAILABLE) {
        assert!(
            statuses.len() < 10,
            "the breaker never opened: {statuses:?}"
        );
        let response = http
            .get(server.url("/items/1?fail=true"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    // Three failed attempts, then two more open it at 5 failures in 10 calls
    // and the retry's third attempt is refused.
    assert_eq!(
        statuses,
        [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE]
    );
    let refused = http.get(server.url("/items/2")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "30");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "circuit breaker `downstream` is open");
    assert_eq!(
        instance(&http, &server, "circuit_breaker", "downstream").await["in_use"],
        json!(true)
    );

    tokio::time::advance(Duration::from_secs(5)).await;
    let metrics = scrape(&http, &server).await;
    let breaker = |name: &str, labels: &[(&str, &str)]| {
        let mut labels = labels.to_vec();
        labels.push(("name", "downstream"));
        metrics
            .get(&series(name, &labels))
            .copied()
            .unwrap_or_else(|| panic!("no {name} {labels:?} in {metrics:#?}"))
    };
    for (state, value) in [
        ("open", 1.0),
        ("closed", 0.0),
        ("half_open", 0.0),
        ("forced_open", 0.0),
    ] {
        assert_eq!(
            breaker("resilience_circuitbreaker_state", &[("state", state)]),
            value,
            "{state}"
        );
    }
    for (kind, calls) in [
        ("successful", 5.0),
        ("failed", 5.0),
        ("not_permitted", 2.0),
        ("ignored", 0.0),
    ] {
        assert_eq!(
            breaker("resilience_circuitbreaker_calls_total", &[("kind", kind)]),
            calls,
            "{kind}"
        );
    }
    assert_eq!(
        breaker(
            "resilience_circuitbreaker_transitions_total",
            &[("from", "closed"), ("to", "open")]
        ),
        1.0
    );
    assert_eq!(breaker("resilience_circuitbreaker_failure_rate", &[]), 0.5);
    assert_eq!(
        breaker("resilience_circuitbreaker_buffered_calls", &[]),
        10.0
    );
    assert_eq!(
        breaker("resilience_circuitbreaker_open_seconds_total", &[]),
        5.0
    );
    // Five firsts succeeded; two calls failed after retrying (the second cut
    // short by the open circuit), one failed at its first, refused attempt.
    for (kind, calls) in [
        ("successful_without_retry", 5.0),
        ("successful_with_retry", 0.0),
        ("failed_with_retry", 2.0),
        ("failed_without_retry", 1.0),
    ] {
        assert_eq!(
            breaker("resilience_retry_calls_total", &[("kind", kind)]),
            calls,
            "{kind}"
        );
    }
    assert_eq!(breaker("resilience_retry_attempts_total", &[]), 12.0);
    // Only the ten calls the breaker let through reached the inner policies.
    for name in [
        "resilience_bulkhead_calls_total",
        "resilience_ratelimiter_calls_total",
    ] {
        assert_eq!(breaker(name, &[("kind", "permitted")]), 10.0, "{name}");
        assert_eq!(breaker(name, &[("kind", "rejected")]), 0.0, "{name}");
    }
    assert_eq!(
        breaker("resilience_bulkhead_available_concurrent_calls", &[]),
        16.0
    );
    assert_eq!(
        breaker("resilience_bulkhead_max_allowed_concurrent_calls", &[]),
        16.0
    );
    assert_eq!(
        breaker("resilience_ratelimiter_available_permissions", &[]),
        50.0
    );
    for (kind, calls) in [("successful", 5.0), ("failed", 5.0), ("timeout", 0.0)] {
        assert_eq!(
            breaker("resilience_timelimiter_calls_total", &[("kind", kind)]),
            calls,
            "{kind}"
        );
    }

    // Admin routes: refused requests change nothing.
    let downstream = registry().circuit_breaker("downstream");
    let reset = server.url("/resilience/circuit-breakers/downstream/reset");
    let response = http.post(&reset).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let response = http
        .post(&reset)
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(downstream.state(), CircuitState::Open);

    let response = admin(
        &http,
        &server,
        "/resilience/circuit-breakers/downstrem/reset",
        "",
    )
    .await;
    assert_eq!(response.0, StatusCode::NOT_FOUND);
    assert_eq!(
        response.1["error"],
        "no circuit breaker named `downstrem` is declared; did you mean `downstream`?"
    );
    let response = admin(
        &http,
        &server,
        "/resilience/circuit-breakers/downstream/close",
        "",
    )
    .await;
    assert_eq!(response.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        response.1["actions"],
        json!(["force_open", "disable", "metrics_only", "reset"])
    );
    assert_eq!(downstream.state(), CircuitState::Open);

    let response = admin(
        &http,
        &server,
        "/resilience/circuit-breakers/downstream/force_open",
        "",
    )
    .await;
    assert_eq!(
        response,
        (
            StatusCode::OK,
            json!({"name": "downstream", "action": "force_open", "state": "FORCED_OPEN"})
        )
    );
    let metrics = scrape(&http, &server).await;
    assert_eq!(
        metrics[&series(
            "resilience_circuitbreaker_state",
            &[("name", "downstream"), ("state", "forced_open")]
        )],
        1.0
    );
    let response = admin(
        &http,
        &server,
        "/resilience/circuit-breakers/downstream/reset",
        "",
    )
    .await;
    assert_eq!(
        response,
        (
            StatusCode::OK,
            json!({"name": "downstream", "action": "reset", "state": "CLOSED"})
        )
    );
    let item = http.get(server.url("/items/3")).send().await.unwrap();
    assert_eq!(item.status(), StatusCode::OK);

    // A reload over HTTP: applied and reported, or refused with nothing changed.
    let (status, report) = admin(
        &http,
        &server,
        "/resilience/reload",
        "[bulkhead.downstream]\nmax_concurrent = 4\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["changes"],
        json!([{
            "kind": "bulkhead", "name": "downstream", "key": "max_concurrent",
            "old": 16, "new": 4, "origin": {"source": "table"}
        }])
    );
    assert_eq!(report["warnings"], json!([]));
    let (status, refused) = admin(
        &http,
        &server,
        "/resilience/reload",
        "[bulkhead.downstream]\nmax_concurrent = 8\n[time_limiter.downstream]\ntimeout = 3\n",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused["problems"][0]["path"],
        "time_limiter.downstream.timeout"
    );
    assert_eq!(refused["problems"][0]["line"], 4);
    assert_eq!(refused["problems"][0]["column"], 1);
    assert!(
        refused["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("\"3s\""),
        "{refused}"
    );
    let metrics = scrape(&http, &server).await;
    assert_eq!(
        metrics[&series(
            "resilience_bulkhead_max_allowed_concurrent_calls",
            &[("name", "downstream")]
        )],
        4.0
    );
    let bulkhead = instance(&http, &server, "bulkhead", "downstream").await;
    assert_eq!(
        bulkhead["settings"]["max_concurrent"],
        json!({"value": 4, "origin": {"source": "table"}})
    );

    drop(http);
    server.stop().await;
}

/// Sends `body` to an admin route with the token: the status and the JSON.
async fn admin(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    body: &str,
) -> (StatusCode, Value) {
    let response = http
        .post(server.url(path))
        .bearer_auth(TOKEN)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn scrape(http: &reqwest::Client, server: &Server) -> BTreeMap<String, f64> {
    let response = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    samples(&response.text().await.unwrap())
}

async fn instance(http: &reqwest::Client, server: &Server, kind: &str, name: &str) -> Value {
    let response = http
        .get(server.url("/resilience/instances"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let instances: Vec<Value> = response.json().await.unwrap();
    instances
        .into_iter()
        .find(|instance| instance["kind"] == kind && instance["name"] == name)
        .unwrap_or_else(|| panic!("{kind} `{name}` is not listed"))
}
