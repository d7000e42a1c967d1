use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use super::handle::instance;
use super::{site, Function};
use crate::args::TimeLimiterArgs;

/// Runs the layers below under a deadline; on timeout their future is dropped.
pub(crate) fn wrap(
    args: &TimeLimiterArgs,
    f: &Function,
    span: Span,
    inner: TokenStream,
) -> TokenStream {
    let p = f.private();
    let limiter = instance(
        "TimeLimiter",
        quote!(time_limiter::TimeLimiterConfig),
        args.name.as_ref(),
        &args.settings,
        f,
        span,
    );
    let krate = &f.krate;
    let at = site(span);
    quote_spanned!(at=> {
        let limiter: &#krate::TimeLimiter = #limiter;
        match limiter
            .judged(async { #inner }, |outcome| ::core::matches!(outcome, #p::Outcome::Ok(_)))
            .await
        {
            ::core::result::Result::Ok(outcome) => outcome,
            ::core::result::Result::Err(rejection) => #p::Outcome::Rejected(rejection),
        }
    })
}
