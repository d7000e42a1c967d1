//! The resilience attributes of one function, in written order.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Attribute, Meta};

use crate::errors::Errors;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Retry,
    CircuitBreaker,
    RateLimiter,
    Bulkhead,
    TimeLimiter,
    Fallback,
    Hedge,
}

impl Kind {
    pub(crate) const ALL: [Kind; 7] = [
        Kind::Retry,
        Kind::CircuitBreaker,
        Kind::RateLimiter,
        Kind::Bulkhead,
        Kind::TimeLimiter,
        Kind::Fallback,
        Kind::Hedge,
    ];

    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Retry => "retry",
            Kind::CircuitBreaker => "circuit_breaker",
            Kind::RateLimiter => "rate_limiter",
            Kind::Bulkhead => "bulkhead",
            Kind::TimeLimiter => "time_limiter",
            Kind::Fallback => "fallback",
            Kind::Hedge => "hedge",
        }
    }

    /// Arguments to show in a diagnostic about the attribute's form.
    fn example(self) -> &'static str {
        match self {
            Kind::Retry => "max_attempts = 3",
            Kind::CircuitBreaker => "name = \"inventory\"",
            Kind::RateLimiter => "max_tokens = 100, refill_rate = 50.0",
            Kind::Bulkhead => "max_concurrent = 10",
            Kind::TimeLimiter => "timeout = \"3s\"",
            Kind::Fallback => "value = Vec::new()",
            Kind::Hedge => "delay = \"50ms\"",
        }
    }
}

/// One attribute before its arguments are parsed.
pub(crate) struct RawLayer {
    pub(crate) kind: Kind,
    /// The attribute's name, where diagnostics about the whole attribute point.
    pub(crate) span: Span,
    pub(crate) args: TokenStream,
    /// The attribute's path as written, for an attribute taken off the
    /// function; `None` for the one being expanded.
    pub(crate) path: Option<syn::Path>,
}

/// Takes the resilience attributes off `attrs` (recognised by their last path
/// segment), keeping the others in place.
pub(crate) fn take_resilience_attributes(
    attrs: &mut Vec<Attribute>,
    errors: &mut Errors,
) -> Vec<RawLayer> {
    let mut layers = Vec::new();
    attrs.retain(|attr| {
        let Some(last) = attr.path().segments.last() else {
            return true;
        };
        let Some(kind) = Kind::ALL
            .into_iter()
            .find(|kind| last.ident == kind.attribute())
        else {
            return true;
        };
        let args = match &attr.meta {
            Meta::Path(_) => TokenStream::new(),
            Meta::List(list) => list.tokens.clone(),
            Meta::NameValue(meta) => {
                let (eq, value) = (&meta.eq_token, &meta.value);
                errors.push(syn::Error::new_spanned(
                    quote!(#eq #value),
                    format!(
                        "expected `#[{0}(...)]`, found `#[{0} = ...]`; put the arguments in parentheses, e.g. `#[{0}({1})]`",
                        kind.attribute(),
                        kind.example(),
                    ),
                ));
                TokenStream::new()
            }
        };
        layers.push(RawLayer {
            kind,
            span: last.ident.span(),
            args,
            path: Some(attr.path().clone()),
        });
        false
    });
    layers
}
