//! [`TimeLimiterLayer`]: a deadline on each response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::unbound::unbound;
use super::BoxError;
use crate::time_limiter::{Judged, TimeLimiterConfig};
use crate::{registry, ConfigError, Name, TimeLimiter};

/// Drops a response future that runs longer than the [`TimeLimiter`]'s
/// timeout, answering [`Error::Timeout`](crate::Error::Timeout), and counts
/// each call as the attribute does (an `Ok` in time successful, an `Err`
/// failed). The deadline counts from `call`, on tokio's clock, as
/// `tower::timeout` does; a response ready at its first poll sets no timer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use resilience_runtime::time_limiter::TimeLimiterConfig;
/// use resilience_runtime::tower::{BoxError, TimeLimiterLayer};
/// use resilience_runtime::Error;
/// use std::time::Duration;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// let config = TimeLimiterConfig::default().timeout(Duration::from_millis(100));
/// let service = ServiceBuilder::new()
///     .layer(TimeLimiterLayer::from_config("docs-render", config).unwrap())
///     .service(service_fn(|()| async {
///         tokio::time::sleep(Duration::from_secs(1)).await;
///         Ok::<_, BoxError>("rendered")
///     }));
///
/// let error = service.oneshot(()).await.unwrap_err();
/// assert!(matches!(error.downcast_ref::<Error>(), Some(Error::Timeout { .. })));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TimeLimiterLayer {
    limiter: Arc<TimeLimiter>,
}

impl TimeLimiterLayer {
    /// A layer over `limiter`.
    pub fn new(limiter: Arc<TimeLimiter>) -> Self {
        TimeLimiterLayer { limiter }
    }

    /// A layer over the registry's time limiter `name`: the one
    /// `#[time_limiter(name = "...")]` uses.
    pub fn named(name: &str) -> Self {
        Self::new(registry().time_limiter(name))
    }

    /// A layer over a time limiter of its own, made from `config`.
    pub fn from_config(
        name: impl Into<Name>,
        config: TimeLimiterConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self::new(Arc::new(TimeLimiter::new(name, config)?)))
    }

    /// The time limiter the layer's services run under.
    pub fn time_limiter(&self) -> &Arc<TimeLimiter> {
        &self.limiter
    }
}

impl<S> Layer<S> for TimeLimiterLayer {
    type Service = TimeLimiterService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TimeLimiterService {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

/// The service of a [`TimeLimiterLayer`].
#[derive(Debug, Clone)]
pub struct TimeLimiterService<S> {
    inner: S,
    limiter: Arc<TimeLimiter>,
}

impl<S, Request> Service<Request> for TimeLimiterService<S>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = TimeLimiterFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // SAFETY: the judged future lives in the response future, beside the
        // `limiter` clone declared after it.
        let limiter = unsafe { unbound(&self.limiter) };
        TimeLimiterFuture {
            judged: limiter.judged(self.inner.call(request), Result::is_ok),
            limiter: self.limiter.clone(),
        }
    }
}

/// Judges an output in time: an `Ok` is a success.
type IsOk<F> = fn(&<F as Future>::Output) -> bool;

pin_project! {
    /// The response future of a [`TimeLimiterService`].
    #[must_use = "futures do nothing unless polled"]
    pub struct TimeLimiterFuture<F: Future> {
        #[pin]
        judged: Judged<'static, F, IsOk<F>>,
        limiter: Arc<TimeLimiter>,
    }
}

impl<F, T, E> Future for TimeLimiterFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(self.project().judged.poll(cx)) {
            Ok(result) => result.map_err(Into::into),
            Err(timeout) => Err(timeout.into()),
        })
    }
}
