//! The bulkhead layer's backpressure: `poll_ready` reserves a slot, the
//! response future holds it, and every way a call ends gives it back.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use resilience_runtime::bulkhead::BulkheadConfig;
use resilience_runtime::tower::{BoxError, BulkheadLayer};
use resilience_runtime::Error;
use tokio::sync::Notify;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

fn layer(name: &'static str, max_concurrent: usize, max_wait: Duration) -> BulkheadLayer {
    let config = BulkheadConfig::default()
        .max_concurrent(max_concurrent)
        .max_wait(max_wait);
    BulkheadLayer::from_config(name, config).unwrap()
}

fn poll_ready<S: Service<u32>>(service: &mut S) -> Poll<Result<(), S::Error>> {
    service.poll_ready(&mut Context::from_waker(Waker::noop()))
}

fn echo() -> impl Service<u32, Response = u32, Error = BoxError, Future: Send> + Clone {
    service_fn(|n: u32| async move { Ok::<_, BoxError>(n) })
}

fn is_full(error: &BoxError) -> bool {
    matches!(
        error.downcast_ref::<Error>(),
        Some(Error::BulkheadFull { .. })
    )
}

#[tokio::test]
async fn each_ready_service_holds_a_slot_and_the_next_is_refused() {
    let layer = layer("tower-bulkhead-ready", 3, Duration::ZERO);
    let bulkhead = layer.bulkhead().clone();
    let service = ServiceBuilder::new().layer(layer).service(echo());

    let mut ready: Vec<_> = (0..3).map(|_| service.clone()).collect();
    for one in &mut ready {
        assert!(matches!(poll_ready(one), Poll::Ready(Ok(()))));
    }
    assert_eq!(
        bulkhead.available_slots(),
        0,
        "three ready services hold three slots"
    );

    let mut fourth = service.clone();
    assert!(
        matches!(poll_ready(&mut fourth), Poll::Ready(Ok(()))),
        "ready, to answer the refusal"
    );
    assert!(is_full(&fourth.call(4).await.unwrap_err()));
    assert_eq!(bulkhead.rejected_calls(), 1);

    assert_eq!(ready[0].call(1).await.unwrap(), 1);
    assert_eq!(
        bulkhead.available_slots(),
        1,
        "a finished call gave its slot back"
    );
    ready.truncate(1);
    assert_eq!(
        bulkhead.available_slots(),
        3,
        "dropped ready services gave theirs back"
    );
}

#[tokio::test]
async fn a_clone_of_a_ready_service_holds_no_slot() {
    let layer = layer("tower-bulkhead-clone", 1, Duration::ZERO);
    let bulkhead = layer.bulkhead().clone();
    let mut service = ServiceBuilder::new().layer(layer).service(echo());
    assert!(matches!(poll_ready(&mut service), Poll::Ready(Ok(()))));

    let mut clone = service.clone();
    assert_eq!(bulkhead.available_slots(), 0);
    assert!(matches!(poll_ready(&mut clone), Poll::Ready(Ok(()))));
    assert!(
        is_full(&clone.call(2).await.unwrap_err()),
        "the clone found the bulkhead full"
    );
    assert_eq!(service.call(1).await.unwrap(), 1);
}

#[tokio::test]
async fn a_dropped_response_future_gives_its_slot_back() {
    let layer = layer("tower-bulkhead-cancel", 1, Duration::ZERO);
    let bulkhead = layer.bulkhead().clone();
    let never = Arc::new(Notify::new());
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(move |_: u32| {
            let never = never.clone();
            async move {
                never.notified().await;
                Ok::<u32, BoxError>(0)
            }
        }));

    let mut call = Box::pin(service.clone().oneshot(1));
    assert!(call
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending());
    assert_eq!(bulkhead.available_slots(), 0);
    assert!(is_full(&service.clone().oneshot(2).await.unwrap_err()));

    drop(call);
    assert_eq!(bulkhead.available_slots(), 1);
}

#[tokio::test]
async fn a_panicking_inner_service_gives_its_slot_back() {
    let layer = layer("tower-bulkhead-panic", 1, Duration::ZERO);
    let bulkhead = layer.bulkhead().clone();
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|n: u32| async move {
            if n == 0 {
                panic!("the inner service panics");
            }
            Ok::<u32, BoxError>(n)
        }));

    let task = tokio::spawn(service.clone().oneshot(0));
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(bulkhead.available_slots(), 1);
    assert_eq!(service.oneshot(3).await.unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn poll_ready_waits_up_to_max_wait_for_a_slot() {
    let layer = layer("tower-bulkhead-wait", 1, Duration::from_millis(100));
    let bulkhead = layer.bulkhead().clone();
    let service = ServiceBuilder::new().layer(layer).service(echo());

    // A slot freed within max_wait: the waiting service gets it.
    let mut holder = service.clone();
    holder.ready().await.unwrap();
    let started = tokio::time::Instant::now();
    let waiter = tokio::spawn({
        let service = service.clone();
        async move { service.oneshot(2).await }
    });
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert!(
        !waiter.is_finished(),
        "poll_ready is pending while the bulkhead is full"
    );
    drop(holder);
    assert_eq!(waiter.await.unwrap().unwrap(), 2);
    assert_eq!(started.elapsed(), Duration::from_millis(40));

    // None freed: refused once max_wait has passed.
    let mut holder = service.clone();
    holder.ready().await.unwrap();
    let started = tokio::time::Instant::now();
    let refused = service.clone().oneshot(3).await.unwrap_err();
    assert!(is_full(&refused));
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    assert_eq!(bulkhead.rejected_calls(), 1);
}
