//! The attribute macros of [`resilience-runtime`](https://docs.rs/resilience-runtime).
//! Depend on `resilience-runtime`, which re-exports them; the expansions
//! call into it.
//!
//! The first resilience attribute on a function takes the others off and
//! expands the whole stack in one pass, in written order (top outermost).

use proc_macro::TokenStream;

mod args;
mod errors;
mod expand;
mod stack;

use stack::Kind;

/// Retries a failing call; see `resilience_runtime::retry`.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Retry, args.into(), item.into()).into()
}

/// Stops calling a failing dependency; see `resilience_runtime::circuit_breaker`.
#[proc_macro_attribute]
pub fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::CircuitBreaker, args.into(), item.into()).into()
}

/// Caps the rate of calls; see `resilience_runtime::rate_limiter`.
#[proc_macro_attribute]
pub fn rate_limiter(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::RateLimiter, args.into(), item.into()).into()
}

/// Caps concurrent calls; see `resilience_runtime::bulkhead`.
#[proc_macro_attribute]
pub fn bulkhead(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Bulkhead, args.into(), item.into()).into()
}

/// Cancels an async call that runs too long; see `resilience_runtime::time_limiter`.
#[proc_macro_attribute]
pub fn time_limiter(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::TimeLimiter, args.into(), item.into()).into()
}

/// Replaces a failed call's result; see `resilience_runtime::fallback` for
/// its arguments.
///
/// # Sync or async method
///
/// A `method` receives the function's arguments by name (`self` first, for
/// a method), then the error, and returns the function's own return type.
/// For an `async fn` it may be sync or async: an async method's future is
/// awaited, a sync method's result used as it is. A sync function needs a
/// sync method: it has no executor to await a future on, and an async
/// method there is a compile error.
///
/// # Cache of last good answers
///
/// `cache = "5m"` keeps each successful result per distinct argument list,
/// and serves it for a failure (one that `on` accepts) while it is younger
/// than the duration; then `method` or `value` answers, if given, else the
/// failure passes through. `cache_capacity` (1024) bounds the argument lists
/// kept, the least recently used (stored or served) out first. It needs the
/// runtime's `fallback-cache` feature.
///
/// - The key is every argument but the receiver (one cache per function,
///   shared by every value it is called on). Arguments must be
///   `Hash + Eq + Clone + Send + 'static`; a `&T` is kept as its owned form
///   (`&str` as `String`). The value must be `Clone + Send + 'static`.
/// - The cache is a `static` of the expansion, so a generic function (or one
///   whose types name `Self` or borrow) cannot have one: a compile error.
/// - An async function's cache keeps time on tokio's clock, a sync one's on
///   the policies' clock; both follow a paused tokio clock in tests.
/// - Storing takes a lock and may allocate (a new argument list, a value
///   whose clone allocates): the one success path of the crate that does.
///
/// A fallback has no name and no table in the configuration file: its
/// settings are its arguments, and `registry().fallbacks()` is where they
/// are visible (each site's `cache` and `cache_capacity`), with the counts
/// of which source answered (`cache_hits`, `cache_misses`, `method_calls`,
/// `value_calls`). `Event::FallbackUsed` says the same for each call in its
/// `source`.
///
/// ```
/// use resilience_runtime::fallback;
///
/// static DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
///
/// #[fallback(cache = "5m", value = 0)]
/// fn stock(item: &str) -> Result<u32, std::io::Error> {
///     if DOWN.load(std::sync::atomic::Ordering::Relaxed) {
///         return Err(std::io::Error::other("inventory down"));
///     }
///     Ok(item.len() as u32)
/// }
///
/// assert_eq!(stock("bolts").unwrap(), 5);
/// DOWN.store(true, std::sync::atomic::Ordering::Relaxed);
/// assert_eq!(stock("bolts").unwrap(), 5, "the last good answer");
/// assert_eq!(stock("nuts").unwrap(), 0, "nothing kept for these arguments");
/// ```
///
/// # Chains
///
/// Stacked fallbacks form a chain, outermost last: each one answers for the
/// failures of everything below it, the fallbacks below included. So the
/// primary is the body, the innermost fallback the secondary, and a `value`
/// on top the default when all else failed (SysManage's fallback strategy).
/// A method that fails hands its error to the next fallback up, whose `on`
/// judges that error, not the primary's. In a chain of methods, arguments
/// are passed on to each: give them types that are `Copy` (such as
/// references).
///
/// ```
/// use resilience_runtime::fallback;
///
/// #[derive(Debug)]
/// enum QuoteError { Primary, Replica }
///
/// fn from_replica(id: u32, _error: QuoteError) -> Result<String, QuoteError> {
///     if id == 0 { Err(QuoteError::Replica) } else { Ok(format!("replica {id}")) }
/// }
///
/// #[fallback(value = "no quote".to_owned())] // then the default
/// #[fallback(method = from_replica)]         // first the secondary
/// fn quote(id: u32) -> Result<String, QuoteError> {
///     Err(QuoteError::Primary)
/// }
///
/// assert_eq!(quote(7).unwrap(), "replica 7");
/// assert_eq!(quote(0).unwrap(), "no quote");
/// ```
#[proc_macro_attribute]
pub fn fallback(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Fallback, args.into(), item.into()).into()
}

/// Starts a copy of a slow async call and keeps the first answer; see
/// `resilience_runtime::hedge`.
#[proc_macro_attribute]
pub fn hedge(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Hedge, args.into(), item.into()).into()
}
