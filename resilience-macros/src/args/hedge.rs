use proc_macro2::{Span, TokenStream};
use quote::{quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Ident, Lit, LitStr};

use super::{duration, literal, name, whole_number, Arg, CratePath, Value};
use crate::errors::Errors;

pub(crate) struct HedgeArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) settings: Vec<(&'static str, Value)>,
}

const KNOWN: &[&str] = &["delay", "max_hedged_attempts", "delay_floor", "name"];

/// The runtime's bound on `max_hedged_attempts`.
const MAX_HEDGED_ATTEMPTS: u64 = 10;

impl HedgeArgs {
    pub(crate) fn parse(
        tokens: TokenStream,
        span: Span,
        krate: &mut CratePath,
        errors: &mut Errors,
    ) -> Self {
        let mut args = HedgeArgs {
            name: None,
            settings: Vec::new(),
        };
        // Whether `delay` was given, and whether it is a percentile.
        let mut delay: Option<bool> = None;
        let mut floor: Option<Ident> = None;
        let recognised = super::parse(
            tokens,
            "hedge",
            KNOWN,
            krate,
            errors,
            |arg, errors| match arg.key().as_str() {
                "delay" => {
                    let percentile = percentile(&arg);
                    delay = Some(!matches!(percentile, Ok(None)));
                    let value = match percentile {
                        Ok(Some(value)) => Ok(value),
                        Ok(None) => duration(&arg),
                        Err(error) => Err(error),
                    };
                    if let Some(value) = errors.take(value) {
                        args.settings.push(("delay", value));
                    }
                }
                "max_hedged_attempts" => {
                    if let Some(n) = errors.take(max_hedged_attempts(&arg)) {
                        let n = n as u32;
                        args.settings.push((
                            "max_hedged_attempts",
                            quote_spanned!(arg.value.span()=> #n).into(),
                        ));
                    }
                }
                "delay_floor" => {
                    floor = Some(arg.name.clone());
                    if let Some(value) = errors.take(duration(&arg)) {
                        args.settings.push(("delay_floor", value));
                    }
                }
                _ => args.name = errors.take(name(&arg)),
            },
        );
        match (delay, floor) {
            (None, _) if recognised => errors.at(
                span,
                "`#[hedge]` needs a `delay`, e.g. `#[hedge(delay = \"50ms\")]` or `#[hedge(delay = \"p95\")]`",
            ),
            (Some(false), Some(floor)) => errors.at(
                floor.span(),
                "`delay_floor` only applies to a percentile `delay` such as `delay = \"p95\"`; remove `delay_floor`, or make `delay` a percentile",
            ),
            _ => {}
        }
        args
    }
}

/// A delay written `"pNN"`: `Ok(None)` for any other delay.
fn percentile(arg: &Arg) -> syn::Result<Option<Value>> {
    let Some((false, Lit::Str(text))) = literal(&arg.value) else {
        return Ok(None);
    };
    let written = text.value();
    let Some(digits) = written.strip_prefix('p') else {
        return Ok(None);
    };
    let quoted = text.to_token_stream();
    match digits.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 100.0 && !digits.starts_with(['+', '-']) => {
            let span = text.span();
            Ok(Some(Value::InCrate(
                quote_spanned!(span=> hedge::HedgeDelay::Percentile(#p)),
            )))
        }
        Ok(_) => Err(syn::Error::new(
            text.span(),
            format!(
                "the percentile in `delay = {quoted}` must be above 0 and below 100; e.g. `delay = \"p95\"` or `delay = \"p99.9\"`"
            ),
        )),
        Err(_) => Err(syn::Error::new(
            text.span(),
            format!(
                "invalid `delay = {quoted}`: expected a duration such as `\"50ms\"` or a percentile of recent latencies such as `\"p95\"`"
            ),
        )),
    }
}

fn max_hedged_attempts(arg: &Arg) -> syn::Result<u64> {
    whole_number(arg, 1, MAX_HEDGED_ATTEMPTS).map_err(|error| {
        if error.to_string().contains("at least") {
            arg.error(format!(
                "`max_hedged_attempts` must be at least 1, got {}; it counts the copies added to the primary call, so `1` means at most two calls at once",
                arg.written()
            ))
        } else if error.to_string().contains("at most") {
            arg.error(format!(
                "`max_hedged_attempts` must be at most {MAX_HEDGED_ATTEMPTS}, got {}; each copy is a whole call's load on the dependency",
                arg.written()
            ))
        } else {
            error
        }
    })
}
