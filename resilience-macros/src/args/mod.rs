//! Parsing and checking attribute arguments, one file per attribute.

mod bulkhead;
mod circuit_breaker;
mod fallback;
mod hedge;
mod keyed;
mod rate_limiter;
mod retry;
mod time_limiter;

pub(crate) use bulkhead::BulkheadArgs;
pub(crate) use circuit_breaker::CircuitBreakerArgs;
pub(crate) use fallback::{Cache, FallbackArgs, Replacement};
pub(crate) use hedge::HedgeArgs;
pub(crate) use rate_limiter::RateLimiterArgs;
pub(crate) use retry::RetryArgs;
pub(crate) use time_limiter::TimeLimiterArgs;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use std::fmt::Display;

use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprPath, ExprUnary, Ident, Lit, LitStr, Token, UnOp};

use crate::errors::Errors;

/// `name = value`.
pub(crate) struct Arg {
    pub(crate) name: Ident,
    pub(crate) value: Expr,
}

impl Arg {
    pub(crate) fn key(&self) -> String {
        self.name.to_string()
    }

    /// The value as written, for a message: `-0.5`, `5_000`.
    pub(crate) fn written(&self) -> String {
        match literal(&self.value) {
            Some((negative, lit)) => {
                format!(
                    "{}{}",
                    if negative { "-" } else { "" },
                    lit.to_token_stream()
                )
            }
            None => self.value.to_token_stream().to_string(),
        }
    }

    /// An error spanning the whole value (`-1` as well as `1`).
    pub(crate) fn error(&self, message: impl Display) -> syn::Error {
        syn::Error::new_spanned(&self.value, message)
    }
}

/// An example value for each argument, shown when one is missing.
fn example(key: &str) -> &'static str {
    match key {
        "max_attempts" => "3",
        "delay" => "\"200ms\"",
        "backoff" => "2.0",
        "max_delay" => "\"10s\"",
        "jitter" => "0.2",
        "on" => "MyError::is_transient",
        "retry_after" => "MyError::retry_after",
        "max_duration" => "\"30s\"",
        "adaptive" => "true",
        "budget" => "\"api\"",
        "failure_threshold" => "5",
        "recovery_timeout" => "\"30s\"",
        "failure_rate_threshold" => "0.5",
        "window_size" => "20",
        "half_open_max_calls" => "1",
        "window_duration" => "\"60s\"",
        "minimum_calls" => "5",
        "slow_call_duration" => "\"2s\"",
        "slow_call_rate_threshold" => "0.8",
        "recovery_backoff" => "2.0",
        "max_recovery_timeout" => "\"5m\"",
        "half_open_max_wait" => "\"10s\"",
        "max_tokens" => "100",
        "refill_rate" => "50.0",
        "max_wait" => "\"100ms\"",
        "max_concurrent" => "10",
        "key" => "tenant",
        "max_keys" => "10000",
        "store" => "\"redis\"",
        "on_store_error" => "\"local\"",
        "store_timeout" => "\"50ms\"",
        "expected_replicas" => "4",
        "local_precheck" => "true",
        "sync_interval" => "\"100ms\"",
        "timeout" => "\"3s\"",
        "max_hedged_attempts" => "1",
        "delay_floor" => "\"10ms\"",
        "method" => "cached_price",
        "value" => "Vec::new()",
        "cache" => "\"5m\"",
        "cache_capacity" => "1024",
        "crate" => "resilience",
        _ => "\"inventory\"",
    }
}

/// `name = value, ...`, keeping a bare `name` to report it with the others.
fn syntax(input: ParseStream, known: &str) -> syn::Result<Vec<(Ident, Option<Expr>)>> {
    let mut list = Vec::new();
    while !input.is_empty() {
        // `crate` is a keyword.
        if !input.peek(Ident::peek_any) {
            return Err(input.error(format!(
                "expected an argument `key = value`, where `key` is {known}"
            )));
        }
        let name = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        list.push((name, value));
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(list)
}

/// Parses the arguments of `#[attribute(...)]` and hands each known one,
/// given once and with a value, to `check`, in written order; `crate`, which
/// every attribute takes, goes to `krate` instead, and the others are
/// reported. Returns whether every argument was recognised: when one was not,
/// its error is reported already and a missing required argument is not
/// worth another.
pub(crate) fn parse(
    tokens: TokenStream,
    attribute: &str,
    known: &[&str],
    krate: &mut CratePath,
    errors: &mut Errors,
    mut check: impl FnMut(Arg, &mut Errors),
) -> bool {
    let known: &[&str] = &[known, &["crate"]].concat();
    let listed = one_of(known);
    let Some(list) = errors.take((|input: ParseStream| syntax(input, &listed)).parse2(tokens))
    else {
        return false;
    };
    let mut recognised = true;
    let mut seen: Vec<Ident> = Vec::new();
    for (name, value) in list {
        let key = name.to_string();
        if !known.contains(&key.as_str()) {
            recognised = false;
            let suggestion = match resilience_grammar::closest(&key, known) {
                Some(known) => format!("; did you mean `{known}`?"),
                None => String::new(),
            };
            errors.at(
                name.span(),
                format!(
                    "unknown argument `{key}` for `#[{attribute}]`; expected {listed}{suggestion}"
                ),
            );
        } else if seen.contains(&name) {
            errors.at(
                name.span(),
                format!("duplicate argument `{key}`; give it once"),
            );
        } else if let Some(value) = value {
            seen.push(name.clone());
            if key == "crate" {
                krate.set(&Arg { name, value }, errors);
            } else {
                check(Arg { name, value }, errors);
            }
        } else {
            recognised = false;
            seen.push(name.clone());
            errors.at(
                name.span(),
                format!("`{key}` needs a value, e.g. `{key} = {}`", example(&key)),
            );
        }
    }
    recognised
}

/// "one of `a`, `b` or `c`".
fn one_of(known: &[&str]) -> String {
    let quoted: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("one of {} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "no arguments".into(),
    }
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
        arg.error(format!(
            "expected a whole number for `{key}`, e.g. `{key} = {}`",
            example(&key)
        ))
    };
    let Some((negative, Lit::Int(int))) = literal(&arg.value) else {
        return Err(wrong());
    };
    let value: u64 = int.base10_parse().map_err(|_| wrong())?;
    if negative || value < min {
        return Err(arg.error(format!(
            "`{key}` must be at least {min}, got {}",
            arg.written()
        )));
    }
    if value > max {
        return Err(arg.error(format!(
            "`{key}` must be at most {max}, got {}",
            arg.written()
        )));
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
        Err(_) => Err(arg.error(format!(
            "expected a number for `{key}`, e.g. `{key} = {example}`"
        ))),
    }
}

/// A `Duration` expression: a literal string checked now, or any other
/// expression of type `std::time::Duration`.
pub(crate) fn duration(arg: &Arg) -> syn::Result<Value> {
    let key = arg.key();
    match literal(&arg.value) {
        Some((false, Lit::Str(text))) => match resilience_grammar::duration::parse_nanos(&text.value()) {
            Ok(nanos) => Ok(quote_spanned!(text.span()=> ::core::time::Duration::from_nanos(#nanos)).into()),
            Err(reason) => Err(syn::Error::new(
                text.span(),
                format!(
                    "invalid duration `{}` for `{key}`: {reason}; write a number and a unit (`ns`, `us`, `ms`, `s`, `m`, `h`), e.g. `\"200ms\"` or `\"1.5s\"`",
                    text.to_token_stream()
                ),
            )),
        },
        Some((false, Lit::Int(int))) => Err(unitless(arg, int.base10_digits())),
        Some((false, Lit::Float(float))) => Err(unitless(arg, float.base10_digits())),
        Some(_) => Err(arg.error(format!(
            "expected a duration for `{key}`: a string such as `\"200ms\"` or an expression of type `std::time::Duration`"
        ))),
        None => Ok(Value::Duration(arg.value.clone())),
    }
}

/// As [`duration`], refusing a literal zero.
pub(crate) fn nonzero_duration(arg: &Arg) -> syn::Result<Value> {
    match literal_nanos(arg) {
        Some(0) => Err(arg.error(format!(
            "`{key}` must be longer than zero, got `{}`; e.g. `{key} = {}`",
            arg.written(),
            example(&arg.key()),
            key = arg.key(),
        ))),
        _ => duration(arg),
    }
}

/// The length of a duration given as a string literal, in nanoseconds; `None`
/// for an expression (or an invalid string, reported by [`duration`]).
pub(crate) fn literal_nanos(arg: &Arg) -> Option<u64> {
    match literal(&arg.value) {
        Some((false, Lit::Str(text))) => {
            resilience_grammar::duration::parse_nanos(&text.value()).ok()
        }
        _ => None,
    }
}

/// A number given as a duration: ask for the unit.
fn unitless(arg: &Arg, digits: &str) -> syn::Error {
    let key = arg.key();
    arg.error(format!(
        "expected a duration for `{key}`, found a number; write it as a string with a unit, e.g. `{key} = \"{digits}ms\"` or `{key} = \"{digits}s\"`"
    ))
}

/// A string literal naming a shared instance.
/// A `true` or `false` literal.
pub(crate) fn switch(arg: &Arg) -> syn::Result<bool> {
    match literal(&arg.value) {
        Some((false, Lit::Bool(on))) => Ok(on.value),
        _ => Err(arg.error(format!(
            "expected `true` or `false` for `{}`, e.g. `{} = true`",
            arg.key(),
            arg.key()
        ))),
    }
}

/// One of the string literals `choices`, as the path (inside the runtime
/// crate) of the enum variant paired with it.
pub(crate) fn choice(arg: &Arg, choices: &[(&str, &str)]) -> syn::Result<Value> {
    let listed = || {
        choices
            .iter()
            .map(|(text, _)| format!("`\"{text}\"`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((false, Lit::Str(text))) = literal(&arg.value) else {
        return Err(arg.error(format!(
            "expected one of {} for `{}`, e.g. `{} = \"{}\"`",
            listed(),
            arg.key(),
            arg.key(),
            choices[choices.len() - 1].0
        )));
    };
    match choices.iter().find(|(choice, _)| *choice == text.value()) {
        Some((_, path)) => {
            let path: syn::Path = syn::parse_str(path).expect("a path");
            let span = text.span();
            Ok(Value::InCrate(quote_spanned!(span=> #path)))
        }
        None => Err(arg.error(format!(
            "unknown `{}` `{:?}`; expected one of {}",
            arg.key(),
            text.value(),
            listed()
        ))),
    }
}

/// The values of `store`.
pub(crate) const STORES: &[(&str, &str)] = &[
    ("local", "stores::Store::Local"),
    ("redis", "stores::Store::Redis"),
];

pub(crate) fn name(arg: &Arg) -> syn::Result<LitStr> {
    match literal(&arg.value) {
        Some((false, Lit::Str(name))) if !name.value().trim().is_empty() => Ok(name.clone()),
        Some((false, Lit::Str(name))) => {
            Err(syn::Error::new(
                name.span(),
                "`name` must not be empty; name the shared instance, e.g. `name = \"inventory\"`, or remove `name` to give this function its own",
            ))
        }
        _ => Err(arg.error("expected a string literal for `name`, e.g. `name = \"inventory\"`",
        )),
    }
}

/// A function or closure (anything but a literal).
pub(crate) fn callable(arg: &Arg, example: &str) -> syn::Result<Expr> {
    if literal(&arg.value).is_some() {
        let key = arg.key();
        return Err(arg.error(format!(
            "expected a function or closure for `{key}`, e.g. `{key} = {example}`"
        )));
    }
    Ok(arg.value.clone())
}

/// A setting's value as the expansion writes it.
pub(crate) enum Value {
    /// An expression, complete as it is.
    Expr(TokenStream),
    /// An expression as the user wrote it, of type `std::time::Duration`;
    /// kept apart from its type check so that its tokens are the user's alone.
    Duration(Expr),
    /// A path inside the runtime crate, written after the crate's path: that
    /// is known only once every attribute of the stack is parsed.
    InCrate(TokenStream),
}

impl Value {
    /// The value as an expression, given the runtime crate's path.
    pub(crate) fn tokens(&self, krate: &TokenStream) -> TokenStream {
        match self {
            Value::Expr(expr) => expr.clone(),
            Value::Duration(value) => {
                quote_spanned!(value.span()=> { let duration: ::core::time::Duration = #value; duration })
            }
            Value::InCrate(path) => quote!(#krate::#path),
        }
    }

    /// The expression as the user wrote it, for a setting that takes any
    /// expression; the other values are built from literals.
    pub(crate) fn written(&self) -> Option<&Expr> {
        match self {
            Value::Duration(value) => Some(value),
            Value::Expr(_) | Value::InCrate(_) => None,
        }
    }
}

impl From<TokenStream> for Value {
    fn from(expr: TokenStream) -> Self {
        Value::Expr(expr)
    }
}

/// `Config::default().setter(value)...` for the settings that were given;
/// each setter is named as its argument.
pub(crate) fn config(
    krate: &TokenStream,
    ty: TokenStream,
    settings: &[(&str, Value)],
) -> TokenStream {
    let setters = settings.iter().map(|(setter, value)| {
        let setter = Ident::new(setter, Span::call_site());
        let value = value.tokens(krate);
        quote!(.#setter(#value))
    });
    quote!(#ty::default() #(#setters)*)
}

/// The path of the runtime crate for a whole stack: `crate = path` on any of
/// its attributes, else `::resilience_runtime`.
#[derive(Default)]
pub(crate) struct CratePath(Option<(String, TokenStream)>);

impl CratePath {
    /// Takes the path of one `crate = path`, or reports it.
    fn set(&mut self, arg: &Arg, errors: &mut Errors) {
        let Some(path) = errors.take(crate_path(&arg.value, arg)) else {
            return;
        };
        let written = path.to_token_stream().to_string().replace(' ', "");
        match &self.0 {
            Some((first, _)) if *first != written => errors.push(arg.error(format!(
                "conflicting paths for `crate`: `{written}` here, `{first}` on another attribute of this function; give the same path, or give it once"
            ))),
            Some(_) => {}
            None => {
                // Resolved where the user wrote it, reported where the default would be.
                let tokens = path
                    .to_token_stream()
                    .into_iter()
                    .map(|mut token| {
                        token.set_span(token.span().located_at(Span::call_site()));
                        token
                    })
                    .collect();
                self.0 = Some((written, tokens));
            }
        }
    }

    /// The path to write in the expansion.
    pub(crate) fn tokens(&self) -> TokenStream {
        match &self.0 {
            Some((_, tokens)) => tokens.clone(),
            None => quote!(::resilience_runtime),
        }
    }
}

/// A plain path (no generic arguments) for `crate`.
fn crate_path(value: &Expr, arg: &Arg) -> syn::Result<syn::Path> {
    match value {
        Expr::Path(ExprPath {
            attrs,
            qself: None,
            path,
        }) if attrs.is_empty() && path.segments.iter().all(|s| s.arguments.is_none()) => {
            Ok(path.clone())
        }
        Expr::Group(group) => crate_path(&group.expr, arg),
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) if text.parse::<syn::Path>().is_ok() => Err(arg.error(format!(
            "expected a path for `crate`, found a string; write it without quotes: `crate = {}`",
            text.value().trim()
        ))),
        _ => Err(arg.error(
            "expected a path for `crate`: the name under which `resilience-runtime` is a dependency, e.g. `crate = resilience`",
        )),
    }
}
