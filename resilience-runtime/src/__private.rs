//! What the attribute expansions call. Not a public API: it changes without notice.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use crate::declaration::{Declaration, InlineConfig, DECLARATIONS};
pub use crate::fallback::cache::{cache_of, FallbackCache};
pub use crate::fallback::cache_handle::{CacheHandle, CacheKey, CacheValue};
pub use crate::fallback::method::{FutureKind, OtherKind, ResultKind};
pub use crate::fallback::{FallbackSite, FallbackSource, FALLBACKS};
pub use crate::registry::{CallSite, Policy};
pub use linkme;
pub use std::thread::sleep as sleep_blocking;
pub use tokio::time::sleep;

use crate::event::{emit, Event};
use crate::Error;

/// The three ways a layer of the stack can end: the body's value, the body's
/// error, or a policy's rejection. Rejections become the user's error type
/// only at the outer edge, so that no layer mistakes another's rejection for
/// a failure of the call.
pub enum Outcome<T, E, X> {
    Ok(T),
    Err(E),
    Rejected(X),
}

#[inline(always)]
pub fn outcome<R: ResultType, X>(result: R) -> Outcome<R::Ok, R::Err, X> {
    match result.into_result() {
        Ok(value) => Outcome::Ok(value),
        Err(error) => Outcome::Err(error),
    }
}

/// The outer edge of a stack with a policy that can reject.
#[inline(always)]
pub fn finish<R: ResultType>(outcome: Outcome<R::Ok, R::Err, Error>) -> R
where
    R::Err: IntoUserError,
{
    R::from_result(match outcome {
        Outcome::Ok(value) => Ok(value),
        Outcome::Err(error) => Err(error),
        Outcome::Rejected(rejection) => Err(R::Err::from_rejection(rejection)),
    })
}

/// The outer edge of a stack of retries and fallbacks only.
#[inline(always)]
pub fn finish_plain<R: ResultType>(outcome: Outcome<R::Ok, R::Err, Infallible>) -> R {
    R::from_result(match outcome {
        Outcome::Ok(value) => Ok(value),
        Outcome::Err(error) => Err(error),
        Outcome::Rejected(never) => match never {},
    })
}

/// `From<resilience_runtime::Error>`, with a message that says how to add it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot carry the errors of `#[circuit_breaker]`, `#[bulkhead]`, `#[rate_limiter]` or `#[time_limiter]`",
    label = "this function's error type needs `From<resilience_runtime::Error>`",
    note = "add a variant such as `#[error(transparent)] Resilience(#[from] resilience_runtime::Error)` to `{Self}`"
)]
pub trait IntoUserError: Sized {
    fn from_rejection(rejection: Error) -> Self;
}

impl<E: From<Error>> IntoUserError for E {
    #[inline]
    fn from_rejection(rejection: Error) -> Self {
        E::from(rejection)
    }
}

/// The parts of a function's return type, written as `Result<T, E>` or as an alias of it.
#[diagnostic::on_unimplemented(
    message = "resilience attributes need a function that returns `Result<T, E>`, found `{Self}`",
    label = "not a `Result`"
)]
pub trait ResultType {
    type Ok;
    type Err;
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
    fn from_result(result: Result<Self::Ok, Self::Err>) -> Self;
}

impl<T, E> ResultType for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline(always)]
    fn into_result(self) -> Self {
        self
    }
    #[inline(always)]
    fn from_result(result: Self) -> Self {
        result
    }
}

/// Converts a rejection into the function's error type `R::Err`, for an `on`
/// predicate or a fallback method.
#[inline]
pub fn user_error<R: ResultType>(rejection: Error) -> R::Err
where
    R::Err: IntoUserError,
{
    R::Err::from_rejection(rejection)
}

/// The wait a rejection asks a retry to respect: a rate limiter's `retry_after`.
/// An open circuit's remaining time is not one: a retry over a breaker keeps
/// its own schedule, as the breaker may close sooner for other callers.
#[inline]
pub fn retry_after<T, E>(outcome: &Outcome<T, E, Error>) -> Option<Duration> {
    match outcome {
        Outcome::Rejected(rejection @ Error::RateLimited { .. }) => rejection.retry_after(),
        _ => None,
    }
}

/// Pins the body closure's return type to the function's.
#[inline(always)]
pub fn body_once<R, F: FnOnce() -> R>(body: F) -> F {
    body
}

/// Pins the body closure's return type; `#[retry]` calls it again.
#[inline(always)]
pub fn body_mut<R, F: FnMut() -> R>(body: F) -> F {
    body
}

/// Pins the body future's output type to the function's.
#[inline(always)]
pub fn body_future<R, F: Future<Output = R>>(body: F) -> F {
    body
}

/// Pins the async body closure's output type; `#[retry]` calls it again.
#[inline(always)]
pub fn body_async<R, F: AsyncFnMut() -> R>(body: F) -> F {
    body
}

/// Pins the async body closure's output type; `#[hedge]` runs several calls
/// of it at once, so it must be callable through a shared reference.
#[inline(always)]
pub fn body_shared<R, F: AsyncFn() -> R>(body: F) -> F {
    body
}

/// The layers below a `#[hedge]`, as a callable whose calls may run at once.
#[inline(always)]
pub fn hedged_layers<O, F: AsyncFn() -> O>(layers: F) -> F {
    layers
}

/// A call site's handle on its policy instance, resolved on the first call.
pub type Handle<P> = OnceLock<Arc<P>>;

/// The named instance a call site declares, with the settings in force.
#[cold]
pub fn named<P: Policy>(declaration: &'static Declaration) -> Arc<P> {
    crate::registry().resolve(declaration)
}

/// A keyed call site's handle on its family, resolved on the first call.
pub type FamilyHandle<P> = OnceLock<Arc<crate::keyed::Family<P>>>;

/// The keyed family a call site declares.
#[cold]
pub fn family<P: Policy>(declaration: &'static Declaration) -> Arc<crate::keyed::Family<P>> {
    crate::registry().resolve_family(declaration)
}

/// A call site's own instance.
#[cold]
pub fn unnamed<P: Policy>(label: &'static str, config: P::Config) -> Arc<P> {
    Arc::new(crate::registry::valid(P::create(label.into(), config)))
}

#[cold]
pub fn fallback_used(site: &FallbackSite, rejection: Option<&Error>, source: FallbackSource) {
    site.used(rejection.is_some(), source);
    emit(Event::FallbackUsed {
        name: site.call_site.function,
        rejection,
        source,
    });
}

/// A failure the cache had no fresh answer for.
#[cold]
pub fn fallback_cache_missed(site: &FallbackSite) {
    site.cache_missed();
}
