use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Expr, Lit, LitStr};

use super::{
    callable, duration, literal, literal_nanos, name, number, switch, whole_number, Arg, CratePath,
    Value,
};
use crate::errors::Errors;

pub(crate) struct RetryArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) on: Option<Expr>,
    /// `retry_after`: a `fn(&E) -> Option<Duration>`, per call site.
    pub(crate) retry_after: Option<Expr>,
    /// The retry budget `budget` names, which the call site declares.
    pub(crate) budget: Option<LitStr>,
    pub(crate) settings: Vec<(&'static str, Value)>,
}

const KNOWN: &[&str] = &[
    "max_attempts",
    "delay",
    "backoff",
    "max_delay",
    "jitter",
    "on",
    "retry_after",
    "max_duration",
    "adaptive",
    "budget",
    "name",
];
const JITTERS: &str = "`\"full\"`, `\"equal\"` or `\"decorrelated\"`";

impl RetryArgs {
    pub(crate) fn parse(tokens: TokenStream, krate: &mut CratePath, errors: &mut Errors) -> Self {
        let mut args = RetryArgs {
            name: None,
            on: None,
            retry_after: None,
            budget: None,
            settings: Vec::new(),
        };
        let mut adaptive = None;
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
                        args.settings.push(("backoff", value));
                    }
                }
                "jitter" => {
                    if let Some(value) = errors.take(jitter(&arg)) {
                        args.settings.push(("jitter", value));
                    }
                }
                "on" => args.on = errors.take(callable(&arg, "MyError::is_transient")),
                "retry_after" => {
                    args.retry_after = errors.take(callable(&arg, "MyError::retry_after"))
                }
                "max_duration" => {
                    if let Some(value) = errors.take(max_duration(&arg)) {
                        args.settings.push(("max_duration", value));
                    }
                }
                "adaptive" => {
                    if let Some(on) = errors.take(switch(&arg)) {
                        args.settings
                            .push(("adaptive", quote_spanned!(arg.value.span()=> #on).into()));
                        if on {
                            adaptive = Some(arg.name.span());
                        }
                    }
                }
                "budget" => {
                    if let Some(budget) = errors.take(budget(&arg)) {
                        args.settings
                            .push(("budget", quote_spanned!(budget.span()=> #budget).into()));
                        args.budget = Some(budget);
                    }
                }
                _ => args.name = errors.take(name(&arg)),
            },
        );
        if let (Some(at), None) = (adaptive, &args.name) {
            errors.at(
                at,
                "`adaptive` needs a named retry: it scales each wait by the success rate of the calls that share the retry; add `name = \"...\"`, or remove `adaptive`",
            );
        }
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

fn backoff(arg: &Arg) -> syn::Result<Value> {
    let span = arg.value.span();
    if let Some((false, Lit::Str(kind))) = literal(&arg.value) {
        return match kind.value().as_str() {
            "linear" => Ok(Value::InCrate(
                quote_spanned!(span=> retry::Backoff::Linear),
            )),
            other => Err(arg.error(format!(
                "unknown backoff `\"{other}\"`; expected a positive factor such as `2.0` (exponential) or `\"linear\"`"
            ))),
        };
    }
    let factor = number(arg, "2.0").map_err(|_| {
        arg.error(
            "expected a number for `backoff`, e.g. `backoff = 2.0`, or `backoff = \"linear\"`",
        )
    })?;
    if factor > 0.0 && factor.is_finite() {
        Ok(quote_spanned!(span=> #factor).into())
    } else {
        Err(arg.error(format!(
            "`backoff` must be a positive factor, got {}; `1.0` keeps the delay constant",
            arg.written()
        )))
    }
}

fn max_duration(arg: &Arg) -> syn::Result<Value> {
    let value = duration(arg)?;
    if literal_nanos(arg) == Some(0) {
        return Err(arg.error(
            "`max_duration` must be longer than zero: it is the time the whole call may take, retries included; e.g. `max_duration = \"30s\"`",
        ));
    }
    Ok(value)
}

fn budget(arg: &Arg) -> syn::Result<LitStr> {
    match literal(&arg.value) {
        Some((false, Lit::Str(name))) if !name.value().trim().is_empty() => Ok(name.clone()),
        Some((false, Lit::Str(name))) => Err(syn::Error::new(
            name.span(),
            "`budget` must not be empty; name the shared retry budget, e.g. `budget = \"api\"`, or remove `budget`",
        )),
        _ => Err(arg.error(
            "expected a string literal for `budget`: the name of a shared retry budget, e.g. `budget = \"api\"`",
        )),
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
