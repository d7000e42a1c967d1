//! The read-only routes over the registry.

use axum::response::{IntoResponse, Response};
use axum::Json;

use super::json::Instance;
use crate::registry;

/// `GET /resilience/instances`: every declared named instance, with its call
/// sites and each setting's value in force and origin.
pub(super) async fn instances() -> Response {
    let instances = registry().instances();
    let view: Vec<Instance<'_>> = instances.iter().map(Instance::from).collect();
    Json(view).into_response()
}

/// `GET /health/resilience`: 503 when critical, so a readiness probe takes
/// the replica out; 200 when healthy or degraded, since a dependency's
/// outage alone must not.
// TODO(merge `health`): compiled once `Registry::health` lands (see `routes`).
#[cfg(health_api)]
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
// TODO(merge `health`): compiled once `Registry::snapshot` lands (see `routes`).
#[cfg(health_api)]
pub(super) async fn snapshot() -> Response {
    Json(registry().snapshot()).into_response()
}
