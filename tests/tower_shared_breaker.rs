//! One breaker, two callers: an annotated function and a tower client built
//! on the same registry name trip it for each other.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use resilience_runtime::tower::{BoxError, CircuitBreakerLayer};
use resilience_runtime::{circuit_breaker, registry, CircuitState, Error};
use tower::{service_fn, ServiceBuilder, ServiceExt};

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("downstream failed")]
    Downstream,
    #[error(transparent)]
    Resilience(#[from] Error),
}

static FN_TRIPS_BODY_RUNS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(name = "tower-shared-fn-trips", failure_threshold = 2)]
async fn fetch_tripping(fail: bool) -> Result<u32, FetchError> {
    FN_TRIPS_BODY_RUNS.fetch_add(1, Ordering::Relaxed);
    if fail {
        Err(FetchError::Downstream)
    } else {
        Ok(1)
    }
}

static LAYER_TRIPS_BODY_RUNS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(name = "tower-shared-layer-trips", failure_threshold = 2)]
async fn fetch_tripped() -> Result<u32, FetchError> {
    LAYER_TRIPS_BODY_RUNS.fetch_add(1, Ordering::Relaxed);
    Ok(1)
}

#[tokio::test]
async fn failures_of_the_annotated_function_open_the_circuit_for_the_tower_client() {
    let served = Arc::new(AtomicU32::new(0));
    let counted = served.clone();
    let client = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::named("tower-shared-fn-trips"))
        .service(service_fn(move |id: u32| {
            counted.fetch_add(1, Ordering::Relaxed);
            async move { Ok::<_, BoxError>(id) }
        }));
    assert_eq!(client.clone().oneshot(5).await.unwrap(), 5);

    for _ in 0..2 {
        assert!(matches!(
            fetch_tripping(true).await,
            Err(FetchError::Downstream)
        ));
    }

    let breaker = registry().circuit_breaker("tower-shared-fn-trips");
    assert_eq!(breaker.state(), CircuitState::Open);
    let error = client.oneshot(6).await.unwrap_err();
    let refusal = error.downcast_ref::<Error>().expect("a refusal");
    assert!(matches!(refusal, Error::CircuitOpen { .. }));
    assert_eq!(refusal.name(), "tower-shared-fn-trips");
    assert_eq!(
        served.load(Ordering::Relaxed),
        1,
        "the open circuit kept the call out"
    );
    assert_eq!(breaker.metrics().failed_calls, 2);
    assert_eq!(
        breaker.metrics().successful_calls,
        1,
        "the client's success counted too"
    );
}

#[tokio::test]
async fn failures_through_the_tower_client_open_the_circuit_for_the_annotated_function() {
    let client = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::named("tower-shared-layer-trips"))
        .service(service_fn(|_: ()| async {
            Err::<u32, BoxError>("downstream failed".into())
        }));
    assert_eq!(fetch_tripped().await.unwrap(), 1);

    for _ in 0..2 {
        let error = client.clone().oneshot(()).await.unwrap_err();
        assert!(
            error.downcast_ref::<Error>().is_none(),
            "the service's own error"
        );
    }

    assert_eq!(
        registry()
            .circuit_breaker("tower-shared-layer-trips")
            .state(),
        CircuitState::Open
    );
    assert!(matches!(
        fetch_tripped().await,
        Err(FetchError::Resilience(Error::CircuitOpen { .. }))
    ));
    assert_eq!(LAYER_TRIPS_BODY_RUNS.load(Ordering::Relaxed), 1);
}
