//! [`BulkheadLayer`]: a slot reserved in `poll_ready`, held by the response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::unbound::unbound;
use super::BoxError;
use crate::bulkhead::{BulkheadConfig, BulkheadPermit};
use crate::{registry, Bulkhead, ConfigError, Error, Name};

/// Caps the calls of the inner service running at once with a [`Bulkhead`],
/// shared with every attribute and layer using the same instance.
///
/// `poll_ready` reserves a slot, as tower's `ConcurrencyLimit` does: it is
/// pending while the bulkhead is full, for up to its `max_wait`, and ready
/// once it holds a slot or the bulkhead has refused; `call` then answers the
/// refusal, [`Error::BulkheadFull`], without calling the inner service. The
/// response future holds the slot until it is dropped, done or cancelled
/// (or the inner service panics); a service dropped or cloned after `poll_ready`
/// gives back, or does not copy, its reserved slot.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use resilience_runtime::bulkhead::BulkheadConfig;
/// use resilience_runtime::tower::{BoxError, BulkheadLayer};
/// use resilience_runtime::Error;
/// use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
///
/// let layer = BulkheadLayer::from_config("docs-reports", BulkheadConfig::default().max_concurrent(1)).unwrap();
/// let service = ServiceBuilder::new()
///     .layer(layer.clone())
///     .service(service_fn(|n: u32| async move { Ok::<_, BoxError>(n) }));
///
/// let mut first = service.clone();
/// first.ready().await.unwrap(); // holds the one slot
/// let refused = service.clone().oneshot(2).await.unwrap_err();
/// assert!(matches!(refused.downcast_ref::<Error>(), Some(Error::BulkheadFull { .. })));
/// assert_eq!(first.call(1).await.unwrap(), 1);
/// assert_eq!(layer.bulkhead().available_slots(), 1);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BulkheadLayer {
    bulkhead: Arc<Bulkhead>,
}

impl BulkheadLayer {
    /// A layer over `bulkhead`.
    pub fn new(bulkhead: Arc<Bulkhead>) -> Self {
        BulkheadLayer { bulkhead }
    }

    /// A layer over the registry's bulkhead `name`: the one
    /// `#[bulkhead(name = "...")]` uses.
    pub fn named(name: &str) -> Self {
        Self::new(registry().bulkhead(name))
    }

    /// A layer over a bulkhead of its own, made from `config`, shared by
    /// every service the layer wraps.
    pub fn from_config(name: impl Into<Name>, config: BulkheadConfig) -> Result<Self, ConfigError> {
        Ok(Self::new(Arc::new(Bulkhead::new(name, config)?)))
    }

    /// The bulkhead the layer's services take their slots from.
    pub fn bulkhead(&self) -> &Arc<Bulkhead> {
        &self.bulkhead
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = BulkheadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BulkheadService {
            inner,
            reserved: Reserved::Nothing,
            waiting: None,
            bulkhead: self.bulkhead.clone(),
        }
    }
}

/// A wait for a slot within `max_wait`; boxed, since it is only made when
/// the bulkhead is full.
type Waiting = Pin<Box<dyn Future<Output = Result<BulkheadPermit<'static>, Error>> + Send + Sync>>;

/// The service of a [`BulkheadLayer`].
pub struct BulkheadService<S> {
    inner: S,
    reserved: Reserved,
    waiting: Option<Waiting>,
    bulkhead: Arc<Bulkhead>,
}

/// What `poll_ready` got for the next call.
#[derive(Debug)]
enum Reserved {
    Nothing,
    Slot(BulkheadPermit<'static>),
    Refused(Error),
}

impl<S: std::fmt::Debug> std::fmt::Debug for BulkheadService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkheadService")
            .field("inner", &self.inner)
            .field("reserved", &self.reserved)
            .field("bulkhead", &self.bulkhead.name())
            .finish()
    }
}

impl<S: Clone> Clone for BulkheadService<S> {
    fn clone(&self) -> Self {
        BulkheadService {
            inner: self.inner.clone(),
            reserved: Reserved::Nothing,
            waiting: None,
            bulkhead: self.bulkhead.clone(),
        }
    }
}

impl<S> BulkheadService<S> {
    /// Reserves a slot, or the refusal, for the next call.
    fn reserve(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !matches!(self.reserved, Reserved::Nothing) {
            return Poll::Ready(());
        }
        // SAFETY: the permits and the wait live in `self.reserved` and
        // `self.waiting`, declared before `self.bulkhead`, or in a response
        // future beside a clone of it.
        let bulkhead = unsafe { unbound(&self.bulkhead) };
        let acquired = match &mut self.waiting {
            Some(waiting) => {
                let acquired = ready!(waiting.as_mut().poll(cx));
                self.waiting = None;
                acquired
            }
            None if bulkhead.config().max_wait.is_zero() => bulkhead.try_acquire(),
            None => match bulkhead.take_free() {
                Some(permit) => Ok(permit),
                None => {
                    self.waiting = Some(Box::pin(bulkhead.acquire()));
                    return self.reserve(cx);
                }
            },
        };
        self.reserved = match acquired {
            Ok(permit) => Reserved::Slot(permit),
            Err(refusal) => Reserved::Refused(refusal),
        };
        Poll::Ready(())
    }
}

impl<S, Request> Service<Request> for BulkheadService<S>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BulkheadFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        ready!(self.reserve(cx));
        match self.reserved {
            Reserved::Slot(_) => self.inner.poll_ready(cx).map_err(Into::into),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let state = match std::mem::replace(&mut self.reserved, Reserved::Nothing) {
            Reserved::Slot(permit) => State::Running {
                future: self.inner.call(request),
                permit,
                bulkhead: self.bulkhead.clone(),
            },
            Reserved::Refused(refusal) => State::Refused {
                refusal: Some(refusal),
            },
            Reserved::Nothing => panic!("BulkheadService::call before poll_ready was ready"),
        };
        BulkheadFuture { state }
    }
}

pin_project! {
    /// The response future of a [`BulkheadService`]: holds the call's slot
    /// until it is dropped, done or not, as `ConcurrencyLimit`'s does.
    #[must_use = "futures do nothing unless polled"]
    pub struct BulkheadFuture<F> {
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
            permit: BulkheadPermit<'static>,
            bulkhead: Arc<Bulkhead>,
        },
        Refused { refusal: Option<Error> },
    }
}

impl<F, T, E> Future for BulkheadFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Running { future, .. } => future.poll(cx).map_err(Into::into),
            StateProj::Refused { refusal } => {
                Poll::Ready(Err(refusal.take().expect("polled after completion").into()))
            }
        }
    }
}
