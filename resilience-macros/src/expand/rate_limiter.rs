use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use super::handle::handle;
use super::{private, site, Function};
use crate::args::{self, RateLimiterArgs};

/// Takes a token (waiting up to `max_wait`) before running the layers below.
pub(crate) fn wrap(
    args: &RateLimiterArgs,
    f: &Function,
    span: Span,
    inner: TokenStream,
) -> TokenStream {
    let p = private();
    let config = args::config(
        quote!(::resilience_runtime::rate_limiter::RateLimiterConfig),
        &args.settings,
    );
    let limiter = handle(
        quote!(::resilience_runtime::RateLimiter),
        args.name.as_ref(),
        config,
        f,
        span,
    );
    let at = site(span);
    let acquire = if f.is_async {
        quote_spanned!(at=> limiter.acquire().await)
    } else {
        quote_spanned!(at=> limiter.acquire_blocking())
    };
    quote_spanned!(at=> {
        let limiter: &::resilience_runtime::RateLimiter = #limiter;
        match #acquire {
            ::core::result::Result::Err(rejection) => #p::Outcome::Rejected(rejection),
            ::core::result::Result::Ok(()) => #inner,
        }
    })
}
