//! [`KeyedLayer`]: a keyed family's member, chosen per request by a key
//! function, guarding the inner service as the policy's own layer does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{BoxError, BulkheadLayer, CircuitBreakerLayer, RateLimiterLayer};
use crate::keyed::{Family, Keyed};
use crate::{registry, Bulkhead, CircuitBreaker, RateLimiter};

/// One circuit breaker per host, one rate limit per tenant, for a tower
/// service: each request's key (`key(&request)`, `None` being the empty
/// key) selects its member of the registry's keyed family of that name, the
/// family `#[circuit_breaker(name = "...", key = ...)]` and the like use,
/// and the member guards the call exactly as the policy's own layer would
/// ([`CircuitBreakerLayer`], [`RateLimiterLayer`], [`BulkheadLayer`]).
///
/// The key is known only in `call`, so admission happens in the response
/// future: `poll_ready` is the inner service's, and `call` hands the ready
/// service to the member's layer, whose `poll_ready` (a slot, a token,
/// waiting up to `max_wait`) the future drives before calling it. The inner
/// service must be `Clone`, as for tower's `Retry`: the ready one goes with
/// the call and a clone stays.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use resilience_runtime::rate_limiter::RateLimiterConfig;
/// use resilience_runtime::tower::{BoxError, KeyedLayer};
/// use resilience_runtime::{registry, Error};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// struct Search { tenant: String }
///
/// registry()
///     .configure_rate_limiter("docs-keyed-layer", RateLimiterConfig::default().max_tokens(1).refill_rate(0.0))
///     .unwrap();
/// let service = ServiceBuilder::new()
///     .layer(KeyedLayer::rate_limiter("docs-keyed-layer", |search: &Search| Some(search.tenant.as_str())))
///     .service(service_fn(|_: Search| async { Ok::<_, BoxError>("results") }));
///
/// let search = |tenant: &str| Search { tenant: tenant.to_owned() };
/// assert!(service.clone().oneshot(search("acme")).await.is_ok());
/// let refused = service.clone().oneshot(search("acme")).await.unwrap_err();
/// assert!(refused.downcast_ref::<Error>().is_some(), "acme spent its quota");
/// assert!(service.oneshot(search("globex")).await.is_ok(), "globex has its own");
/// # }
/// ```
pub struct KeyedLayer<P: Keyed, L, F> {
    family: Arc<Family<P>>,
    key: F,
    layer: fn(Arc<P>) -> L,
}

macro_rules! constructor {
    ($policy:ty, $layer:ident, $constructor:ident, $family:ident, $what:literal) => {
        impl<F: Clone> KeyedLayer<$policy, $layer, F> {
            #[doc = concat!("A ", $what, " per key, from the registry's family `name`.")]
            pub fn $constructor<Request>(name: &str, key: F) -> Self
            where
                F: for<'a> Fn(&'a Request) -> Option<&'a str>,
            {
                KeyedLayer {
                    family: registry().$family(name),
                    key,
                    layer: $layer::new,
                }
            }
        }
    };
}

constructor!(
    CircuitBreaker,
    CircuitBreakerLayer,
    circuit_breaker,
    circuit_breaker_family,
    "circuit breaker"
);
constructor!(
    RateLimiter,
    RateLimiterLayer,
    rate_limiter,
    rate_limiter_family,
    "rate limiter"
);
constructor!(
    Bulkhead,
    BulkheadLayer,
    bulkhead,
    bulkhead_family,
    "bulkhead"
);

impl<P: Keyed, L, F> KeyedLayer<P, L, F> {
    /// The family whose members guard the calls.
    pub fn family(&self) -> &Arc<Family<P>> {
        &self.family
    }
}

impl<P: Keyed, L, F: Clone> Clone for KeyedLayer<P, L, F> {
    fn clone(&self) -> Self {
        KeyedLayer {
            family: self.family.clone(),
            key: self.key.clone(),
            layer: self.layer,
        }
    }
}

impl<P: Keyed, L, F> std::fmt::Debug for KeyedLayer<P, L, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLayer")
            .field("family", &self.family)
            .finish()
    }
}

impl<P: Keyed, L, F: Clone, S> Layer<S> for KeyedLayer<P, L, F> {
    type Service = KeyedService<P, L, F, S>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of a [`KeyedLayer`].
pub struct KeyedService<P: Keyed, L, F, S> {
    inner: S,
    layer: KeyedLayer<P, L, F>,
}

impl<P: Keyed, L, F: Clone, S: Clone> Clone for KeyedService<P, L, F, S> {
    fn clone(&self) -> Self {
        KeyedService {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<P: Keyed, L, F, S: std::fmt::Debug> std::fmt::Debug for KeyedService<P, L, F, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<P, L, F, S, Request> Service<Request> for KeyedService<P, L, F, S>
where
    P: Keyed,
    L: Layer<S>,
    L::Service: Service<Request, Error = BoxError>,
    F: for<'a> Fn(&'a Request) -> Option<&'a str>,
    S: Service<Request> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = <L::Service as Service<Request>>::Response;
    type Error = BoxError;
    type Future = KeyedFuture<L::Service, Request>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let member = self.layer.family.get(&(self.layer.key)(&request));
        // The ready service goes with this call; the clone waits for the next.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        KeyedFuture {
            service: (self.layer.layer)(member).layer(ready),
            state: State::Admitting {
                request: Some(request),
            },
        }
    }
}

pin_project! {
    /// The response future of a [`KeyedService`]: the member's service made
    /// ready (its admission), then called.
    #[must_use = "futures do nothing unless polled"]
    pub struct KeyedFuture<T: Service<Request>, Request> {
        #[pin]
        state: State<T::Future, Request>,
        // After `state`: a response future may borrow what the service holds.
        service: T,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, Request> {
        Admitting { request: Option<Request> },
        Called {
            #[pin]
            future: F,
        },
    }
}

impl<T, Request> Future for KeyedFuture<T, Request>
where
    T: Service<Request, Error = BoxError>,
{
    type Output = Result<T::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Admitting { request } => {
                    ready!(this.service.poll_ready(cx))?;
                    let request = request.take().expect("polled after completion");
                    let future = this.service.call(request);
                    this.state.set(State::Called { future });
                }
                StateProj::Called { future } => return future.poll(cx),
            }
        }
    }
}
