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

/// Replaces a failed call's result; see `resilience_runtime::fallback`.
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
