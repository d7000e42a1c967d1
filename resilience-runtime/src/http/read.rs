//! The read-only routes over the registry.

use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::registry;

/// `GET /resilience/instances`: every declared named instance, with its call
/// sites and each setting's value in force and origin.
pub(super) async fn instances() -> Response {
    Json(registry().instances()).into_response()
}

/// `GET /health/resilience`: 503 when critical, so a readiness probe takes
/// the replica out; 200 when healthy or degraded, since a dependency's
/// outage alone must not.
pub(super) async fn health() -> Response {
    use crate::telemetry::HealthStatus;
    use axum::http::StatusCode;

    let health = registry().health();
    let status = if health.status == HealthStatus::Critical {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(health)).into_response()
}

/// `GET /resilience/snapshot`: every instance's state, counters, rates and
/// settings.
pub(super) async fn snapshot() -> Response {
    Json(registry().snapshot()).into_response()
}
