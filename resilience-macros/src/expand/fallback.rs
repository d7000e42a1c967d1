use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, GenericParam, Ident, Pat, ReturnType, Signature, Type};

use super::{site, Function, Layer};
use crate::args::{Cache, FallbackArgs, Replacement};
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

pub(crate) fn has_cache(layer: &Layer) -> bool {
    matches!(layer, Layer::Fallback(FallbackArgs { cache: Some(_), .. }))
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

/// One argument as part of a cache's key: its type in the `static`, and
/// the expression that copies it.
struct KeyPart {
    ty: TokenStream,
    copy: TokenStream,
}

/// The cache's key: every argument but the receiver, each copied (a `&T`
/// as its owned form). Reports what a `static` cannot hold.
fn key_parts(sig: &Signature, errors: &mut Errors) -> Vec<KeyPart> {
    let generics: Vec<&Ident> = sig
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(ty) => Some(&ty.ident),
            GenericParam::Const(constant) => Some(&constant.ident),
            GenericParam::Lifetime(_) => None,
        })
        .collect();
    if let Some(first) = generics.first() {
        errors.at(
            first.span(),
            format!("`#[fallback(cache = ...)]` keeps its answers in a `static`, which cannot depend on the generic parameter `{first}`; remove `cache`, or make the function non-generic"),
        );
        return Vec::new();
    }
    let mut parts = Vec::new();
    for input in &sig.inputs {
        let FnArg::Typed(typed) = input else {
            continue;
        };
        let name = match &*typed.pat {
            Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => &ident.ident,
            pattern => {
                errors.at(
                    pattern.span(),
                    "`#[fallback(cache = ...)]` keys its answers by the arguments, taken by name; give this argument a name and destructure it in the body",
                );
                continue;
            }
        };
        let (owned, part) = match &*typed.ty {
            Type::Reference(reference) => {
                let elem = &reference.elem;
                (
                    &**elem,
                    KeyPart {
                        ty: quote_spanned!(elem.span()=> <#elem as ::std::borrow::ToOwned>::Owned),
                        copy: quote_spanned!(name.span()=> ::std::borrow::ToOwned::to_owned(&*#name)),
                    },
                )
            }
            ty => (
                ty,
                KeyPart {
                    ty: ty.to_token_stream(),
                    copy: quote_spanned!(name.span()=> ::core::clone::Clone::clone(&#name)),
                },
            ),
        };
        if let Some((span, what)) = not_static(owned.to_token_stream()) {
            errors.at(
                span,
                format!("`#[fallback(cache = ...)]` keeps the arguments as keys in a `static`, which cannot hold {what}; take an owned argument (a `&T` is kept as its owned form, e.g. `&str` as `String`)"),
            );
            continue;
        }
        parts.push(part);
    }
    parts
}

/// Checks what `cache` needs of the function's signature.
pub(crate) fn check_cache(sig: &Signature, errors: &mut Errors) {
    key_parts(sig, errors);
    let ReturnType::Type(_, result) = &sig.output else {
        return;
    };
    if let Some((span, what)) = not_static(result.to_token_stream()) {
        errors.at(
            span,
            format!("`#[fallback(cache = ...)]` keeps the answers in a `static`, which cannot hold {what}; return an owned value, or remove `cache`"),
        );
    }
}

/// The first token of a type that a `static` cannot name: a borrow or a
/// lifetime other than `'static`, `Self`, or `impl Trait`.
fn not_static(tokens: TokenStream) -> Option<(Span, &'static str)> {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        let is_static = |at: usize| {
            matches!(tokens.get(at), Some(TokenTree::Punct(p)) if p.as_char() == '\'')
                && matches!(tokens.get(at + 1), Some(TokenTree::Ident(i)) if i == "static")
        };
        match token {
            TokenTree::Group(group) => {
                if let Some(found) = not_static(group.stream()) {
                    return Some(found);
                }
            }
            TokenTree::Punct(p) if p.as_char() == '&' && !is_static(i + 1) => {
                return Some((p.span(), "a borrow"));
            }
            TokenTree::Punct(p) if p.as_char() == '\'' && !is_static(i) => {
                return Some((p.span(), "a borrow with a lifetime other than `'static`"));
            }
            TokenTree::Ident(ident) if ident == "Self" => {
                return Some((ident.span(), "`Self` (write the type's name instead)"));
            }
            TokenTree::Ident(ident) if ident == "impl" => {
                return Some((ident.span(), "an `impl Trait` type"));
            }
            _ => {}
        }
    }
    None
}

/// The statements that make the call site's cache and copy its key, and the
/// names they bind.
fn cache_setup(cache: &Cache, f: &Function) -> TokenStream {
    let p = f.private();
    let krate = &f.krate;
    let result = f.result;
    let at = site(cache.span);
    let ttl = cache.ttl.tokens(krate);
    let capacity = cache.capacity as usize;
    let tokio_clock = f.is_async;
    let mut errors = Errors::default();
    let parts = key_parts(&f.item.sig, &mut errors);
    let types = parts.iter().map(|part| &part.ty);
    let copies = parts.iter().map(|part| &part.copy);
    // One type parameter per argument, so that a type that cannot be a key
    // is reported by its own name.
    let params: Vec<Ident> = (0..parts.len())
        .map(|i| {
            Ident::new(
                &format!("__K{i}"),
                Span::mixed_site().located_at(cache.span),
            )
        })
        .collect();
    let names: Vec<Ident> = (0..parts.len())
        .map(|i| Ident::new(&format!("k{i}"), Span::mixed_site()))
        .collect();
    quote_spanned!(at=>
        // The key is copied before the call, so that a body changing a `mut`
        // argument does not change it.
        let (__fallback_cache, __fallback_key) = {
            static CACHE: #p::FallbackCache<(#(#types,)*), <#result as #p::ResultType>::Ok> =
                #p::FallbackCache::new(#ttl, #capacity, #tokio_clock);
            fn checked<#(#params: #p::CacheKey,)* __V: #p::CacheValue>(
                cache: &'static #p::FallbackCache<(#(#params,)*), __V>,
                #(#names: #params,)*
            ) -> (#p::CacheHandle<(#(#params,)*), __V>, (#(#params,)*)) {
                (#p::cache_of(cache), (#(#names,)*))
            }
            checked(&CACHE, #(#copies,)*)
        };
    )
}

/// Replaces an error (or another policy's rejection) that `on` accepts: by
/// a cached answer younger than `cache`, else by the method's result or by
/// `Ok(value)`, else it passes through.
pub(crate) fn wrap(
    args: &FallbackArgs,
    f: &Function,
    span: Span,
    inner: TokenStream,
    call_args: &[TokenStream],
) -> TokenStream {
    let p = f.private();
    let krate = &f.krate;
    let result = f.result;
    let function = f.name();
    let at = site(span);
    let replace = args.replacement.as_ref().map(|replacement| match replacement {
        Replacement::Method(method) => {
            let at = site(method.span());
            // The method may be sync or async for an async function; its
            // result's type decides (see the runtime's `fallback::method`).
            let produce = if f.is_async {
                quote_spanned!(at=> (&returned).__resilience_fallback_kind().awaitable::<#result>(returned).await)
            } else {
                quote_spanned!(at=> (&returned).__resilience_fallback_kind().sync::<#result>(returned))
            };
            (
                quote!(#p::FallbackSource::Method),
                quote_spanned!(at=> {
                    #[allow(unused_imports)]
                    use #p::{FutureKind as _, OtherKind as _, ResultKind as _};
                    let returned = #method(#(#call_args,)* error);
                    #p::outcome(#produce)
                }),
            )
        }
        Replacement::Value(value) => (
            quote!(#p::FallbackSource::Value),
            // The error is dropped before the value is made; `drop(error)`
            // would draw clippy's `drop_non_drop` for a plain error type.
            quote_spanned!(site(value.span())=> {
                {
                    let _error = error;
                }
                #p::Outcome::Ok(#value)
            }),
        ),
    });
    // After the cache (if any) had nothing: the replacement, or the failure.
    let (replace_error, replace_rejection) = match &replace {
        Some((source, replace)) => (
            quote_spanned!(at=> {
                #p::fallback_used(__fallback_site, ::core::option::Option::None, #source);
                #replace
            }),
            quote_spanned!(at=> {
                #p::fallback_used(__fallback_site, ::core::option::Option::Some(&rejection), #source);
                let error = #p::user_error::<#result>(rejection);
                #replace
            }),
        ),
        None => (
            quote_spanned!(at=> #p::Outcome::Err(error)),
            quote_spanned!(at=> #p::Outcome::Rejected(rejection)),
        ),
    };
    let (replace_error, replace_rejection) = match &args.cache {
        None => (replace_error, replace_rejection),
        Some(_) => {
            let from_cache = |rejection: TokenStream, otherwise: TokenStream| {
                quote_spanned!(at=>
                    match __fallback_cache.fresh(&__fallback_key) {
                        ::core::option::Option::Some(value) => {
                            #p::fallback_used(__fallback_site, #rejection, #p::FallbackSource::Cache);
                            #p::Outcome::Ok(value)
                        }
                        ::core::option::Option::None => {
                            #p::fallback_cache_missed(__fallback_site);
                            #otherwise
                        }
                    }
                )
            };
            (
                from_cache(quote!(::core::option::Option::None), replace_error),
                from_cache(
                    quote_spanned!(at=> ::core::option::Option::Some(&rejection)),
                    replace_rejection,
                ),
            )
        }
    };
    let on_error = match &args.on {
        None => replace_error,
        Some(on) => quote_spanned!(site(on.span())=>
            if (#on)(&error) {
                #replace_error
            } else {
                #p::Outcome::Err(error)
            }
        ),
    };
    let on_rejection = match (&args.on, f.can_reject) {
        // Passed on rather than matched away, so that a fallback over this
        // one (a chain) knows the rejection type.
        (_, false) => quote_spanned!(at=> #p::Outcome::Rejected(rejection)),
        (None, true) => replace_rejection,
        (Some(on), true) => quote_spanned!(site(on.span())=>
            if (#on)(&#p::user_error::<#result>(::core::clone::Clone::clone(&rejection))) {
                #replace_rejection
            } else {
                #p::Outcome::Rejected(rejection)
            }
        ),
    };
    let settings = match &args.cache {
        Some(cache) => {
            let ttl = cache.ttl.tokens(krate);
            let capacity = cache.capacity as usize;
            quote!(::core::option::Option::Some((#ttl, #capacity)))
        }
        None => quote!(::core::option::Option::None),
    };
    let (setup, on_ok) = match &args.cache {
        Some(cache) => (
            cache_setup(cache, f),
            quote_spanned!(at=> {
                __fallback_cache.store(__fallback_key, &value);
                #p::Outcome::Ok(value)
            }),
        ),
        None => (
            TokenStream::new(),
            quote_spanned!(at=> #p::Outcome::Ok(value)),
        ),
    };
    // Listed at link time, so that the registry counts its uses (and knows
    // the fallbacks never used) without a lookup.
    // In a block of its own, so that its name cannot shadow a user's constant
    // in `value = ...`.
    quote_spanned!(at=> {
        let __fallback_site: &'static #p::FallbackSite = {
            #[#p::linkme::distributed_slice(#p::FALLBACKS)]
            #[linkme(crate = #p::linkme)]
            static SITE: #p::FallbackSite = #p::FallbackSite::new(
                #p::CallSite {
                    function: #function,
                    file: ::core::file!(),
                    line: ::core::line!(),
                    column: ::core::column!(),
                },
                #settings,
            );
            &SITE
        };
        #setup
        match #inner {
            #p::Outcome::Ok(value) => #on_ok,
            #p::Outcome::Err(error) => #on_error,
            #p::Outcome::Rejected(rejection) => #on_rejection,
        }
    })
}
