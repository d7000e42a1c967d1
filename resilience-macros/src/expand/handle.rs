use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::LitStr;

use super::{private, site, Function};

/// An expression for the call site's `&'static` policy instance, resolved on
/// the first call and kept in a `static`: no registry lookup per call.
pub(crate) fn handle(
    policy: TokenStream,
    name: Option<&LitStr>,
    config: TokenStream,
    f: &Function,
    span: Span,
) -> TokenStream {
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
