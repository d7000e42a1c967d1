use proc_macro2::{Span, TokenStream};
use quote::quote;

use super::handle::{admitted, keyed_instance};
use super::Function;
use crate::args::RateLimiterArgs;

/// Takes a token (waiting up to `max_wait`) before running the layers below.
pub(crate) fn wrap(
    args: &RateLimiterArgs,
    f: &Function,
    span: Span,
    inner: TokenStream,
) -> TokenStream {
    let limiter = keyed_instance(
        "RateLimiter",
        quote!(rate_limiter::RateLimiterConfig),
        args.name.as_ref(),
        args.key.as_ref(),
        &args.settings,
        f,
        span,
    );
    admitted(limiter, f, span, inner, false)
}
