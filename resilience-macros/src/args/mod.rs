//! Parsing and checking attribute arguments, one file per attribute.

mod bulkhead;
mod circuit_breaker;
mod duration;
mod fallback;
mod rate_limiter;
mod retry;
mod time_limiter;

pub(crate) use bulkhead::BulkheadArgs;
pub(crate) use circuit_breaker::CircuitBreakerArgs;
pub(crate) use fallback::{FallbackArgs, Replacement};
pub(crate) use rate_limiter::RateLimiterArgs;
pub(crate) use retry::RetryArgs;
pub(crate) use time_limiter::TimeLimiterArgs;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Token, UnOp};

use crate::errors::Errors;

/// `name = value`.
pub(crate) struct Arg {
    pub(crate) name: Ident,
    pub(crate) value: Expr,
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                name.span(),
                format!("expected `{name} = value`"),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Arg { name, value })
    }
}

impl Arg {
    pub(crate) fn key(&self) -> String {
        self.name.to_string()
    }
}

/// The arguments of `#[attribute(...)]`, each known and given once; the
/// others are reported.
pub(crate) fn parse(
    tokens: TokenStream,
    attribute: &str,
    known: &[&str],
    errors: &mut Errors,
) -> Vec<Arg> {
    let Some(list) = errors.take(Punctuated::<Arg, Token![,]>::parse_terminated.parse2(tokens))
    else {
        return Vec::new();
    };
    let mut args: Vec<Arg> = Vec::new();
    for arg in list {
        let key = arg.key();
        if !known.contains(&key.as_str()) {
            let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            errors.at(
                arg.name.span(),
                format!(
                    "unknown argument `{key}` for `#[{attribute}]`; expected one of {}",
                    expected.join(", ")
                ),
            );
        } else if args.iter().any(|seen| seen.name == arg.name) {
            errors.at(
                arg.name.span(),
                format!("duplicate argument `{key}`; give it once"),
            );
        } else {
            args.push(arg);
        }
    }
    args
}

/// Whether the list parses as `name = value, ...`; when it does not, its
/// error is reported already and a missing argument is not worth another.
pub(crate) fn well_formed(tokens: &TokenStream) -> bool {
    Punctuated::<Arg, Token![,]>::parse_terminated
        .parse2(tokens.clone())
        .is_ok()
}

/// Strips a literal out of a (possibly negated) expression.
fn literal(value: &Expr) -> Option<(bool, &Lit)> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some((false, lit)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => Some((true, lit)),
            _ => None,
        },
        Expr::Group(group) => literal(&group.expr),
        _ => None,
    }
}

/// A whole number of at least `min`.
pub(crate) fn whole_number(arg: &Arg, min: u64, max: u64) -> syn::Result<u64> {
    let key = arg.key();
    let wrong = || {
        syn::Error::new(
            arg.value.span(),
            format!(
                "expected a whole number for `{key}`, e.g. `{key} = {}`",
                min.max(3)
            ),
        )
    };
    let Some((negative, Lit::Int(int))) = literal(&arg.value) else {
        return Err(wrong());
    };
    let value: u64 = int.base10_parse().map_err(|_| wrong())?;
    if negative || value < min {
        let shown = if negative {
            format!("-{value}")
        } else {
            value.to_string()
        };
        return Err(syn::Error::new(
            arg.value.span(),
            format!("`{key}` must be at least {min}, got {shown}"),
        ));
    }
    if value > max {
        return Err(syn::Error::new(
            arg.value.span(),
            format!("`{key}` must be at most {max}, got {value}"),
        ));
    }
    Ok(value)
}

/// A number literal (integer or float, maybe negative).
pub(crate) fn number(arg: &Arg, example: &str) -> syn::Result<f64> {
    let key = arg.key();
    let value = match literal(&arg.value) {
        Some((negative, Lit::Float(float))) => float.base10_parse::<f64>().map(|v| (negative, v)),
        Some((negative, Lit::Int(int))) => int.base10_parse::<f64>().map(|v| (negative, v)),
        _ => Err(syn::Error::new(Span::call_site(), "")),
    };
    match value {
        Ok((negative, v)) => Ok(if negative { -v } else { v }),
        Err(_) => Err(syn::Error::new(
            arg.value.span(),
            format!("expected a number for `{key}`, e.g. `{key} = {example}`"),
        )),
    }
}

/// A `Duration` expression: a literal string checked now, or any other
/// expression of type `std::time::Duration`.
pub(crate) fn duration(arg: &Arg) -> syn::Result<TokenStream> {
    let key = arg.key();
    match literal(&arg.value) {
        Some((false, Lit::Str(text))) => match duration::parse(&text.value()) {
            Ok(nanos) => Ok(quote_spanned!(text.span()=> ::core::time::Duration::from_nanos(#nanos))),
            Err(reason) => Err(syn::Error::new(
                text.span(),
                format!(
                    "invalid duration `{}` for `{key}`: {reason}; write a number and a unit (`ns`, `us`, `ms`, `s`, `m`, `h`), e.g. `\"200ms\"` or `\"1.5s\"`",
                    text.to_token_stream()
                ),
            )),
        },
        Some(_) => Err(syn::Error::new(
            arg.value.span(),
            format!(
                "expected a duration for `{key}`: a string such as `\"200ms\"` or an expression of type `std::time::Duration`"
            ),
        )),
        None => {
            let value = &arg.value;
            Ok(quote_spanned!(value.span()=> { let duration: ::core::time::Duration = #value; duration }))
        }
    }
}

/// A string literal naming a shared instance.
pub(crate) fn name(arg: &Arg) -> syn::Result<LitStr> {
    match literal(&arg.value) {
        Some((false, Lit::Str(name))) if !name.value().trim().is_empty() => Ok(name.clone()),
        Some((false, Lit::Str(name))) => {
            Err(syn::Error::new(name.span(), "`name` must not be empty"))
        }
        _ => Err(syn::Error::new(
            arg.value.span(),
            "expected a string literal for `name`, e.g. `name = \"inventory\"`",
        )),
    }
}

/// A function or closure (anything but a literal).
pub(crate) fn callable(arg: &Arg, example: &str) -> syn::Result<Expr> {
    if literal(&arg.value).is_some() {
        let key = arg.key();
        return Err(syn::Error::new(
            arg.value.span(),
            format!("expected a function or closure for `{key}`, e.g. `{key} = {example}`"),
        ));
    }
    Ok(arg.value.clone())
}

/// `Config::default().setter(value)...` for the settings that were given.
pub(crate) fn config(ty: TokenStream, settings: &[(&str, TokenStream)]) -> TokenStream {
    let setters = settings.iter().map(|(setter, value)| {
        let setter = Ident::new(setter, Span::call_site());
        quote!(.#setter(#value))
    });
    quote!(#ty::default() #(#setters)*)
}
