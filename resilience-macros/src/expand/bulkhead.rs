use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use super::handle::handle;
use super::{private, site, Function};
use crate::args::{self, BulkheadArgs};

/// Holds a slot (waiting up to `max_wait`) while the layers below run; the
/// slot is returned when the permit drops, also on panic or cancellation.
pub(crate) fn wrap(
    args: &BulkheadArgs,
    f: &Function,
    span: Span,
    inner: TokenStream,
) -> TokenStream {
    let p = private();
    let config = args::config(
        quote!(::resilience_runtime::bulkhead::BulkheadConfig),
        &args.settings,
    );
    let bulkhead = handle(
        quote!(::resilience_runtime::Bulkhead),
        args.name.as_ref(),
        config,
        f,
        span,
    );
    let at = site(span);
    let acquire = if f.is_async {
        quote_spanned!(at=> bulkhead.acquire().await)
    } else {
        quote_spanned!(at=> bulkhead.acquire_blocking())
    };
    quote_spanned!(at=> {
        let bulkhead: &::resilience_runtime::Bulkhead = #bulkhead;
        match #acquire {
            ::core::result::Result::Err(rejection) => #p::Outcome::Rejected(rejection),
            ::core::result::Result::Ok(permit) => {
                let outcome = #inner;
                ::core::mem::drop(permit);
                outcome
            }
        }
    })
}
