//! The tower layers in an axum server, over real HTTP: refusals answer
//! 429 and 503 with `Retry-After`.

mod http_common;

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::routing::get;
use axum::Router;
use http_common::{client, Server};
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::tower::{CircuitBreakerLayer, RateLimiterLayer};
use tower::ServiceBuilder;

#[tokio::test]
async fn a_rate_limited_route_answers_429_with_retry_after() {
    // One token, the next in 100 s: Retry-After is what is left, rounded up.
    let config = RateLimiterConfig::default().max_tokens(1).refill_rate(0.01);
    let app = Router::new()
        .route("/search", get(|| async { "results" }))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(
                    resilience_runtime::axum::handle_rejection,
                ))
                .layer(RateLimiterLayer::from_config("tower-http-rate", config).unwrap()),
        );
    let server = Server::start(app).await;
    let client = client();

    let first = client.get(server.url("/search")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.text().await.unwrap(), "results");

    let second = client.get(server.url("/search")).send().await.unwrap();
    assert_eq!(second.status(), 429);
    let retry_after: u64 = second.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (99..=100).contains(&retry_after),
        "whole seconds, rounded up: {retry_after}"
    );
    let body: serde_json::Value = second.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("tower-http-rate"));
    server.stop().await;
}

#[tokio::test]
async fn an_open_breaker_answers_503_with_retry_after() {
    let config = CircuitBreakerConfig::default()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(30));
    let layer = CircuitBreakerLayer::from_config("tower-http-breaker", config).unwrap();
    // Tripped by a failed call, so that it knows when it will admit a probe.
    layer.breaker().try_acquire().unwrap().failure();
    let app = Router::new().route("/stock", get(|| async { "42" })).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|error| async move {
                resilience_runtime::axum::rejection_response(error)
            }))
            .layer(layer.clone()),
    );
    let server = Server::start(app).await;

    let answer = client().get(server.url("/stock")).send().await.unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(
        answer.headers()["retry-after"],
        "30",
        "29.9... s, rounded up"
    );

    layer.breaker().reset();
    let answer = client().get(server.url("/stock")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    server.stop().await;
}
