//! `axum` routes for operating the policies: metrics, health, the list of
//! instances and a snapshot read-only, and token-guarded admin routes that
//! move a circuit breaker by hand or reload the configuration.
//!
//! Both sets are plain [`Router`]s without state, to be
//! [`merge`](Router::merge)d into a service's own router:
//!
//! ```
//! use axum::routing::get;
//! use axum::Router;
//!
//! let app: Router = Router::new()
//!     .route("/orders", get(|| async { "orders" }))
//!     .merge(resilience_runtime::axum::routes())
//!     .merge(resilience_runtime::axum::admin_routes("a-long-random-secret").unwrap());
//! ```
//!
//! | route | set | answers |
//! |---|---|---|
//! | `GET /metrics` | [`routes_with_metrics`] (feature `metrics`) | Prometheus text, 200 |
//! | `GET /health/resilience` | [`routes`] | the health as JSON: 200 healthy or degraded, 503 critical |
//! | `GET /resilience/instances` | [`routes`] | every declared named instance with its settings, 200 |
//! | `GET /resilience/snapshot` | [`routes`] | every instance's state and counters, 200 |
//! | `POST /resilience/circuit-breakers/{name}/{action}` | [`admin_routes`] | `action`: `force_open`, `disable`, `metrics_only`, `reset`; 200 with the new state, 404 for a breaker nothing declares, 400 for an unknown action |
//! | `POST /resilience/reload` | [`admin_routes`] | body: the whole configuration as TOML; 200 with what changed, 400 with every problem and nothing changed |
//!
//! Every admin route demands `Authorization: Bearer <token>` and answers 401
//! without it or with another token, changing nothing; the token is compared
//! in constant time. Errors are JSON, `{"error": "..."}` with more fields
//! where they help. `docs/http.md` shows every JSON shape.
//!
//! The read-only routes reveal the names, settings and state of the
//! service's dependencies: mount them where only operators and the scraper
//! reach them, as one would a `/metrics` route.

mod admin;
mod auth;
mod json;
mod read;
mod rejection;
mod reload;
mod reply;

use axum::routing::{get, post};
use axum::Router;

pub use auth::InvalidAdminToken;
pub use rejection::{handle_rejection, rejection_response};

/// The read-only routes: `GET /health/resilience`, `GET /resilience/instances`
/// and `GET /resilience/snapshot`. See [`routes_with_metrics`] for a
/// `/metrics` route as well.
pub fn routes() -> Router {
    Router::new()
        .route("/health/resilience", get(read::health))
        .route("/resilience/instances", get(read::instances))
        .route("/resilience/snapshot", get(read::snapshot))
}

/// [`routes`] and `GET /metrics`, which publishes every named instance's
/// counts ([`publish_metrics`](crate::telemetry::publish_metrics)) and then
/// answers what `render` returns, as Prometheus text
/// (`text/plain; version=0.0.4`). `render` is the exporter's, so this crate
/// depends on none:
///
/// ```
/// use metrics_exporter_prometheus::PrometheusBuilder;
///
/// let prometheus = PrometheusBuilder::new().build_recorder();
/// let handle = prometheus.handle();
/// // In a service: `PrometheusBuilder::new().install_recorder()?`, which
/// // installs the recorder and gives the handle.
/// let routes = resilience_runtime::axum::routes_with_metrics(move || handle.render());
/// # let _: axum::Router = routes;
/// ```
#[cfg(feature = "metrics")]
pub fn routes_with_metrics(render: impl Fn() -> String + Clone + Send + Sync + 'static) -> Router {
    routes().route(
        "/metrics",
        get(move || {
            crate::telemetry::publish_metrics();
            let text = render();
            async move { reply::prometheus_text(text) }
        }),
    )
}

/// The admin routes, each demanding `Authorization: Bearer <token>`:
/// `POST /resilience/circuit-breakers/{name}/{action}` and
/// `POST /resilience/reload`.
///
/// Refuses an empty token, or one with a character other than visible ASCII
/// (which no HTTP header could carry as is), rather than serve admin routes
/// anyone, or no one, could use. Take a long random secret, such as
/// `openssl rand -hex 32` prints, from the environment or a secret store.
///
/// ```
/// use resilience_runtime::axum::{admin_routes, InvalidAdminToken};
///
/// assert!(admin_routes("7f3a9c2e51d04b8e").is_ok());
/// assert_eq!(admin_routes("").unwrap_err(), InvalidAdminToken::Empty);
/// ```
pub fn admin_routes(token: impl Into<String>) -> Result<Router, InvalidAdminToken> {
    let token = auth::AdminToken::new(token.into())?;
    Ok(Router::new()
        .route(
            "/resilience/circuit-breakers/{name}/{action}",
            post(admin::circuit_breaker),
        )
        .route("/resilience/reload", post(reload::reload))
        .route_layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        )))
}
