//! Turns a function and its stack of resilience attributes into one wrapper.
//!
//! The body becomes a closure (called once, or once per attempt under
//! `#[retry]`); each attribute, innermost first, wraps the expression that
//! produces the layer below's `Outcome`. Locals of the expansion use
//! mixed-site hygiene, so they can neither capture nor shadow the user's names.

mod body;
mod bulkhead;
mod circuit_breaker;
mod fallback;
mod handle;
mod hedge;
mod named;
mod rate_limiter;
mod retry;
mod time_limiter;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{GenericArgument, ItemFn, PathArguments, ReturnType, Type};

use crate::args::{
    BulkheadArgs, CircuitBreakerArgs, CratePath, FallbackArgs, HedgeArgs, RateLimiterArgs,
    RetryArgs, TimeLimiterArgs, Value,
};
use crate::errors::Errors;
use crate::stack::{take_resilience_attributes, Kind, RawLayer};

/// One parsed attribute.
pub(crate) enum Layer {
    Retry(RetryArgs),
    CircuitBreaker(CircuitBreakerArgs),
    RateLimiter(RateLimiterArgs),
    Bulkhead(BulkheadArgs),
    TimeLimiter(TimeLimiterArgs),
    Fallback(FallbackArgs),
    Hedge(HedgeArgs),
}

/// What every layer needs to know about the function.
pub(crate) struct Function<'a> {
    pub(crate) item: &'a ItemFn,
    pub(crate) is_async: bool,
    /// The return type as written (`Result<T, E>` or an alias of it).
    pub(crate) result: &'a Type,
    /// The rejection type carried between layers: `resilience_runtime::Error`
    /// when a policy in the stack can reject, else `Infallible`.
    pub(crate) can_reject: bool,
    /// The runtime crate's path: `::resilience_runtime` or `crate = path`.
    pub(crate) krate: TokenStream,
}

impl Function<'_> {
    pub(crate) fn name(&self) -> String {
        self.item.sig.ident.to_string()
    }

    /// The runtime's module for expansions.
    pub(crate) fn private(&self) -> TokenStream {
        let krate = &self.krate;
        quote!(#krate::__private)
    }
}

/// Hygienic local names, placed at `span` for diagnostics.
pub(crate) fn site(span: Span) -> Span {
    Span::mixed_site().located_at(span)
}

pub(crate) fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let message = format!("`#[{}]` goes on a function with a body", kind.attribute());
            let error = syn::Error::new(Span::call_site(), message).to_compile_error();
            return quote!(#item #error);
        }
    };
    let mut errors = Errors::default();
    let mut raw = vec![RawLayer {
        kind,
        span: Span::call_site(),
        args,
        path: None,
    }];
    raw.extend(take_resilience_attributes(&mut function.attrs, &mut errors));
    // The attributes taken off are never resolved by rustc; naming their paths
    // keeps the user's imports of them from being reported as unused.
    let uses = raw.iter().filter_map(|raw| raw.path.as_ref()).map(|path| {
        syn::parse_quote_spanned!(Span::mixed_site()=> #[allow(unused_imports)] use #path as _;)
    });
    function
        .block
        .stmts
        .splice(0..0, uses.collect::<Vec<syn::Stmt>>());
    let mut krate = CratePath::default();
    let layers: Vec<(Layer, Span)> = raw
        .into_iter()
        .map(|raw| {
            let layer = parse(raw.kind, raw.args, raw.span, &mut krate, &mut errors);
            (layer, raw.span)
        })
        .collect();
    let is_async = function.sig.asyncness.is_some();
    check_signature(&function, kind, &mut errors);
    let outer = named::Outer::new(&function.sig);
    for (layer, span) in &layers {
        for (_, value) in layer.declared_settings() {
            outer.check(value, &mut errors);
        }
        if matches!(layer, Layer::TimeLimiter(_)) && !is_async {
            errors.at(
                *span,
                "`#[time_limiter]` needs an `async fn`: a running sync body cannot be cancelled, only abandoned; make the function `async` or remove `#[time_limiter]`",
            );
        }
        if let (Layer::RateLimiter(args), false) = (layer, is_async) {
            if let Some(store) = args.redis {
                errors.at(
                    store,
                    "`store = \"redis\"` needs an `async fn`: each check is a round trip to Redis, which a sync function would have to block its thread on; make the function `async`, or keep the bucket in the process with `store = \"local\"`",
                );
            }
        }
        if matches!(layer, Layer::Hedge(_)) && !is_async {
            errors.at(
                *span,
                "`#[hedge]` needs an `async fn`: its copies run side by side on the caller's task and the slower ones are cancelled, and a blocking body can do neither; make the function `async` or remove `#[hedge]`",
            );
        }
    }
    let call_args = if layers
        .iter()
        .any(|(layer, _)| fallback::calls_method(layer))
    {
        fallback::call_args(&function.sig, &mut errors)
    } else {
        Vec::new()
    };
    if layers.iter().any(|(layer, _)| fallback::has_cache(layer)) {
        fallback::check_cache(&function.sig, &mut errors);
    }
    if let Err(error) = errors.finish() {
        let error = error.to_compile_error();
        return quote!(#function #error);
    }
    let ReturnType::Type(_, result) = &function.sig.output else {
        unreachable!("check_signature reported a function without a return type")
    };
    let f = Function {
        item: &function,
        is_async,
        result,
        can_reject: layers.iter().any(|(layer, _)| layer.rejects()),
        krate: krate.tokens(),
    };
    let block = expand(&f, &layers, &call_args);
    match syn::parse2(block) {
        Ok(block) => {
            function.block = Box::new(block);
            function.into_token_stream()
        }
        Err(error) => error.to_compile_error(),
    }
}

fn parse(
    kind: Kind,
    args: TokenStream,
    span: Span,
    krate: &mut CratePath,
    errors: &mut Errors,
) -> Layer {
    match kind {
        Kind::Retry => Layer::Retry(RetryArgs::parse(args, krate, errors)),
        Kind::CircuitBreaker => {
            Layer::CircuitBreaker(CircuitBreakerArgs::parse(args, krate, errors))
        }
        Kind::RateLimiter => Layer::RateLimiter(RateLimiterArgs::parse(args, krate, errors)),
        Kind::Bulkhead => Layer::Bulkhead(BulkheadArgs::parse(args, krate, errors)),
        Kind::TimeLimiter => Layer::TimeLimiter(TimeLimiterArgs::parse(args, span, krate, errors)),
        Kind::Fallback => Layer::Fallback(FallbackArgs::parse(args, span, krate, errors)),
        Kind::Hedge => Layer::Hedge(HedgeArgs::parse(args, span, krate, errors)),
    }
}

fn check_signature(function: &ItemFn, kind: Kind, errors: &mut Errors) {
    let sig = &function.sig;
    if let Some(constness) = &sig.constness {
        errors.at(
            constness.span(),
            format!(
                "`#[{}]` cannot wrap a `const fn`; remove `const`",
                kind.attribute()
            ),
        );
    }
    match &sig.output {
        ReturnType::Default => errors.at(
            sig.ident.span(),
            format!(
                "`#[{}]` needs a function that returns `Result<T, E>`; add a return type such as `-> Result<(), MyError>`",
                kind.attribute()
            ),
        ),
        ReturnType::Type(_, ty) => {
            if let Some(found) = plainly_not_a_result(ty) {
                errors.push(syn::Error::new_spanned(
                    ty,
                    format!(
                        "`#[{}]` needs a function that returns `Result<T, E>`, found `{found}`; return a `Result` whose error type says what failed",
                        kind.attribute()
                    ),
                ));
            } else if let Some(opaque) = impl_trait(ty) {
                errors.push(syn::Error::new_spanned(
                    opaque,
                    format!(
                        "`#[{}]` cannot wrap a function whose return type contains `impl Trait`; name a concrete type or use `Box<dyn Trait>`",
                        kind.attribute()
                    ),
                ));
            }
        }
    }
}

impl Layer {
    /// The inline settings of a named policy, which it declares at link time.
    fn declared_settings(&self) -> &[(&'static str, Value)] {
        let (name, settings) = match self {
            Layer::Retry(args) => (&args.name, &args.settings),
            Layer::CircuitBreaker(args) => (&args.name, &args.settings),
            Layer::RateLimiter(args) => (&args.name, &args.settings),
            Layer::Bulkhead(args) => (&args.name, &args.settings),
            Layer::TimeLimiter(args) => (&args.name, &args.settings),
            Layer::Hedge(args) => (&args.name, &args.settings),
            Layer::Fallback(_) => return &[],
        };
        if name.is_some() {
            settings
        } else {
            &[]
        }
    }

    fn rejects(&self) -> bool {
        !matches!(self, Layer::Retry(_) | Layer::Fallback(_) | Layer::Hedge(_))
    }

    fn wrap(
        &self,
        f: &Function,
        span: Span,
        inner: TokenStream,
        call_args: &[TokenStream],
    ) -> TokenStream {
        match self {
            Layer::Retry(args) => retry::wrap(args, f, span, inner),
            Layer::CircuitBreaker(args) => circuit_breaker::wrap(args, f, span, inner),
            Layer::RateLimiter(args) => rate_limiter::wrap(args, f, span, inner),
            Layer::Bulkhead(args) => bulkhead::wrap(args, f, span, inner),
            Layer::TimeLimiter(args) => time_limiter::wrap(args, f, span, inner),
            Layer::Fallback(args) => fallback::wrap(args, f, span, inner, call_args),
            Layer::Hedge(args) => hedge::wrap(args, f, span, inner),
        }
    }
}

fn expand(f: &Function, layers: &[(Layer, Span)], call_args: &[TokenStream]) -> TokenStream {
    let p = f.private();
    let krate = &f.krate;
    let result = f.result;
    let retried = layers
        .iter()
        .any(|(layer, _)| matches!(layer, Layer::Retry(_)));
    let hedged = layers
        .iter()
        .any(|(layer, _)| matches!(layer, Layer::Hedge(_)));
    let (define_body, call_body) = body::closure(f, retried, hedged);
    let rejection = if f.can_reject {
        quote!(#krate::Error)
    } else {
        quote!(::core::convert::Infallible)
    };
    let mut inner = quote_spanned!(site(result.span())=> #p::outcome::<_, #rejection>(#call_body));
    for (layer, span) in layers.iter().rev() {
        inner = layer.wrap(f, *span, inner, call_args);
    }
    // A missing `From<resilience_runtime::Error>` is reported at the error type.
    let finish = if f.can_reject {
        quote_spanned!(site(error_type(result).span())=> #p::finish::<#result>(outcome))
    } else {
        quote_spanned!(site(result.span())=> #p::finish_plain::<#result>(outcome))
    };
    quote_spanned!(Span::mixed_site()=> {
        #define_body
        let outcome = #inner;
        #finish
    })
}

/// The `E` of a return type written `Result<T, E>`, else the whole type.
fn error_type(result: &Type) -> &Type {
    if let Type::Path(path) = result {
        if let Some(PathArguments::AngleBracketed(args)) =
            path.path.segments.last().map(|s| &s.arguments)
        {
            if let Some(GenericArgument::Type(error)) = args.args.iter().nth(1) {
                return error;
            }
        }
    }
    result
}

/// The type as written when it cannot be a `Result` (an alias of one, which
/// only type checking can tell, passes).
fn plainly_not_a_result(ty: &Type) -> Option<String> {
    const NOT_RESULTS: &[&str] = &[
        "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32",
        "i64", "i128", "isize", "f32", "f64", "String", "Vec", "Option", "Box",
    ];
    let plain = match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|last| NOT_RESULTS.iter().any(|name| last.ident == name)),
        Type::Tuple(_) | Type::Reference(_) | Type::Slice(_) | Type::Array(_) | Type::Never(_) => {
            true
        }
        _ => false,
    };
    plain.then(|| {
        ty.to_token_stream()
            .to_string()
            .replace(" < ", "<")
            .replace(" >", ">")
    })
}

/// The first `impl Trait` inside a type.
fn impl_trait(ty: &Type) -> Option<&Type> {
    match ty {
        Type::ImplTrait(_) => Some(ty),
        Type::Path(path) => {
            path.path
                .segments
                .iter()
                .find_map(|segment| match &segment.arguments {
                    PathArguments::AngleBracketed(args) => {
                        args.args.iter().find_map(|arg| match arg {
                            GenericArgument::Type(ty) => impl_trait(ty),
                            _ => None,
                        })
                    }
                    _ => None,
                })
        }
        Type::Reference(reference) => impl_trait(&reference.elem),
        Type::Paren(paren) => impl_trait(&paren.elem),
        Type::Group(group) => impl_trait(&group.elem),
        Type::Slice(slice) => impl_trait(&slice.elem),
        Type::Array(array) => impl_trait(&array.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(impl_trait),
        _ => None,
    }
}
