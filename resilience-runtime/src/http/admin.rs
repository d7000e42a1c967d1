//! `POST /resilience/circuit-breakers/{name}/{action}`: a breaker's state
//! set by hand.

use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::reply::error;
use crate::config::layers::did_you_mean;
use crate::{registry, CircuitBreaker};

/// What an operator can do to a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    ForceOpen,
    Disable,
    MetricsOnly,
    Reset,
}

impl Action {
    const ALL: [Action; 4] = [
        Action::ForceOpen,
        Action::Disable,
        Action::MetricsOnly,
        Action::Reset,
    ];

    /// As the route spells it: the breaker's method of the same name.
    fn as_str(self) -> &'static str {
        match self {
            Action::ForceOpen => "force_open",
            Action::Disable => "disable",
            Action::MetricsOnly => "metrics_only",
            Action::Reset => "reset",
        }
    }

    fn parse(text: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == text)
    }

    fn apply(self, breaker: &CircuitBreaker) {
        match self {
            Action::ForceOpen => breaker.force_open(),
            Action::Disable => breaker.disable(),
            Action::MetricsOnly => breaker.metrics_only(),
            Action::Reset => breaker.reset(),
        }
    }
}

/// Checks the action, then the breaker, and changes nothing unless both are
/// known: 400 for an unknown action (with the valid ones), 404 for a breaker
/// nothing declares, 200 with the state it is in now.
pub(super) async fn circuit_breaker(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let Path((name, action)) = match path {
        Ok(path) => path,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let Some(action) = Action::parse(&action) else {
        let actions = Action::ALL.map(Action::as_str);
        let error = format!(
            "unknown action `{action}`{}",
            did_you_mean(&action, &actions)
        );
        return (
            StatusCode::BAD_REQUEST,
            Json(UnknownAction { error, actions }),
        )
            .into_response();
    };
    let Some(breaker) = registry().find_circuit_breaker(&name) else {
        let declared: Vec<String> = registry()
            .instances()
            .iter()
            .filter(|instance| instance.kind == crate::config::PolicyKind::CircuitBreaker)
            .map(|instance| instance.name.clone())
            .collect();
        let declared: Vec<&str> = declared.iter().map(String::as_str).collect();
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no circuit breaker named `{name}` is declared{}",
                did_you_mean(&name, &declared)
            ),
        );
    };
    action.apply(&breaker);
    Json(Done {
        state: breaker.state().to_string(),
        name,
        action: action.as_str(),
    })
    .into_response()
}

#[derive(Serialize)]
struct UnknownAction {
    error: String,
    actions: [&'static str; 4],
}

#[derive(Serialize)]
struct Done {
    name: String,
    action: &'static str,
    state: String,
}
