use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr};

use super::{site, Function};
use crate::args::{self, Value};

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
    let p = f.private();
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
    // The outcome is bound, so that the permit, which borrows `policy` (a
    // keyed member's `Arc`), ends before it.
    quote_spanned!(at=> {
        let policy = #policy;
        let outcome = match #acquire {
            ::core::result::Result::Err(rejection) => #p::Outcome::Rejected(rejection),
            ::core::result::Result::Ok(_permit) => #inner,
        };
        outcome
    })
}

/// An expression for the call site's `&'static` instance of the runtime's
/// `policy` type, configured by `settings` over the defaults of `config` (a
/// path inside the runtime crate); resolved on the first call and kept in a
/// `static`: no registry lookup per call. A named instance is also declared
/// in the runtime's link-time list, so that the registry knows it before the
/// first call.
pub(crate) fn instance(
    policy: &str,
    config: TokenStream,
    name: Option<&LitStr>,
    settings: &[(&str, Value)],
    f: &Function,
    span: Span,
) -> TokenStream {
    keyed_instance(policy, config, name, None, None, settings, f, span)
}

/// As [`instance`], and with a `key` (and a `name`) the expression is this
/// call's member of the named family instead, an `Arc` of the policy: the
/// family is resolved on the first call and kept in a `static`, and `key` is
/// evaluated on every call. With `lend` (a closure of `&Arc<policy>`), the
/// expression is what `lend` returns of the member instead, which is lent to
/// it without taking a count of the `Arc`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn keyed_instance(
    policy: &str,
    config: TokenStream,
    name: Option<&LitStr>,
    key: Option<&Expr>,
    lend: Option<TokenStream>,
    settings: &[(&str, Value)],
    f: &Function,
    span: Span,
) -> TokenStream {
    let krate = &f.krate;
    let config = args::config(krate, quote!(#krate::#config), settings);
    let p = f.private();
    // The runtime names each `InlineConfig` variant after its policy type.
    let policy = Ident::new(policy, Span::call_site());
    let function = f.name();
    let at = site(span);
    let (declare, resolve) = match name {
        Some(name) => {
            let call_site = quote_spanned!(at=> #p::CallSite {
                function: #function,
                file: ::core::file!(),
                line: ::core::line!(),
                column: ::core::column!(),
            });
            let keys = settings.iter().map(|(key, _)| key);
            let keyed = key.is_some();
            (
                quote_spanned!(at=>
                    #[#p::linkme::distributed_slice(#p::DECLARATIONS)]
                    #[linkme(crate = #p::linkme)]
                    static DECLARATION: #p::Declaration = #p::Declaration {
                        name: #name,
                        site: #call_site,
                        keyed: #keyed,
                        keys: &[#(#keys),*],
                        config: #p::InlineConfig::#policy(|| #config),
                    };
                ),
                quote_spanned!(at=> #p::named::<#krate::#policy>(&DECLARATION)),
            )
        }
        None => (
            TokenStream::new(),
            quote_spanned!(at=> #p::unnamed::<#krate::#policy>(#function, #config)),
        ),
    };
    if let (Some(key), Some(_)) = (key, name) {
        let family = quote_spanned!(key.span()=> FAMILY.get_or_init(|| #p::family::<#krate::#policy>(&DECLARATION)));
        let lookup = match lend {
            Some(lend) => quote_spanned!(key.span()=> #family.with(&(#key), #lend)),
            None => quote_spanned!(key.span()=> #family.get(&(#key))),
        };
        return quote_spanned!(at=> {
            #declare
            static FAMILY: #p::FamilyHandle<#krate::#policy> = #p::FamilyHandle::<#krate::#policy>::new();
            #lookup
        });
    }
    quote_spanned!(at=> {
        #declare
        static HANDLE: #p::Handle<#krate::#policy> = #p::Handle::<#krate::#policy>::new();
        &**HANDLE.get_or_init(|| #resolve)
    })
}
