use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use super::handle::{admitted, keyed_instance};
use super::{site, Function};
use crate::args::RateLimiterArgs;

/// Takes a token (waiting up to `max_wait`) before running the layers below.
pub(crate) fn wrap(
    args: &RateLimiterArgs,
    f: &Function,
    span: Span,
    inner: TokenStream,
) -> TokenStream {
    let at = site(span);
    let keyed = args.name.is_some() && args.key.is_some();
    // A rate limiter is done with its instance once the token is taken, so a
    // keyed member is only lent for that, without an `Arc` count, unless the
    // call has to wait for its token.
    let lend = keyed.then(|| {
        quote_spanned!(at=> |policy| {
            if policy.take_free() {
                ::core::option::Option::None
            } else {
                ::core::option::Option::Some(::std::sync::Arc::clone(policy))
            }
        })
    });
    let limiter = keyed_instance(
        "RateLimiter",
        quote!(rate_limiter::RateLimiterConfig),
        args.name.as_ref(),
        args.key.as_ref(),
        lend,
        &args.settings,
        f,
        span,
    );
    if !keyed {
        return admitted(limiter, f, span, inner, false);
    }
    let p = f.private();
    let wait = if f.is_async {
        quote_spanned!(at=> policy.acquire().await)
    } else {
        quote_spanned!(at=> policy.acquire_blocking())
    };
    quote_spanned!(at=> {
        let acquired = match #limiter {
            ::core::option::Option::None => ::core::result::Result::Ok(()),
            ::core::option::Option::Some(policy) => #wait,
        };
        match acquired {
            ::core::result::Result::Err(rejection) => #p::Outcome::Rejected(rejection),
            ::core::result::Result::Ok(()) => #inner,
        }
    })
}
