//! An axum gateway: a rate limit per tenant in front, and behind it a hyper
//! client with a circuit breaker per upstream host, a retry and a timeout,
//! all as tower layers.
//!
//! ```sh
//! cargo run --example gateway --features tower,axum            # a short demo, then exits
//! cargo run --example gateway --features tower,axum -- --serve # keeps serving (PORT, or 8081)
//! ```
//!
//! It starts two upstreams on 127.0.0.1, one healthy and one answering 500,
//! and the gateway, whose `GET /items/{id}?upstream=healthy|failing` needs an
//! `x-tenant` header. The demo shows one tenant limited to 5 requests (429
//! with `Retry-After`) while another is served, and the failing upstream's
//! breaker opening (503) while the healthy upstream still answers.

use std::time::Duration;

use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::retry::RetryConfig;
use resilience_runtime::time_limiter::TimeLimiterConfig;
use resilience_runtime::tower::{BoxError, KeyedLayer, RetryLayer, TimeLimiterLayer};
use resilience_runtime::{registry, Error};
use tokio::net::TcpListener;
use tower::util::BoxCloneSyncService;
use tower::{service_fn, ServiceBuilder, ServiceExt};

/// One request to an upstream: cheap to clone, so the retry can send it again.
#[derive(Clone)]
struct Forward {
    uri: Uri,
}

/// The upstream's status and body.
type Answer = (StatusCode, Bytes);

/// The client behind the gateway: retry (not after a refusal) > a breaker
/// per upstream host > a 1 s timeout per attempt > hyper.
fn upstream_client() -> BoxCloneSyncService<Forward, Answer, BoxError> {
    let http: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let retry = RetryConfig::default()
        .max_attempts(3)
        .delay(Duration::from_millis(20));
    let timeout = TimeLimiterConfig::default().timeout(Duration::from_secs(1));
    let service = ServiceBuilder::new()
        .layer(
            RetryLayer::from_config("gateway-retry", retry)
                .expect("a valid retry")
                .on(|error: &BoxError| error.downcast_ref::<Error>().is_none()),
        )
        .layer(KeyedLayer::circuit_breaker(
            "gateway-hosts",
            |forward: &Forward| forward.uri.authority().map(|authority| authority.as_str()),
        ))
        .layer(TimeLimiterLayer::from_config("gateway-timeout", timeout).expect("a valid timeout"))
        .service(service_fn(move |forward: Forward| {
            let http = http.clone();
            async move {
                let answer = http.get(forward.uri).await?;
                let status = answer.status();
                let body = answer.into_body().collect().await?.to_bytes();
                // A 5xx is the upstream failing: the breaker and the retry see an error.
                if status.is_server_error() {
                    return Err(BoxError::from(format!("upstream answered {status}")));
                }
                Ok((status, body))
            }
        }));
    BoxCloneSyncService::new(service)
}

#[derive(Clone)]
struct Gateway {
    client: BoxCloneSyncService<Forward, Answer, BoxError>,
    healthy: String,
    failing: String,
}

#[derive(serde::Deserialize)]
struct Target {
    upstream: Option<String>,
}

async fn item(
    State(gateway): State<Gateway>,
    Path(id): Path<u32>,
    Query(target): Query<Target>,
) -> Response {
    let base = match target.upstream.as_deref() {
        Some("failing") => &gateway.failing,
        _ => &gateway.healthy,
    };
    let uri: Uri = format!("{base}/items/{id}").parse().expect("a valid URI");
    match gateway.client.oneshot(Forward { uri }).await {
        Ok(answer) => answer.into_response(),
        // A refusal (an open breaker) answers 503 with `Retry-After`.
        Err(error) if error.is::<Error>() => resilience_runtime::axum::rejection_response(error),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

/// The tenant a request is for, from its `x-tenant` header.
fn tenant(request: &Request) -> Option<&str> {
    request.headers().get("x-tenant")?.to_str().ok()
}

fn gateway(healthy: String, failing: String) -> Router {
    Router::new()
        .route("/items/{id}", get(item))
        .with_state(Gateway {
            client: upstream_client(),
            healthy,
            failing,
        })
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(
                    resilience_runtime::axum::handle_rejection,
                ))
                .layer(KeyedLayer::rate_limiter("gateway-tenants", tenant)),
        )
}

/// Serves `app` on `address`; returns its base URL.
async fn serve(app: Router, address: &str) -> String {
    let listener = TcpListener::bind(address).await.expect("a free port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::main]
async fn main() {
    // Every tenant: a burst of 5, then one request a second.
    registry()
        .configure_rate_limiter(
            "gateway-tenants",
            RateLimiterConfig::default().max_tokens(5).refill_rate(1.0),
        )
        .expect("a valid rate limiter");
    // Every upstream host: open after 3 failed attempts in a row, for 30 s.
    registry()
        .configure_circuit_breaker(
            "gateway-hosts",
            CircuitBreakerConfig::default()
                .failure_threshold(3)
                .recovery_timeout(Duration::from_secs(30)),
        )
        .expect("a valid breaker");

    let upstream = |fail: bool| {
        Router::new().route(
            "/items/{id}",
            get(move |Path(id): Path<u32>| async move {
                match fail {
                    true => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "database down".to_owned(),
                    ),
                    false => (StatusCode::OK, format!("item {id}")),
                }
            }),
        )
    };
    let healthy = serve(upstream(false), "127.0.0.1:0").await;
    let failing = serve(upstream(true), "127.0.0.1:0").await;

    let serving = std::env::args().any(|arg| arg == "--serve");
    let port =
        std::env::var("PORT").unwrap_or_else(|_| if serving { "8081" } else { "0" }.to_owned());
    let base = serve(gateway(healthy, failing), &format!("127.0.0.1:{port}")).await;
    println!("gateway on {base}");
    if serving {
        println!("try: curl -i -H 'x-tenant: acme' '{base}/items/7?upstream=failing'");
        tokio::signal::ctrl_c().await.expect("a Ctrl-C handler");
        return;
    }
    demo(&base).await;
}

async fn demo(base: &str) {
    let client = reqwest::Client::new();
    let get = |tenant: &'static str, upstream: &'static str| {
        client
            .get(format!("{base}/items/7?upstream={upstream}"))
            .header("x-tenant", tenant)
            .send()
    };
    let show = |label: &str, answer: &reqwest::Response| {
        let retry_after = answer
            .headers()
            .get("retry-after")
            .map_or(String::new(), |value| {
                format!(", Retry-After: {}", value.to_str().unwrap_or("?"))
            });
        println!("  {label}: {}{retry_after}", answer.status());
    };

    println!("\ntenant acme, 7 requests to the healthy upstream (a burst of 5 per tenant):");
    for n in 1..=7 {
        show(
            &format!("request {n}"),
            &get("acme", "healthy").await.expect("an answer"),
        );
    }

    println!("\ntenant globex meanwhile: the failing upstream, then the healthy one:");
    for n in 1..=3 {
        show(
            &format!("failing upstream, request {n}"),
            &get("globex", "failing").await.expect("an answer"),
        );
    }
    show(
        "healthy upstream",
        &get("globex", "healthy").await.expect("an answer"),
    );

    let hosts = registry().circuit_breaker_family("gateway-hosts");
    println!("\nbreakers per upstream host:");
    for (host, breaker) in hosts.members() {
        println!("  {host}: {}", breaker.state());
    }
    println!(
        "tenants with a bucket: {:?}",
        registry().rate_limiter_family("gateway-tenants").keys()
    );
}
