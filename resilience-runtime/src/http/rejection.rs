//! A policy's refusal as an HTTP answer: for handlers that return
//! `resilience_runtime::Error`, and for the errors of the tower layers
//! behind `HandleErrorLayer`.

use std::time::Duration;

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::BoxError;

use super::reply;
use crate::Error;

/// | refusal | status | `Retry-After` |
/// |---|---|---|
/// | [`Error::CircuitOpen`] | 503 Service Unavailable | the time until a probe, when known |
/// | [`Error::BulkheadFull`] | 503 Service Unavailable | none |
/// | [`Error::RateLimited`] | 429 Too Many Requests | the time until a token; none for a used-up fixed quota |
/// | [`Error::Timeout`] | 504 Gateway Timeout | none |
///
/// `Retry-After` is in whole seconds, rounded up; the body is
/// `{"error": "<the error's message>"}`.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match &self {
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        let retry_after = self.retry_after().and_then(seconds);
        let mut response = reply::error(status, self.to_string());
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(RETRY_AFTER, seconds);
        }
        response
    }
}

/// `Retry-After` for a wait: whole seconds, rounded up; none for a wait
/// that never ends.
fn seconds(wait: Duration) -> Option<HeaderValue> {
    if wait == Duration::MAX {
        return None;
    }
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Some(HeaderValue::from(seconds))
}

/// The answer for an error of the tower layers (feature `tower`), or of any
/// service whose error is a `BoxError`: a policy's refusal as
/// [`Error`]'s `IntoResponse` maps it,
/// anything else a 500 whose body does not reveal the error.
///
/// Use it with `axum::error_handling::HandleErrorLayer`, through
/// [`handle_rejection`]:
///
/// ```
/// use std::sync::Arc;
///
/// use axum::error_handling::HandleErrorLayer;
/// use axum::{BoxError, Router};
/// use resilience_runtime::rate_limiter::RateLimiterConfig;
/// use resilience_runtime::RateLimiter;
/// use tower::{service_fn, ServiceBuilder};
///
/// let limiter = Arc::new(RateLimiter::new("docs-api", RateLimiterConfig::default()).unwrap());
/// let search = service_fn(move |_: axum::extract::Request| {
///     let admitted = limiter.try_acquire();
///     async move {
///         admitted?;
///         Ok::<_, BoxError>("results")
///     }
/// });
/// let app: Router = Router::new().route_service(
///     "/search",
///     ServiceBuilder::new()
///         .layer(HandleErrorLayer::new(resilience_runtime::axum::handle_rejection))
///         .service(search),
/// );
/// ```
pub fn rejection_response(error: BoxError) -> Response {
    match error.downcast::<Error>() {
        Ok(refusal) => refusal.into_response(),
        Err(_) => reply::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

/// [`rejection_response`] as the async function `HandleErrorLayer::new` takes.
pub async fn handle_rejection(error: BoxError) -> Response {
    rejection_response(error)
}
