//! A fallback `method` of an async function may be sync or async: the
//! expansion cannot see the method's definition, so it asks the type of
//! what the call returned. `(&returned).__resilience_fallback_kind()` finds
//! a `Result` ([`ResultKind`]) or a future ([`FutureKind`]) by value, and
//! anything else ([`OtherKind`]) only through one more reference
//! (autoref specialisation); the tag it returns then turns the value into
//! something to await, or for a sync function into the result itself. What
//! cannot be used is refused at compile time by a trait with no impls, whose
//! message says why.

use std::future::{ready, Future, Ready};

/// A `method` returned a `Result`.
#[doc(hidden)]
pub struct ResultTag;

/// A `method` returned a future.
#[doc(hidden)]
pub struct FutureTag;

/// A `method` returned something else.
#[doc(hidden)]
pub struct OtherTag;

#[doc(hidden)]
pub trait ResultKind {
    #[inline(always)]
    fn __resilience_fallback_kind(&self) -> ResultTag {
        ResultTag
    }
}

impl<T, E> ResultKind for Result<T, E> {}

#[doc(hidden)]
pub trait FutureKind {
    #[inline(always)]
    fn __resilience_fallback_kind(&self) -> FutureTag {
        FutureTag
    }
}

impl<F: Future> FutureKind for F {}

#[doc(hidden)]
pub trait OtherKind {
    #[inline(always)]
    fn __resilience_fallback_kind(&self) -> OtherTag {
        OtherTag
    }
}

impl<T> OtherKind for &T {}

impl ResultTag {
    /// A sync method's result, for an async function.
    #[inline(always)]
    pub fn awaitable<R>(self, result: R) -> Ready<R> {
        ready(result)
    }

    /// A sync method's result, for a sync function.
    #[inline(always)]
    pub fn sync<R>(self, result: R) -> R {
        result
    }
}

impl FutureTag {
    /// An async method's future, for an async function.
    #[inline(always)]
    pub fn awaitable<R>(self, future: impl Future<Output = R>) -> impl Future<Output = R> {
        future
    }

    /// An async method's future, for a sync function: refused.
    #[inline(always)]
    pub fn sync<R>(self, future: impl AwaitedInSyncFunction<R>) -> R {
        future.block()
    }
}

impl OtherTag {
    /// Neither a `Result` nor a future, for an async function: refused.
    #[inline(always)]
    pub fn awaitable<R>(self, returned: impl NotTheFunctionsResult<R>) -> Ready<R> {
        ready(returned.into_result())
    }

    /// Neither a `Result` nor a future, for a sync function: refused.
    #[inline(always)]
    pub fn sync<R>(self, returned: impl NotTheFunctionsResult<R>) -> R {
        returned.into_result()
    }
}

mod sealed {
    pub trait Never {}
}

/// Implemented by nothing: a sync function has no executor to await its
/// fallback method's future on.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a sync function cannot await its fallback method: `{Self}` is a future",
    label = "this method is `async`",
    note = "a sync function has no executor to run the future on; make the method a plain `fn`, or make the guarded function `async`"
)]
pub trait AwaitedInSyncFunction<R>: sealed::Never {
    #[doc(hidden)]
    fn block(self) -> R;
}

/// Implemented by nothing: a fallback method returns the function's return
/// type (or, for an async function, a future of it).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a fallback method must return the function's `{R}`, found `{Self}`",
    label = "this method returns `{Self}`",
    note = "the method takes the function's arguments, then the error, and returns `{R}` (for an `async fn`, it may be an `async fn` returning it)"
)]
pub trait NotTheFunctionsResult<R>: sealed::Never {
    #[doc(hidden)]
    fn into_result(self) -> R;
}
