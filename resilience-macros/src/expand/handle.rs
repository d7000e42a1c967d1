use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::LitStr;

use super::{private, site, Function};
use crate::args;

/// Runs `inner` once `policy` admits the call, holding its permit (if any)
/// until `inner` is done: async callers wait on tokio's clock, sync callers
/// block. A refusal becomes the layer's rejection. With `take_free`, the
/// policy offers a `take_free()` tried first, so that a call finding a free
/// slot runs none of the waiting code.
pub(crate) fn admitted(
    policy: TokenStream,
    f: &Function,
    span: Span,
    inner: TokenStream,
    take_free: bool,
) -> TokenStream {
    let p = private();
    let at = site(span);
    let wait = if f.is_async {
        quote_spanned!(at=> policy.acquire().await)
    } else {
        quote_spanned!(at=> policy.acquire_blocking())
    };
    // A free slot is taken inline, without the waiting code (nor, async,
    // building the waiting future).
    let acquire = if take_free {
        quote_spanned!(at=> match policy.take_free() {
            ::core::option::Option::Some(permit) => ::core::result::Result::Ok(permit),
            ::core::option::Option::None => #wait,
        })
    } else {
        wait
    };
    quote_spanned!(at=> {
        let policy = #policy;
        match #acquire {
            ::core::result::Result::Err(rejection) => #p::Outcome::Rejected(rejection),
            ::core::result::Result::Ok(_permit) => #inner,
        }
    })
}

/// An expression for the call site's `&'static` instance of `policy`,
/// configured by `settings` over `config`'s defaults; resolved on the first
/// call and kept in a `static`: no registry lookup per call.
pub(crate) fn instance(
    policy: TokenStream,
    config: TokenStream,
    name: Option<&LitStr>,
    settings: &[(&str, TokenStream)],
    f: &Function,
    span: Span,
) -> TokenStream {
    let config = args::config(config, settings);
    let p = private();
    let function = f.name();
    let at = site(span);
    let resolve = match name {
        Some(name) => quote_spanned!(at=> #p::named::<#policy>(#name, #config, #p::CallSite {
            function: #function,
            file: ::core::file!(),
            line: ::core::line!(),
            column: ::core::column!(),
        })),
        None => quote_spanned!(at=> #p::unnamed::<#policy>(#function, #config)),
    };
    quote_spanned!(at=> {
        static HANDLE: #p::Handle<#policy> = #p::Handle::<#policy>::new();
        &**HANDLE.get_or_init(|| #resolve)
    })
}
