//! [`CircuitBreakerLayer`]: a call through the layer is a call through the breaker.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::unbound::unbound;
use super::{refusal, BoxError};
use crate::circuit_breaker::{CircuitBreakerConfig, CircuitPermit};
use crate::{registry, CircuitBreaker, ConfigError, Error, Name};

/// Counts every error as a failure: the default of [`CircuitBreakerLayer::on`].
pub(super) fn every_error(_: &BoxError) -> bool {
    true
}

/// Runs the calls of the inner service through a [`CircuitBreaker`]: an open
/// circuit refuses them with [`Error::CircuitOpen`], and each call's result
/// is recorded as the attribute records it (an inner time limiter's timeout
/// is a failure, an inner bulkhead's or rate limiter's refusal affects the
/// circuit neither way; slow calls are timed when the breaker times them).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
/// use resilience_runtime::tower::{BoxError, CircuitBreakerLayer};
/// use resilience_runtime::{CircuitState, Error};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// let layer = CircuitBreakerLayer::from_config("docs-quotes", CircuitBreakerConfig::default().failure_threshold(1)).unwrap();
/// let breaker = layer.breaker().clone();
/// let service = ServiceBuilder::new()
///     .layer(layer)
///     .service(service_fn(|_: ()| async { Err::<(), BoxError>("quotes down".into()) }));
///
/// let failed = service.clone().oneshot(()).await.unwrap_err();
/// assert!(failed.downcast_ref::<Error>().is_none(), "the service's own error");
/// assert_eq!(breaker.state(), CircuitState::Open);
/// let refused = service.oneshot(()).await.unwrap_err();
/// assert!(matches!(refused.downcast_ref::<Error>(), Some(Error::CircuitOpen { .. })));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer<C = fn(&BoxError) -> bool> {
    breaker: Arc<CircuitBreaker>,
    on: C,
}

impl CircuitBreakerLayer {
    /// A layer over `breaker`, counting every error as a failure.
    pub fn new(breaker: Arc<CircuitBreaker>) -> Self {
        // With `store = "redis"`, an `Arc` made by hand syncs from here on.
        CircuitBreaker::attach(&breaker);
        CircuitBreakerLayer {
            breaker,
            on: every_error,
        }
    }

    /// A layer over the registry's breaker `name`: the one
    /// `#[circuit_breaker(name = "...")]` uses.
    pub fn named(name: &str) -> Self {
        Self::new(registry().circuit_breaker(name))
    }

    /// A layer over a breaker of its own, made from `config`; each
    /// [`layer`](Layer::layer) call wraps a service in the same breaker.
    pub fn from_config(
        name: impl Into<Name>,
        config: CircuitBreakerConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self::new(Arc::new(CircuitBreaker::new(name, config)?)))
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// Counts only the errors `on` chooses as failures, the attribute's
    /// `on`: the others affect the circuit neither way. `on` sees the error
    /// as the service returns it; downcast it to the inner service's type.
    pub fn on<F: Fn(&BoxError) -> bool + Clone>(self, on: F) -> CircuitBreakerLayer<F> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            on,
        }
    }

    /// The breaker the layer's services call through.
    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreakerService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService {
            inner,
            breaker: self.breaker.clone(),
            on: self.on.clone(),
        }
    }
}

/// The service of a [`CircuitBreakerLayer`].
#[derive(Debug, Clone)]
pub struct CircuitBreakerService<S, C = fn(&BoxError) -> bool> {
    inner: S,
    breaker: Arc<CircuitBreaker>,
    on: C,
}

impl<S, C, Request> Service<Request> for CircuitBreakerService<S, C>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    C: Fn(&BoxError) -> bool + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = CircuitBreakerFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // SAFETY: the permit lives in the future's `Running` variant, beside
        // the `breaker` clone declared after it.
        let breaker = unsafe { unbound(&self.breaker) };
        let state = match breaker.try_acquire() {
            Err(refusal) => State::Refused {
                refusal: Some(refusal),
            },
            Ok(permit) => State::Running {
                future: self.inner.call(request),
                permit: Some(permit),
                on: self.on.clone(),
                breaker: self.breaker.clone(),
            },
        };
        CircuitBreakerFuture { state }
    }
}

pin_project! {
    /// The response future of a [`CircuitBreakerService`]: records the
    /// call's result when it completes; dropped before, it records nothing
    /// (and frees a probe slot), as a cancelled annotated call does.
    #[must_use = "futures do nothing unless polled"]
    pub struct CircuitBreakerFuture<F, C> {
        #[pin]
        state: State<F, C>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, C> {
        Running {
            #[pin]
            future: F,
            permit: Option<CircuitPermit<'static>>,
            on: C,
            breaker: Arc<CircuitBreaker>,
        },
        Refused { refusal: Option<Error> },
    }
}

impl<F, T, E, C> Future for CircuitBreakerFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Fn(&BoxError) -> bool,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Refused { refusal } => {
                Poll::Ready(Err(refusal.take().expect("polled after completion").into()))
            }
            StateProj::Running {
                future, permit, on, ..
            } => {
                let result = ready!(future.poll(cx));
                let permit = permit.take().expect("polled after completion");
                Poll::Ready(match result {
                    Ok(response) => {
                        permit.success();
                        Ok(response)
                    }
                    Err(error) => {
                        let error = error.into();
                        record_failure(permit, &error, &*on);
                        Err(error)
                    }
                })
            }
        }
    }
}

/// Records an error as the attribute does: a refusal from a policy inside
/// is not the call's failure, except a timeout.
fn record_failure(permit: CircuitPermit<'_>, error: &BoxError, on: impl Fn(&BoxError) -> bool) {
    match refusal(error) {
        Some(refusal) if !refusal.is_timeout() => drop(permit),
        Some(_) if on(error) => permit.failure(),
        Some(_) => drop(permit),
        None if on(error) => permit.failure(),
        None => permit.ignore(),
    }
}
