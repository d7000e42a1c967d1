//! [`RetryLayer`]: the inner service called again, with a clone of the request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_layer::Layer;
use tower_service::Service;

use super::circuit_breaker::every_error;
use super::unbound::unbound;
use super::{refusal, BoxError};
use crate::retry::{Attempts, RetryConfig};
use crate::{registry, ConfigError, Name, Retry};

/// No hint of the error's own: the default of [`RetryLayer::retry_after`].
fn no_hint(_: &BoxError) -> Option<Duration> {
    None
}

/// Calls the inner service again while it fails, waiting as the [`Retry`]
/// says between attempts, and returns the last error once the retries end;
/// each attempt calls a clone of the service with a clone of the request
/// (tower's convention: `S: Clone`, `Request: Clone`).
///
/// As with the attribute, every error is retried unless [`on`](Self::on)
/// chooses, a policy's refusal included, and a refusal's `retry_after` (an
/// open circuit's, a rate limiter's) is the least wait before the next
/// attempt; [`retry_after`](Self::retry_after) reads such a hint from the
/// service's own errors.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use resilience_runtime::retry::RetryConfig;
/// use resilience_runtime::tower::{BoxError, RetryLayer};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// let calls = Arc::new(AtomicU32::new(0));
/// let counted = calls.clone();
/// let service = ServiceBuilder::new()
///     .layer(RetryLayer::from_config("docs-lookup", RetryConfig::default().max_attempts(3)).unwrap())
///     .service(service_fn(move |id: u32| {
///         let attempt = counted.fetch_add(1, Ordering::Relaxed);
///         async move { if attempt < 2 { Err::<u32, BoxError>("busy".into()) } else { Ok(id) } }
///     }));
///
/// assert_eq!(service.oneshot(7).await.unwrap(), 7);
/// assert_eq!(calls.load(Ordering::Relaxed), 3);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RetryLayer<O = fn(&BoxError) -> bool, H = fn(&BoxError) -> Option<Duration>> {
    retry: Arc<Retry>,
    on: O,
    retry_after: H,
}

impl RetryLayer {
    /// A layer over `retry`, retrying every error.
    pub fn new(retry: Arc<Retry>) -> Self {
        RetryLayer {
            retry,
            on: every_error,
            retry_after: no_hint,
        }
    }

    /// A layer over the registry's retry `name`: the one
    /// `#[retry(name = "...")]` uses.
    pub fn named(name: &str) -> Self {
        Self::new(registry().retry(name))
    }

    /// A layer over a retry of its own, made from `config`.
    pub fn from_config(name: impl Into<Name>, config: RetryConfig) -> Result<Self, ConfigError> {
        Ok(Self::new(Arc::new(Retry::new(name, config)?)))
    }
}

impl<O, H> RetryLayer<O, H> {
    /// Retries only the errors `on` chooses, the attribute's `on`; it sees
    /// the error as the service returns it (downcast it to the inner
    /// service's type, or to [`Error`](crate::Error) for a refusal).
    pub fn on<F: Fn(&BoxError) -> bool + Clone>(self, on: F) -> RetryLayer<F, H> {
        RetryLayer {
            retry: self.retry,
            on,
            retry_after: self.retry_after,
        }
    }

    /// The least wait before retrying one of the service's own errors (say,
    /// its `Retry-After`), the attribute's `retry_after`: `Duration::MAX`
    /// means never. Refusals carry their own.
    pub fn retry_after<F>(self, retry_after: F) -> RetryLayer<O, F>
    where
        F: Fn(&BoxError) -> Option<Duration> + Clone,
    {
        RetryLayer {
            retry: self.retry,
            on: self.on,
            retry_after,
        }
    }

    /// The retry the layer's services follow.
    pub fn retry(&self) -> &Arc<Retry> {
        &self.retry
    }
}

impl<S, O: Clone, H: Clone> Layer<S> for RetryLayer<O, H> {
    type Service = RetryService<S, O, H>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService {
            inner,
            retry: self.retry.clone(),
            on: self.on.clone(),
            retry_after: self.retry_after.clone(),
        }
    }
}

/// The service of a [`RetryLayer`].
#[derive(Debug, Clone)]
pub struct RetryService<S, O = fn(&BoxError) -> bool, H = fn(&BoxError) -> Option<Duration>> {
    inner: S,
    retry: Arc<Retry>,
    on: O,
    retry_after: H,
}

impl<S, O, H, Request> Service<Request> for RetryService<S, O, H>
where
    S: Service<Request> + Clone,
    S::Error: Into<BoxError>,
    Request: Clone,
    O: Fn(&BoxError) -> bool + Clone,
    H: Fn(&BoxError) -> Option<Duration> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = RetryFuture<S, Request, O, H>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // SAFETY: the attempts live in the response future, beside the
        // `retry` clone declared after them.
        let retry = unsafe { unbound(&self.retry) };
        // The ready service makes the first attempt, then goes with the
        // future to make the retries, readied again before each; this
        // service keeps a clone.
        let clone = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, clone);
        let first = service.call(request.clone());
        RetryFuture {
            state: State::Calling { future: first },
            service,
            request,
            on: self.on.clone(),
            retry_after: self.retry_after.clone(),
            attempts: retry.attempts_async(),
            retry: self.retry.clone(),
        }
    }
}

pin_project! {
    /// The response future of a [`RetryService`]: every attempt of one call.
    #[must_use = "futures do nothing unless polled"]
    pub struct RetryFuture<S, Request, O, H>
    where
        S: Service<Request>,
    {
        #[pin]
        state: State<S::Future>,
        service: S,
        request: Request,
        on: O,
        retry_after: H,
        attempts: Attempts<'static>,
        retry: Arc<Retry>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling { #[pin] future: F },
        Waiting { #[pin] sleep: Sleep },
        Readying,
    }
}

impl<S, Request, O, H> Future for RetryFuture<S, Request, O, H>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    Request: Clone,
    O: Fn(&BoxError) -> bool,
    H: Fn(&BoxError) -> Option<Duration>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let error: BoxError = match ready!(future.poll(cx)) {
                        Ok(response) => {
                            this.attempts.finished(true);
                            return Poll::Ready(Ok(response));
                        }
                        Err(error) => error.into(),
                    };
                    if !(this.on)(&error) {
                        this.attempts.finished(false);
                        return Poll::Ready(Err(error));
                    }
                    let hint = match refusal(&error) {
                        Some(refusal) => refusal.retry_after(),
                        None => (this.retry_after)(&error),
                    };
                    match this.attempts.next_wait(hint) {
                        None => return Poll::Ready(Err(error)),
                        Some(wait) if wait.is_zero() => this.state.set(State::Readying),
                        Some(wait) => this.state.set(State::Waiting {
                            sleep: tokio::time::sleep(wait),
                        }),
                    }
                }
                StateProj::Waiting { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    ready!(this.service.poll_ready(cx)).map_err(Into::into)?;
                    let future = this.service.call(this.request.clone());
                    this.state.set(State::Calling { future });
                }
            }
        }
    }
}
