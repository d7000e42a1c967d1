//! The shapes of the routes' answers that are not a JSON view of their own.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// `{"error": message}` with `status`.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    #[derive(Serialize)]
    struct Plain {
        error: String,
    }
    (
        status,
        Json(Plain {
            error: message.into(),
        }),
    )
        .into_response()
}

/// The text exposition format Prometheus scrapes.
#[cfg(feature = "metrics")]
pub(super) fn prometheus_text(text: String) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
