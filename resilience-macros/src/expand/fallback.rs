use proc_macro2::{Span, TokenStream};
use quote::{quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, Pat, Signature};

use super::{site, Function, Layer};
use crate::args::{FallbackArgs, Replacement};
use crate::errors::Errors;

pub(crate) fn calls_method(layer: &Layer) -> bool {
    matches!(
        layer,
        Layer::Fallback(FallbackArgs {
            replacement: Some(Replacement::Method(_)),
            ..
        })
    )
}

/// The function's arguments, to pass on to a fallback method: `self`, then
/// each argument by name.
pub(crate) fn call_args(sig: &Signature, errors: &mut Errors) -> Vec<TokenStream> {
    let mut args = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => args.push(receiver.self_token.to_token_stream()),
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                    args.push(ident.ident.to_token_stream())
                }
                pattern => errors.at(
                    pattern.span(),
                    "`#[fallback(method = ...)]` passes the arguments on by name; give this argument a name and destructure it in the body",
                ),
            },
        }
    }
    args
}

/// Replaces an error (or another policy's rejection) that `on` accepts, by
/// the method's result or by `Ok(value)`.
pub(crate) fn wrap(
    args: &FallbackArgs,
    f: &Function,
    span: Span,
    inner: TokenStream,
    call_args: &[TokenStream],
) -> TokenStream {
    let p = f.private();
    let result = f.result;
    let function = f.name();
    let at = site(span);
    let replace = match &args.replacement {
        Some(Replacement::Method(method)) => {
            let dot_await = f.dot_await();
            quote_spanned!(site(method.span())=> #p::outcome(#method(#(#call_args,)* error) #dot_await))
        }
        Some(Replacement::Value(value)) => quote_spanned!(site(value.span())=> {
            ::core::mem::drop(error);
            #p::Outcome::Ok(#value)
        }),
        None => unreachable!("a fallback without a replacement was reported"),
    };
    let on_error = match &args.on {
        None => quote_spanned!(at=> {
            #p::fallback_used(__fallback_site, ::core::option::Option::None);
            #replace
        }),
        Some(on) => quote_spanned!(site(on.span())=>
            if (#on)(&error) {
                #p::fallback_used(__fallback_site, ::core::option::Option::None);
                #replace
            } else {
                #p::Outcome::Err(error)
            }
        ),
    };
    let on_rejection = match (&args.on, f.can_reject) {
        (_, false) => quote_spanned!(at=> match rejection {}),
        (None, true) => quote_spanned!(at=> {
            #p::fallback_used(__fallback_site, ::core::option::Option::Some(&rejection));
            let error = #p::user_error::<#result>(rejection);
            #replace
        }),
        (Some(on), true) => quote_spanned!(site(on.span())=> {
            let error = #p::user_error::<#result>(::core::clone::Clone::clone(&rejection));
            if (#on)(&error) {
                #p::fallback_used(__fallback_site, ::core::option::Option::Some(&rejection));
                #replace
            } else {
                #p::Outcome::Rejected(rejection)
            }
        }),
    };
    // Listed at link time, so that the registry counts its uses (and knows
    // the fallbacks never used) without a lookup.
    // In a block of its own, so that its name cannot shadow a user's constant
    // in `value = ...`.
    quote_spanned!(at=> {
        let __fallback_site: &'static #p::FallbackSite = {
            #[#p::linkme::distributed_slice(#p::FALLBACKS)]
            #[linkme(crate = #p::linkme)]
            static SITE: #p::FallbackSite = #p::FallbackSite::new(#function);
            &SITE
        };
        match #inner {
            #p::Outcome::Ok(value) => #p::Outcome::Ok(value),
            #p::Outcome::Err(error) => #on_error,
            #p::Outcome::Rejected(rejection) => #on_rejection,
        }
    })
}
