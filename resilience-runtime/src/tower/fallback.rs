//! [`FallbackLayer`]: an answer made from the error.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::BoxError;

/// Answers a failed call with what `fallback` makes of its error: `Ok(response)`
/// replaces the error, `Err(error)` (the same one, or another) keeps the
/// call failed, which is how the attribute's `on` is written here. The
/// refusals of the layers inside are errors like the others: downcast to
/// [`Error`](crate::Error) to tell them apart.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use resilience_runtime::tower::{BoxError, FallbackLayer};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// let service = ServiceBuilder::new()
///     .layer(FallbackLayer::new(|error: BoxError| match error.downcast_ref::<resilience_runtime::Error>() {
///         Some(_) => Ok("busy, try later".to_string()),
///         None => Err(error),
///     }))
///     .service(service_fn(|_: ()| async { Err::<String, BoxError>("down".into()) }));
///
/// assert_eq!(service.oneshot(()).await.unwrap_err().to_string(), "down");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FallbackLayer<F> {
    fallback: F,
}

impl<F> FallbackLayer<F> {
    /// A layer answering failed calls with `fallback`.
    pub fn new(fallback: F) -> Self {
        FallbackLayer { fallback }
    }
}

impl<S, F: Clone> Layer<S> for FallbackLayer<F> {
    type Service = FallbackService<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        FallbackService {
            inner,
            fallback: self.fallback.clone(),
        }
    }
}

/// The service of a [`FallbackLayer`].
#[derive(Debug, Clone)]
pub struct FallbackService<S, F> {
    inner: S,
    fallback: F,
}

impl<S, F, Request> Service<Request> for FallbackService<S, F>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    F: Fn(BoxError) -> Result<S::Response, BoxError> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = FallbackFuture<S::Future, F>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        FallbackFuture {
            future: self.inner.call(request),
            fallback: self.fallback.clone(),
        }
    }
}

pin_project! {
    /// The response future of a [`FallbackService`].
    #[must_use = "futures do nothing unless polled"]
    pub struct FallbackFuture<Fut, F> {
        #[pin]
        future: Fut,
        fallback: F,
    }
}

impl<Fut, F, T, E> Future for FallbackFuture<Fut, F>
where
    Fut: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    F: Fn(BoxError) -> Result<T, BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        Poll::Ready(match ready!(this.future.poll(cx)) {
            Ok(response) => Ok(response),
            Err(error) => (this.fallback)(error.into()),
        })
    }
}
