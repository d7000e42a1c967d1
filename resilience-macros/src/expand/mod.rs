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
mod rate_limiter;
mod retry;
mod time_limiter;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType, Type};

use crate::args::{
    BulkheadArgs, CircuitBreakerArgs, FallbackArgs, RateLimiterArgs, RetryArgs, TimeLimiterArgs,
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
}

impl Function<'_> {
    pub(crate) fn name(&self) -> String {
        self.item.sig.ident.to_string()
    }

    pub(crate) fn dot_await(&self) -> TokenStream {
        if self.is_async {
            quote!(.await)
        } else {
            TokenStream::new()
        }
    }
}

/// Hygienic local names, placed at `span` for diagnostics.
pub(crate) fn site(span: Span) -> Span {
    Span::mixed_site().located_at(span)
}

pub(crate) fn private() -> TokenStream {
    quote!(::resilience_runtime::__private)
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
    }];
    raw.extend(take_resilience_attributes(&mut function.attrs, &mut errors));
    let layers: Vec<(Layer, Span)> = raw
        .into_iter()
        .map(|raw| (parse(raw.kind, raw.args, raw.span, &mut errors), raw.span))
        .collect();
    let is_async = function.sig.asyncness.is_some();
    check_signature(&function, kind, &mut errors);
    for (layer, span) in &layers {
        if matches!(layer, Layer::TimeLimiter(_)) && !is_async {
            errors.at(
                *span,
                "`#[time_limiter]` needs an `async fn`: a running sync body cannot be cancelled, only abandoned; make the function `async` or remove `#[time_limiter]`",
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
    if let Err(error) = errors.finish() {
        let error = error.to_compile_error();
        return quote!(#function #error);
    }
    let ReturnType::Type(_, result) = &function.sig.output else {
        unreachable!("check_signature reported a function without a return type")
    };
    let rejecting = layers
        .iter()
        .find(|(layer, _)| layer.rejects())
        .map(|(_, span)| *span);
    let f = Function {
        item: &function,
        is_async,
        result,
        can_reject: rejecting.is_some(),
    };
    let block = expand(&f, &layers, &call_args, rejecting);
    match syn::parse2(block) {
        Ok(block) => {
            function.block = Box::new(block);
            function.into_token_stream()
        }
        Err(error) => error.to_compile_error(),
    }
}

fn parse(kind: Kind, args: TokenStream, span: Span, errors: &mut Errors) -> Layer {
    match kind {
        Kind::Retry => Layer::Retry(RetryArgs::parse(args, errors)),
        Kind::CircuitBreaker => Layer::CircuitBreaker(CircuitBreakerArgs::parse(args, errors)),
        Kind::RateLimiter => Layer::RateLimiter(RateLimiterArgs::parse(args, errors)),
        Kind::Bulkhead => Layer::Bulkhead(BulkheadArgs::parse(args, errors)),
        Kind::TimeLimiter => Layer::TimeLimiter(TimeLimiterArgs::parse(args, span, errors)),
        Kind::Fallback => Layer::Fallback(FallbackArgs::parse(args, span, errors)),
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
        ReturnType::Type(_, ty) if mentions_impl(ty.to_token_stream()) => errors.at(
            ty.span(),
            "resilience attributes cannot name a return type that contains `impl Trait`; use a concrete type or a `Box<dyn Trait>`",
        ),
        ReturnType::Type(..) => {}
    }
}

fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "impl",
        proc_macro2::TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

impl Layer {
    fn rejects(&self) -> bool {
        !matches!(self, Layer::Retry(_) | Layer::Fallback(_))
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
        }
    }
}

fn expand(
    f: &Function,
    layers: &[(Layer, Span)],
    call_args: &[TokenStream],
    rejecting: Option<Span>,
) -> TokenStream {
    let p = private();
    let retried = layers
        .iter()
        .any(|(layer, _)| matches!(layer, Layer::Retry(_)));
    let (define_body, call_body) = body::closure(f, retried);
    let rejection = if f.can_reject {
        quote!(::resilience_runtime::Error)
    } else {
        quote!(::core::convert::Infallible)
    };
    let mut inner =
        quote_spanned!(Span::mixed_site()=> #p::outcome::<_, _, #rejection>(#call_body));
    for (layer, span) in layers.iter().rev() {
        inner = layer.wrap(f, *span, inner, call_args);
    }
    let finish = match rejecting {
        Some(span) => quote_spanned!(site(span)=> #p::finish(outcome)),
        None => quote_spanned!(Span::mixed_site()=> #p::finish_plain(outcome)),
    };
    quote_spanned!(Span::mixed_site()=> {
        #define_body
        let outcome = #inner;
        #finish
    })
}
