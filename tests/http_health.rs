//! The example service's health over HTTP: degraded when its breaker opens,
//! critical once it has stayed open past `open_alert_after` (set through a
//! reload), healthy again after a reset; and its snapshot. One test, on
//! tokio's paused clock, in a process of its own.

#![cfg(all(feature = "axum", feature = "metrics"))]

mod http_common;
#[path = "../examples/service.rs"]
#[allow(dead_code)]
mod service;

use std::time::Duration;

use http_common::{client, open_the_breaker, Server};
use reqwest::StatusCode;
use serde_json::Value;

const TOKEN: &str = "health-admin-token-77b0";

#[tokio::test(start_paused = true)]
async fn health_turns_degraded_then_critical_then_healthy_again() {
    let server = Server::start(service::app(String::new, Some(TOKEN.into())).unwrap()).await;
    let http = client();
    let health = || async {
        let response = http
            .get(server.url("/health/resilience"))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        (status, body)
    };

    let response = http
        .post(server.url("/resilience/reload"))
        .bearer_auth(TOKEN)
        .body("[health]\nopen_alert_after = \"2s\"\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        report["health_rules"][0]["key"], "open_alert_after",
        "{report}"
    );
    assert_eq!(report["health_rules"][0]["old"], "5m", "{report}");
    assert_eq!(report["health_rules"][0]["new"], "2s", "{report}");

    let (status, body) = health().await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &"healthy".into()),
        "{body}"
    );

    open_the_breaker(&http, &server).await;

    // Open: degraded, and still answered 200, until it has been open 2s.
    let (status, body) = health().await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &"degraded".into()),
        "{body}"
    );
    assert!(
        names_an_instance(&body, "circuit_breaker", "downstream"),
        "{body}"
    );
    tokio::time::advance(Duration::from_millis(1500)).await;
    let (status, body) = health().await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &"degraded".into()),
        "{body}"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    let (status, body) = health().await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::SERVICE_UNAVAILABLE, &"critical".into()),
        "{body}"
    );
    assert!(
        names_an_instance(&body, "circuit_breaker", "downstream"),
        "{body}"
    );

    let response = http
        .get(server.url("/resilience/snapshot"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let snapshot: Value = response.json().await.unwrap();
    assert!(
        finds(&snapshot, &|object| object.get("name")
            == Some(&"downstream".into())
            && object.get("state") == Some(&"OPEN".into())),
        "no OPEN breaker `downstream` in {snapshot}"
    );

    let response = http
        .post(server.url("/resilience/circuit-breakers/downstream/reset"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = health().await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &"healthy".into()),
        "{body}"
    );

    drop(http);
    server.stop().await;
}

/// Whether some object in `json` names the instance `name` of `kind`.
fn names_an_instance(json: &Value, kind: &str, name: &str) -> bool {
    finds(json, &|object| {
        object.get("kind") == Some(&kind.into()) && object.get("name") == Some(&name.into())
    })
}

/// Whether some object in `json`, at any depth, satisfies `found`.
fn finds(json: &Value, found: &dyn Fn(&serde_json::Map<String, Value>) -> bool) -> bool {
    match json {
        Value::Object(object) => found(object) || object.values().any(|value| finds(value, found)),
        Value::Array(items) => items.iter().any(|item| finds(item, found)),
        _ => false,
    }
}
