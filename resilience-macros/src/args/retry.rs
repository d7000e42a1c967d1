use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Expr, Lit, LitStr};

use super::{callable, duration, literal, name, number, whole_number, Arg, CratePath, Value};
use crate::errors::Errors;

pub(crate) struct RetryArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) on: Option<Expr>,
    pub(crate) settings: Vec<(&'static str, Value)>,
}

const KNOWN: &[&str] = &[
    "max_attempts",
    "delay",
    "backoff",
    "max_delay",
    "jitter",
    "on",
    "name",
];
const JITTERS: &str = "`\"full\"`, `\"equal\"` or `\"decorrelated\"`";

impl RetryArgs {
    pub(crate) fn parse(tokens: TokenStream, krate: &mut CratePath, errors: &mut Errors) -> Self {
        let mut args = RetryArgs {
            name: None,
            on: None,
            settings: Vec::new(),
        };
        super::parse(
            tokens,
            "retry",
            KNOWN,
            krate,
            errors,
            |arg, errors| match arg.key().as_str() {
                "max_attempts" => {
                    if let Some(n) = errors.take(max_attempts(&arg)) {
                        let n = n as u32;
                        args.settings
                            .push(("max_attempts", quote_spanned!(arg.value.span()=> #n).into()));
                    }
                }
                "delay" | "max_delay" => {
                    if let Some(value) = errors.take(duration(&arg)) {
                        args.settings.push((
                            if arg.name == "delay" {
                                "delay"
                            } else {
                                "max_delay"
                            },
                            value,
                        ));
                    }
                }
                "backoff" => {
                    if let Some(value) = errors.take(backoff(&arg)) {
                        args.settings
                            .push(("backoff", quote_spanned!(arg.value.span()=> #value).into()));
                    }
                }
                "jitter" => {
                    if let Some(value) = errors.take(jitter(&arg)) {
                        args.settings.push(("jitter", value));
                    }
                }
                "on" => args.on = errors.take(callable(&arg, "MyError::is_transient")),
                _ => args.name = errors.take(name(&arg)),
            },
        );
        args
    }
}

fn max_attempts(arg: &Arg) -> syn::Result<u64> {
    whole_number(arg, 1, u64::from(u32::MAX)).map_err(|error| {
        if error.to_string().contains("at least") {
            arg.error(format!(
                "`max_attempts` must be at least 1, got {}; it counts the first call, so `max_attempts = 1` means a single call and no retry",
                arg.written()
            ))
        } else {
            error
        }
    })
}

fn backoff(arg: &Arg) -> syn::Result<f64> {
    let factor = number(arg, "2.0")?;
    if factor > 0.0 && factor.is_finite() {
        Ok(factor)
    } else {
        Err(arg.error(format!(
            "`backoff` must be a positive factor, got {}; `1.0` keeps the delay constant",
            arg.written()
        )))
    }
}

fn jitter(arg: &Arg) -> syn::Result<Value> {
    let span = arg.value.span();
    if let Some((false, Lit::Str(kind))) = literal(&arg.value) {
        let variant = match kind.value().as_str() {
            "full" => quote_spanned!(span=> Full),
            "equal" => quote_spanned!(span=> Equal),
            "decorrelated" => quote_spanned!(span=> Decorrelated),
            other => {
                return Err(arg.error(format!(
                "unknown jitter `\"{other}\"`; expected a fraction in [0, 1] or one of {JITTERS}"
            )))
            }
        };
        return Ok(Value::InCrate(
            quote_spanned!(span=> retry::Jitter::#variant),
        ));
    }
    let fraction = number(arg, "0.2").map_err(|_| {
        arg.error(format!(
            "expected a fraction in [0, 1] for `jitter`, e.g. `jitter = 0.2`, or one of {JITTERS}"
        ))
    })?;
    if !(0.0..=1.0).contains(&fraction) {
        return Err(arg.error(format!(
            "`jitter` must be in [0, 1], got {}; `0.2` moves each wait by up to 20% either way",
            arg.written()
        )));
    }
    Ok(Value::InCrate(
        quote_spanned!(span=> retry::Jitter::Fraction(#fraction)),
    ))
}
