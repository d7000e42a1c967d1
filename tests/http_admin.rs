//! The admin routes over real sockets: the bearer token, each breaker
//! action, unknown breakers and actions, and reloads applied or refused,
//! with nothing changed by any refused request. Each test serves its own
//! router and moves breakers of its own.

#![cfg(feature = "axum")]

mod http_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::Router;
use http_common::{client, Server};
use reqwest::StatusCode;
use resilience_runtime::axum::{admin_routes, routes};
use resilience_runtime::{bulkhead, circuit_breaker, rate_limiter, registry, CircuitState, Event};
use serde_json::{json, Value};

const TOKEN: &str = "admin-test-token-9c41e7";

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

#[circuit_breaker(name = "admin-auth")]
fn guarded() -> Result<(), CallError> {
    Ok(())
}

#[circuit_breaker(name = "admin-actions", failure_threshold = 2)]
fn acted_on() -> Result<(), CallError> {
    Ok(())
}

#[circuit_breaker(name = "admin-typo")]
fn mistyped() -> Result<(), CallError> {
    Ok(())
}

#[bulkhead(name = "admin-reloaded", max_concurrent = 3)]
#[circuit_breaker(
    name = "admin-reloaded",
    window_size = 10,
    failure_rate_threshold = 0.5
)]
fn reloaded() -> Result<(), CallError> {
    Ok(())
}

#[rate_limiter(name = "admin-listed", max_tokens = 7)]
fn listed() -> Result<(), CallError> {
    Ok(())
}

fn app() -> Router {
    routes().merge(admin_routes(TOKEN).unwrap())
}

async fn send(
    server: &Server,
    path: &str,
    authorization: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = client().post(server.url(path)).body(body);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.unwrap()
}

async fn post(
    server: &Server,
    path: &str,
    authorization: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let response = send(server, path, authorization, body).await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn admin(server: &Server, path: &str) -> (StatusCode, Value) {
    post(server, path, Some(&format!("Bearer {TOKEN}")), Vec::new()).await
}

async fn reload(server: &Server, body: impl Into<Vec<u8>>) -> (StatusCode, Value) {
    post(
        server,
        "/resilience/reload",
        Some(&format!("Bearer {TOKEN}")),
        body.into(),
    )
    .await
}

#[tokio::test]
async fn admin_routes_refuse_a_missing_or_wrong_token_and_change_nothing() {
    let server = Server::start(app()).await;
    let breaker = registry().circuit_breaker("admin-auth");
    breaker.disable();
    let wrong = [
        None,
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.to_owned()),
        Some("Bearer".to_owned()),
        Some("Bearer not-the-token".to_owned()),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
    ];
    for authorization in &wrong {
        for path in [
            "/resilience/circuit-breakers/admin-auth/reset",
            "/resilience/circuit-breakers/admin-nobody/reset",
            "/resilience/circuit-breakers/admin-auth/explode",
        ] {
            let response = send(&server, path, authorization.as_deref(), Vec::new()).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{authorization:?} {path}"
            );
            let challenge = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                challenge.starts_with("Bearer realm=\"resilience\""),
                "{challenge}"
            );
            let body: Value = response.json().await.unwrap();
            assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{body}"
            );
        }
        let (status, _) = post(
            &server,
            "/resilience/reload",
            authorization.as_deref(),
            b"[bulkhead.admin-reloaded]\nmax_concurrent = 30\n".to_vec(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
    }
    assert_eq!(breaker.state(), CircuitState::Disabled);
    assert_ne!(registry().bulkhead("admin-reloaded").max_concurrent(), 30);

    // The scheme is case-insensitive; the token is not.
    let lower = post(
        &server,
        "/resilience/circuit-breakers/admin-auth/reset",
        Some(&format!("bearer {}", TOKEN.to_uppercase())),
        Vec::new(),
    )
    .await;
    assert_eq!(lower.0, StatusCode::UNAUTHORIZED);
    let lower = post(
        &server,
        "/resilience/circuit-breakers/admin-auth/reset",
        Some(&format!("bearer {TOKEN}")),
        Vec::new(),
    )
    .await;
    assert_eq!(lower.0, StatusCode::OK);
    assert_eq!(breaker.state(), CircuitState::Closed);
    guarded().unwrap();
    server.stop().await;
}

#[tokio::test]
async fn each_action_puts_the_breaker_in_its_state() {
    let server = Server::start(app()).await;
    let breaker = registry().circuit_breaker("admin-actions");
    for (action, state) in [
        ("force_open", CircuitState::ForcedOpen),
        ("metrics_only", CircuitState::MetricsOnly),
        ("disable", CircuitState::Disabled),
        ("force_open", CircuitState::ForcedOpen),
        ("reset", CircuitState::Closed),
    ] {
        let (status, body) = admin(
            &server,
            &format!("/resilience/circuit-breakers/admin-actions/{action}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"name": "admin-actions", "action": action, "state": state.to_string()})
        );
        assert_eq!(breaker.state(), state);
        assert_eq!(
            acted_on().is_ok(),
            state != CircuitState::ForcedOpen,
            "{state}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_breaker_is_404_and_is_not_made() {
    let server = Server::start(app()).await;
    let (status, body) = admin(
        &server,
        "/resilience/circuit-breakers/admin-nobody/force_open",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "no circuit breaker named `admin-nobody` is declared"})
    );
    assert!(registry().find_circuit_breaker("admin-nobody").is_none());
    assert!(registry()
        .circuit_breakers()
        .iter()
        .all(|b| b.name() != "admin-nobody"));

    let (status, body) = admin(&server, "/resilience/circuit-breakers/admin-typ/reset").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["error"],
        "no circuit breaker named `admin-typ` is declared; did you mean `admin-typo`?"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_action_is_400_with_the_valid_ones_and_changes_nothing() {
    let server = Server::start(app()).await;
    let breaker = registry().circuit_breaker("admin-typo");
    breaker.metrics_only();
    for action in ["force-open", "open", "RESET", "close"] {
        let (status, body) = admin(
            &server,
            &format!("/resilience/circuit-breakers/admin-typo/{action}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{action}");
        assert_eq!(
            body["actions"],
            json!(["force_open", "disable", "metrics_only", "reset"])
        );
        assert!(body["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("unknown action `{action}`")));
        assert_eq!(breaker.state(), CircuitState::MetricsOnly);
    }
    let (_, body) = admin(
        &server,
        "/resilience/circuit-breakers/admin-typo/force-open",
    )
    .await;
    assert_eq!(
        body["error"],
        "unknown action `force-open`; did you mean `force_open`?"
    );
    // Both unknown: the action is judged first.
    let (status, _) = admin(&server, "/resilience/circuit-breakers/admin-nobody/open").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    mistyped().unwrap();
    server.stop().await;
}

/// A reload the route must refuse: its body, the start of the error, and
/// the first problem's path, line and message, if it lists problems.
struct Refusal {
    body: &'static [u8],
    error: &'static str,
    problem: Option<(&'static str, Option<u64>, &'static str)>,
}

/// Every reload of this binary is here, in order: the applied configuration
/// is the registry's one.
#[tokio::test]
async fn a_reload_is_applied_whole_or_refused_with_nothing_changed() {
    let server = Server::start(app()).await;
    let rejected = Arc::new(AtomicUsize::new(0));
    let counter = rejected.clone();
    let listener = registry().on_event(move |event| {
        if matches!(event, Event::ConfigRejected(_)) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let bulkhead = registry().bulkhead("admin-reloaded");
    reloaded().unwrap();

    let (status, report) = reload(
        &server,
        "[bulkhead.admin-reloaded]\nmax_concurrent = 12\n\n[bulkhead.admin-reloadd]\nmax_concurrent = 1\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["changes"],
        json!([{"kind": "bulkhead", "name": "admin-reloaded", "key": "max_concurrent",
                "old": 3, "new": 12, "origin": {"source": "table"}}])
    );
    assert_eq!(report["warnings"][0]["path"], "bulkhead.admin-reloadd");
    assert_eq!(report["warnings"][0]["line"], 4);
    assert!(report["warnings"][0]["message"]
        .as_str()
        .unwrap()
        .ends_with("did you mean `admin-reloaded`?"));
    assert_eq!(bulkhead.max_concurrent(), 12);
    let applied = registry().instances();

    let refusals = [
        // A misspelt key, beside a valid change that must not happen either.
        Refusal {
            body: b"[bulkhead.admin-reloaded]\nmax_concurrent = 20\nmax_wiat = \"1s\"\n",
            error: "the configuration was refused; nothing changed",
            problem: Some(("bulkhead.admin-reloaded.max_wiat", Some(3), "unknown key; did you mean `max_wait`?")),
        },
        // Settings that do not fit together, found when applying.
        Refusal {
            body: b"[bulkhead.admin-reloaded]\nmax_concurrent = 20\n[circuit_breaker.admin-reloaded]\nminimum_calls = 50\n",
            error: "the configuration was refused; nothing changed",
            problem: Some(("circuit_breaker.admin-reloaded", None, "")),
        },
        Refusal {
            body: b"[bulkhead.admin-reloaded\nmax_concurrent = 20\n",
            error: "the configuration was refused; nothing changed",
            problem: Some(("", Some(1), "invalid TOML")),
        },
        Refusal {
            body: b"  \n",
            error: "the body is empty",
            problem: None,
        },
        Refusal {
            body: b"[bulkhead.admin-reloaded]\nmax_concurrent = \xff\n",
            error: "the body is not UTF-8",
            problem: None,
        },
    ];
    for refusal in refusals {
        let (status, refused) = reload(&server, refusal.body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(
            refused["error"]
                .as_str()
                .unwrap()
                .starts_with(refusal.error),
            "{refused}"
        );
        if let Some((path, line, message)) = refusal.problem {
            let problem = &refused["problems"][0];
            assert!(
                problem["path"].as_str().unwrap().starts_with(path),
                "{refused}"
            );
            if let Some(line) = line {
                assert_eq!(problem["line"], line, "{refused}");
                assert!(problem["column"].as_u64().is_some(), "{refused}");
            }
            assert!(
                problem["message"].as_str().unwrap().starts_with(message),
                "{refused}"
            );
        }
        assert_eq!(bulkhead.max_concurrent(), 12);
    }
    // The other tests of this binary make and use instances meanwhile: the
    // settings of those that were there are what must not have changed.
    let now = registry().instances();
    for before in applied.iter() {
        let after = now
            .iter()
            .find(|after| after.kind == before.kind && after.name == before.name)
            .expect("no instance goes away");
        assert_eq!(
            after.settings, before.settings,
            "a refused reload changed {}",
            before.name
        );
    }
    // The three configurations that reached the parser or the registry were
    // reported refused; the empty and non-UTF-8 bodies never were configurations.
    assert_eq!(rejected.load(Ordering::SeqCst), 3);
    registry().remove_listener(listener);
    server.stop().await;
}

#[tokio::test]
async fn the_read_only_routes_need_no_token_and_mount_no_admin_route() {
    let server = Server::start(routes()).await;
    let response = client()
        .get(server.url("/resilience/instances"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let instances: Vec<Value> = serde_json::from_str(&text).unwrap();
    let limiter = instances
        .iter()
        .find(|i| i["kind"] == "rate_limiter" && i["name"] == "admin-listed")
        .expect("every declared instance is listed");
    assert_eq!(limiter["in_use"], false);
    assert_eq!(limiter["call_sites"][0]["function"], "listed");
    assert_eq!(limiter["call_sites"][0]["file"], "tests/http_admin.rs");
    let settings = &limiter["settings"];
    assert_eq!(settings["max_tokens"]["value"], 7);
    assert_eq!(settings["max_tokens"]["origin"]["source"], "inline");
    assert_eq!(
        settings["max_tokens"]["origin"]["call_site"]["function"],
        "listed"
    );
    assert_eq!(
        settings["refill_rate"],
        json!({"value": 10.0, "origin": {"source": "built_in"}})
    );
    assert_eq!(settings["max_wait"]["value"], "0s");
    // In the order of the attribute's documentation, as the text has them.
    let listed_at = text.find(r#""name":"admin-listed""#).unwrap();
    let at = |key: &str| listed_at + text[listed_at..].find(&format!(r#""{key}":"#)).unwrap();
    assert!(at("max_tokens") < at("refill_rate") && at("refill_rate") < at("max_wait"));
    listed().unwrap();

    for path in [
        "/resilience/reload",
        "/resilience/circuit-breakers/admin-auth/reset",
    ] {
        let response = client()
            .post(server.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    server.stop().await;
}

#[test]
fn an_empty_or_unprintable_token_is_refused_at_construction() {
    use resilience_runtime::axum::InvalidAdminToken;
    assert_eq!(admin_routes("").unwrap_err(), InvalidAdminToken::Empty);
    assert_eq!(
        admin_routes("two words").unwrap_err(),
        InvalidAdminToken::NotVisibleAscii { position: 3 }
    );
    assert!(admin_routes("x").is_ok());
}
