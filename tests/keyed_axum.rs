//! A per-tenant rate limit on an axum route, over real HTTP on 127.0.0.1:
//! the tenant that spent its budget gets 429 with `Retry-After`, while
//! another tenant is served.

mod http_common;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http_common::{client, Server};
use resilience_runtime::{rate_limiter, registry};

/// The route's error: a policy's refusal answers as the runtime maps it.
#[derive(Debug)]
struct ApiError(resilience_runtime::Error);

impl From<resilience_runtime::Error> for ApiError {
    fn from(error: resilience_runtime::Error) -> Self {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

// Two requests per tenant, then one more every 10 s.
#[rate_limiter(name = "http-per-tenant", key = tenant.as_str(), max_tokens = 2, refill_rate = 0.1)]
async fn search(Path(tenant): Path<String>) -> Result<String, ApiError> {
    Ok(format!("results for {tenant}"))
}

#[tokio::test]
async fn one_tenant_is_limited_while_another_is_served() {
    let app = Router::new().route("/tenants/{tenant}/search", get(search));
    let server = Server::start(app).await;
    let client = client();
    let get = |tenant: &str| {
        client
            .get(server.url(&format!("/tenants/{tenant}/search")))
            .send()
    };

    for _ in 0..2 {
        assert_eq!(get("acme").await.unwrap().status(), 200);
    }
    let limited = get("acme").await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (9..=10).contains(&retry_after),
        "whole seconds to the next token: {retry_after}"
    );
    let body: serde_json::Value = limited.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("http-per-tenant[acme]"),
        "the refusal names the tenant's limiter: {body}"
    );

    let served = get("globex").await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.text().await.unwrap(), "results for globex");

    let tenants = registry().rate_limiter_family("http-per-tenant");
    assert_eq!(tenants.keys(), ["acme", "globex"]);
    server.stop().await;
}
