//! [`RateLimiterLayer`]: a token taken in `poll_ready`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::unbound::unbound;
use super::BoxError;
use crate::rate_limiter::RateLimiterConfig;
use crate::stores::Store;
use crate::{registry, ConfigError, Error, Name, RateLimiter};

/// Caps the rate of the inner service's calls with a [`RateLimiter`],
/// shared with every attribute and layer using the same instance.
///
/// `poll_ready` takes a token, as tower's `RateLimit` waits for one: it is
/// pending while the next token is due within the limiter's `max_wait`, and
/// ready once it has one or the limiter has refused; `call` then answers
/// the refusal, [`Error::RateLimited`] with its `retry_after`, without
/// calling the inner service. A service dropped while it waits gives the
/// token back.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use resilience_runtime::rate_limiter::RateLimiterConfig;
/// use resilience_runtime::tower::{BoxError, RateLimiterLayer};
/// use resilience_runtime::Error;
/// use std::time::Duration;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// let config = RateLimiterConfig::default().max_tokens(1).refill_rate(1.0);
/// let service = ServiceBuilder::new()
///     .layer(RateLimiterLayer::from_config("docs-search", config).unwrap())
///     .service(service_fn(|q: &'static str| async move { Ok::<_, BoxError>(q.len()) }));
///
/// assert_eq!(service.clone().oneshot("rust").await.unwrap(), 4);
/// let refused = service.oneshot("tower").await.unwrap_err();
/// let refused = refused.downcast_ref::<Error>().unwrap();
/// assert!(refused.retry_after().unwrap() <= Duration::from_secs(1));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RateLimiterLayer {
    limiter: Arc<RateLimiter>,
}

impl RateLimiterLayer {
    /// A layer over `limiter`.
    pub fn new(limiter: Arc<RateLimiter>) -> Self {
        RateLimiterLayer { limiter }
    }

    /// A layer over the registry's rate limiter `name`: the one
    /// `#[rate_limiter(name = "...")]` uses.
    pub fn named(name: &str) -> Self {
        Self::new(registry().rate_limiter(name))
    }

    /// A layer over a rate limiter of its own, made from `config`, shared by
    /// every service the layer wraps.
    pub fn from_config(
        name: impl Into<Name>,
        config: RateLimiterConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self::new(Arc::new(RateLimiter::new(name, config)?)))
    }

    /// The rate limiter the layer's services take their tokens from.
    pub fn rate_limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }
}

impl<S> Layer<S> for RateLimiterLayer {
    type Service = RateLimiterService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimiterService {
            inner,
            admitted: None,
            waiting: None,
            limiter: self.limiter.clone(),
        }
    }
}

/// A wait for a token due within `max_wait`, or a check in Redis; boxed,
/// since it is only made when the local bucket is empty or shared. In a
/// `Mutex`, only ever reached through `get_mut` (no locking), so that the
/// service is `Sync` although a Redis request's future is not.
type Waiting = Mutex<Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>>;

/// The service of a [`RateLimiterLayer`].
pub struct RateLimiterService<S> {
    inner: S,
    /// The next call's token (`Ok`) or refusal, once `poll_ready` has it.
    admitted: Option<Result<(), Error>>,
    waiting: Option<Waiting>,
    limiter: Arc<RateLimiter>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for RateLimiterService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiterService")
            .field("inner", &self.inner)
            .field("admitted", &self.admitted)
            .field("limiter", &self.limiter.name())
            .finish()
    }
}

impl<S: Clone> Clone for RateLimiterService<S> {
    fn clone(&self) -> Self {
        RateLimiterService {
            inner: self.inner.clone(),
            admitted: None,
            waiting: None,
            limiter: self.limiter.clone(),
        }
    }
}

impl<S> RateLimiterService<S> {
    /// Takes a token, or the refusal, for the next call.
    fn admit(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.admitted.is_some() {
            return Poll::Ready(());
        }
        // SAFETY: the wait lives in `self.waiting`, declared before
        // `self.limiter`.
        let limiter = unsafe { unbound(&self.limiter) };
        let shared = limiter.config().store != Store::Local;
        let admitted = match &mut self.waiting {
            Some(waiting) => {
                let waiting = waiting.get_mut().unwrap_or_else(PoisonError::into_inner);
                let admitted = ready!(waiting.as_mut().poll(cx));
                self.waiting = None;
                admitted
            }
            None if limiter.config().max_wait.is_zero() && !shared => limiter.try_acquire(),
            None if limiter.take_free() => Ok(()),
            None => {
                self.waiting = Some(Mutex::new(Box::pin(limiter.acquire())));
                return self.admit(cx);
            }
        };
        self.admitted = Some(admitted);
        Poll::Ready(())
    }
}

impl<S, Request> Service<Request> for RateLimiterService<S>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = RateLimiterFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        ready!(self.admit(cx));
        match self.admitted {
            Some(Ok(())) => self.inner.poll_ready(cx).map_err(Into::into),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let state = match self.admitted.take() {
            Some(Ok(())) => State::Running {
                future: self.inner.call(request),
            },
            Some(Err(refusal)) => State::Refused {
                refusal: Some(refusal),
            },
            None => panic!("RateLimiterService::call before poll_ready was ready"),
        };
        RateLimiterFuture { state }
    }
}

pin_project! {
    /// The response future of a [`RateLimiterService`].
    #[must_use = "futures do nothing unless polled"]
    pub struct RateLimiterFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running {
            #[pin]
            future: F,
        },
        Refused { refusal: Option<Error> },
    }
}

impl<F, T, E> Future for RateLimiterFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Running { future } => future.poll(cx).map_err(Into::into),
            StateProj::Refused { refusal } => {
                Poll::Ready(Err(refusal.take().expect("polled after completion").into()))
            }
        }
    }
}
