//! An axum service in front of a flaky downstream, with the resilience
//! routes mounted.
//!
//! ```text
//! cargo run --example service --features axum,metrics
//! RESILIENCE_ADMIN_TOKEN=$(openssl rand -hex 32) PORT=9000 cargo run --example service --features axum,metrics
//! ```
//!
//! `GET /items/{id}` calls the downstream through a retry, a circuit
//! breaker, a rate limiter, a bulkhead and a time limiter, all named
//! `downstream`; with `?fail=true` the downstream fails, so a few such
//! requests open the breaker. The service listens on 127.0.0.1:8080, or on
//! the port in `PORT`, and mounts the read-only routes (`/metrics`,
//! `/health/resilience`, `/resilience/instances`, `/resilience/snapshot`)
//! and, when `RESILIENCE_ADMIN_TOKEN` is set, the admin routes. The
//! end-to-end tests (`tests/http_*.rs`) serve [`app`] itself.

use std::env::{self, VarError};
use std::error::Error;
use std::net::Ipv4Addr;
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusBuilder;
use resilience_runtime::axum::{admin_routes, routes_with_metrics, InvalidAdminToken};
use resilience_runtime::{bulkhead, circuit_breaker, rate_limiter, retry, time_limiter};
use serde::{Deserialize, Serialize};

/// The service: `GET /items/{id}`, the read-only resilience routes with
/// `/metrics` answered by `render_metrics`, and the admin routes when there
/// is a token.
pub fn app(
    render_metrics: impl Fn() -> String + Clone + Send + Sync + 'static,
    admin_token: Option<String>,
) -> Result<Router, InvalidAdminToken> {
    let app = Router::new()
        .route("/items/{id}", get(get_item))
        .merge(routes_with_metrics(render_metrics));
    Ok(match admin_token {
        Some(token) => app.merge(admin_routes(token)?),
        None => app,
    })
}

#[derive(Debug, Serialize)]
pub struct Item {
    id: u32,
    name: String,
}

#[derive(Debug, Deserialize)]
struct ItemQuery {
    /// Makes the downstream fail this request.
    #[serde(default)]
    fail: bool,
}

async fn get_item(Path(id): Path<u32>, Query(query): Query<ItemQuery>) -> Response {
    match fetch_item(id, query.fail).await {
        Ok(item) => Json(item).into_response(),
        Err(error) => error.into_response(),
    }
}

#[retry(name = "downstream", max_attempts = 3, delay = "20ms", backoff = 2.0, on = ItemError::is_transient)]
#[circuit_breaker(
    name = "downstream",
    failure_rate_threshold = 0.5,
    window_size = 10,
    minimum_calls = 5,
    recovery_timeout = "30s"
)]
#[rate_limiter(name = "downstream", max_tokens = 50, refill_rate = 50.0)]
#[bulkhead(name = "downstream", max_concurrent = 16)]
#[time_limiter(name = "downstream", timeout = "2s")]
async fn fetch_item(id: u32, fail: bool) -> Result<Item, ItemError> {
    downstream(id, fail).await
}

/// The dependency the service protects: answers after 10ms, or fails when
/// told to.
async fn downstream(id: u32, fail: bool) -> Result<Item, ItemError> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    if fail {
        return Err(ItemError::Downstream);
    }
    Ok(Item {
        id,
        name: format!("item {id}"),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ItemError {
    #[error("the downstream failed")]
    Downstream,
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

impl ItemError {
    /// Worth another attempt: the downstream's own failures and timeouts. A
    /// policy's refusal will not clear within a retry's delay.
    fn is_transient(&self) -> bool {
        match self {
            ItemError::Downstream => true,
            ItemError::Resilience(error) => error.is_timeout(),
        }
    }
}

impl IntoResponse for ItemError {
    fn into_response(self) -> Response {
        use resilience_runtime::Error as Refused;
        let status = match &self {
            ItemError::Downstream => StatusCode::BAD_GATEWAY,
            ItemError::Resilience(Refused::RateLimited { .. }) => StatusCode::TOO_MANY_REQUESTS,
            ItemError::Resilience(Refused::Timeout { .. }) => StatusCode::GATEWAY_TIMEOUT,
            ItemError::Resilience(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let retry_after = match &self {
            ItemError::Resilience(error) => error.retry_after(),
            ItemError::Downstream => None,
        };
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        match retry_after {
            // Whole seconds, rounded up: the header takes no fraction.
            Some(wait) => {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                (status, [(RETRY_AFTER, seconds.to_string())], body).into_response()
            }
            None => (status, body).into_response(),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let admin_token = match env::var("RESILIENCE_ADMIN_TOKEN") {
        Ok(token) => Some(token),
        Err(VarError::NotPresent) => None,
        Err(VarError::NotUnicode(_)) => return Err("RESILIENCE_ADMIN_TOKEN is not UTF-8".into()),
    };
    let admin = admin_token.is_some();
    let app = app(move || prometheus.render(), admin_token)
        .map_err(|error| format!("RESILIENCE_ADMIN_TOKEN: {error}"))?;
    let port = match env::var("PORT") {
        Ok(port) => port
            .parse::<u16>()
            .map_err(|error| format!("PORT={port:?} is not a port number: {error}"))?,
        Err(_) => 8080,
    };
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("listening on {base}");
    println!("  GET  {base}/items/1               an item, through the `downstream` policies");
    println!(
        "  GET  {base}/items/1?fail=true     the downstream fails; a few of these open the breaker"
    );
    println!("  GET  {base}/metrics               Prometheus text");
    println!("  GET  {base}/health/resilience     healthy, degraded (200) or critical (503)");
    println!("  GET  {base}/resilience/instances  every named policy and its settings");
    println!("  GET  {base}/resilience/snapshot   every policy's state and counters");
    println!("try:   for i in 1 2 3; do curl -s '{base}/items/1?fail=true'; echo; done; curl -s {base}/metrics | grep circuitbreaker_state");
    if admin {
        println!("admin: curl -X POST -H \"Authorization: Bearer $RESILIENCE_ADMIN_TOKEN\" {base}/resilience/circuit-breakers/downstream/reset");
        println!("       curl -X POST -H \"Authorization: Bearer $RESILIENCE_ADMIN_TOKEN\" --data-binary @resilience.toml {base}/resilience/reload");
    } else {
        println!("admin routes are off: set RESILIENCE_ADMIN_TOKEN to a long random secret to mount them");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // Without a signal handler the process would still stop on
            // ctrl-c, but in-flight requests would not finish.
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
