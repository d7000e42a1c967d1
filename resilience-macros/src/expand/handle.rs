use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::LitStr;

use super::{private, site, Function};
use crate::args;

/// Runs `inner` once `policy` admits the call, holding its permit (if any)
/// until `inner` is done: async callers wait on tokio's clock, sync callers
/// block. A refusal becomes the layer's rejection.
pub(crate) fn admitted(
    policy: TokenStream,
    f: &Function,
    span: Span,
    inner: TokenStream,
) -> TokenStream {
    let p = private();
    let at = site(span);
    let acquire = if f.is_async {
        quote_spanned!(at=> policy.acquire().await)
    } else {
        quote_spanned!(at=> policy.acquire_blocking())
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
