//! `POST /resilience/reload`: a whole configuration, as TOML, applied in
//! place of the one before, or refused with nothing changed.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::json::{ProblemView, Report};
use super::reply::error;
use crate::config::{Config, ConfigErrors};
use crate::registry;

/// 200 with the report of what changed; 400 with every problem, nothing
/// changed, for text that is not a valid configuration. An empty body is
/// refused too: it would be a valid configuration that clears every setting
/// the applied one gives, which a request sent without its file is far more
/// likely to mean by mistake than on purpose.
pub(super) async fn reload(body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body is not UTF-8 text; send the configuration as TOML",
        );
    };
    if text.trim().is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "the body is empty; send the whole configuration as TOML (a body with only a comment clears every setting the applied configuration gives)",
        );
    }
    let applied = Config::from_toml_str(text)
        .inspect_err(|errors| registry().reject(errors))
        .and_then(|config| registry().apply(&config));
    match applied {
        Ok(report) => Json(Report::from(&report)).into_response(),
        Err(errors) => refused(&errors),
    }
}

fn refused(errors: &ConfigErrors) -> Response {
    #[derive(Serialize)]
    struct Refused<'a> {
        error: &'static str,
        problems: Vec<ProblemView<'a>>,
    }
    let refused = Refused {
        error: "the configuration was refused; nothing changed",
        problems: errors.problems().iter().map(ProblemView::from).collect(),
    };
    (StatusCode::BAD_REQUEST, Json(refused)).into_response()
}
