//! Keyed tower layers: a key function of the request selects the member of
//! a keyed family, the same family a keyed attribute uses; over real HTTP,
//! a per-tenant limit answers 429 to one tenant while another is served.

mod http_common;

use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::routing::get;
use axum::Router;
use http_common::{client, Server};
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::tower::{BoxError, KeyedLayer};
use resilience_runtime::{circuit_breaker, registry, CircuitState, Error};
use tokio::sync::oneshot;
use tower::{service_fn, ServiceBuilder, ServiceExt};

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("downstream failed")]
    Downstream,
    #[error(transparent)]
    Resilience(#[from] Error),
}

#[circuit_breaker(name = "tower-keyed-hosts", key = host, failure_threshold = 2)]
async fn fetch(host: &str) -> Result<u32, FetchError> {
    match host {
        "down.example" => Err(FetchError::Downstream),
        _ => Ok(1),
    }
}

/// A client's request: the host it is for.
struct Get {
    host: String,
}

fn get_from(host: &str) -> Get {
    Get {
        host: host.to_owned(),
    }
}

#[tokio::test]
async fn a_host_tripped_by_the_attribute_is_refused_by_the_layer_and_no_other() {
    for _ in 0..2 {
        assert!(matches!(
            fetch("down.example").await,
            Err(FetchError::Downstream)
        ));
    }
    let client = ServiceBuilder::new()
        .layer(KeyedLayer::circuit_breaker(
            "tower-keyed-hosts",
            |get: &Get| Some(get.host.as_str()),
        ))
        .service(service_fn(|get: Get| async move {
            Ok::<_, BoxError>(get.host.len())
        }));

    let refused = client
        .clone()
        .oneshot(get_from("down.example"))
        .await
        .unwrap_err();
    let refusal = refused
        .downcast_ref::<Error>()
        .expect("a refusal, not the service's error");
    assert_eq!(refusal.name(), "tower-keyed-hosts[down.example]");
    assert_eq!(
        client
            .clone()
            .oneshot(get_from("up.example"))
            .await
            .unwrap(),
        10
    );

    let hosts = registry().circuit_breaker_family("tower-keyed-hosts");
    assert_eq!(
        hosts.find("down.example").unwrap().state(),
        CircuitState::Open
    );
    assert_eq!(
        hosts.find("up.example").unwrap().state(),
        CircuitState::Closed
    );
}

#[tokio::test]
async fn failures_through_the_layer_open_one_host_for_the_attribute() {
    let client = ServiceBuilder::new()
        .layer(KeyedLayer::circuit_breaker(
            "tower-keyed-hosts",
            |get: &Get| Some(get.host.as_str()),
        ))
        .service(service_fn(|get: Get| async move {
            match get.host.as_str() {
                "flaky.example" => Err::<usize, BoxError>("reset by peer".into()),
                _ => Ok(1),
            }
        }));
    for _ in 0..2 {
        let failed = client
            .clone()
            .oneshot(get_from("flaky.example"))
            .await
            .unwrap_err();
        assert!(
            failed.downcast_ref::<Error>().is_none(),
            "the service's own error"
        );
    }
    assert!(matches!(
        fetch("flaky.example").await,
        Err(FetchError::Resilience(Error::CircuitOpen { .. }))
    ));
    assert_eq!(fetch("fine.example").await.unwrap(), 1);
}

#[tokio::test]
async fn a_full_pool_refuses_its_key_while_another_key_is_admitted() {
    let pools = KeyedLayer::bulkhead(
        "tower-keyed-pools",
        |job: &(&'static str, oneshot::Receiver<()>)| Some(job.0),
    );
    registry()
        .configure_bulkhead(
            "tower-keyed-pools",
            resilience_runtime::bulkhead::BulkheadConfig::default().max_concurrent(1),
        )
        .unwrap();
    let service = ServiceBuilder::new().layer(pools).service(service_fn(
        |(_, release): (&'static str, oneshot::Receiver<()>)| async move {
            let _ = release.await;
            Ok::<_, BoxError>(())
        },
    ));
    let (release, held) = oneshot::channel();
    let mut running = Box::pin(service.clone().oneshot(("reports", held)));
    // Polled once: the slot is taken and the call waits on its release.
    assert!(futures_poll_once(&mut running).await.is_none());

    let (_, waiting) = oneshot::channel();
    let refused = service
        .clone()
        .oneshot(("reports", waiting))
        .await
        .unwrap_err();
    assert!(matches!(
        refused.downcast_ref::<Error>(),
        Some(Error::BulkheadFull { .. })
    ));
    let (free, other) = oneshot::channel();
    free.send(()).unwrap();
    service.clone().oneshot(("checkout", other)).await.unwrap();

    release.send(()).unwrap();
    running.await.unwrap();
    let family = registry().bulkhead_family("tower-keyed-pools");
    assert_eq!(family.find("reports").unwrap().available_slots(), 1);
}

/// Polls `future` once; its output if it was ready.
async fn futures_poll_once<F: std::future::Future + Unpin>(future: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut *future).poll(cx) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

/// The tenant a request is for, from its `x-tenant` header.
fn tenant(request: &Request) -> Option<&str> {
    request.headers().get("x-tenant")?.to_str().ok()
}

#[tokio::test]
async fn a_per_tenant_limit_answers_429_to_one_tenant_while_another_is_served() {
    registry()
        .configure_rate_limiter(
            "tower-keyed-tenants",
            RateLimiterConfig::default().max_tokens(1).refill_rate(0.1),
        )
        .unwrap();
    let app = Router::new()
        .route("/search", get(|| async { "results" }))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(
                    resilience_runtime::axum::handle_rejection,
                ))
                .layer(KeyedLayer::rate_limiter("tower-keyed-tenants", tenant)),
        );
    let server = Server::start(app).await;
    let client = client();
    let search = |tenant: &str| {
        client
            .get(server.url("/search"))
            .header("x-tenant", tenant)
            .send()
    };

    assert_eq!(search("acme").await.unwrap().status(), 200);
    let limited = search("acme").await.unwrap();
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
    let served = search("globex").await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.text().await.unwrap(), "results");
    assert_eq!(
        registry().rate_limiter_family("tower-keyed-tenants").keys(),
        ["acme", "globex"]
    );
    server.stop().await;
}
