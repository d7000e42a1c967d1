use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::LitStr;

use super::keyed::Keying;
use super::{duration, name, number, whole_number, CratePath, Value};
use crate::errors::Errors;

pub(crate) struct RateLimiterArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) key: Option<syn::Expr>,
    pub(crate) settings: Vec<(&'static str, Value)>,
}

const KNOWN: &[&str] = &[
    "name",
    "max_tokens",
    "refill_rate",
    "max_wait",
    "key",
    "max_keys",
];

impl RateLimiterArgs {
    pub(crate) fn parse(tokens: TokenStream, krate: &mut CratePath, errors: &mut Errors) -> Self {
        let mut args = RateLimiterArgs {
            name: None,
            key: None,
            settings: Vec::new(),
        };
        let mut keying = Keying::default();
        super::parse(
            tokens,
            "rate_limiter",
            KNOWN,
            krate,
            errors,
            |arg, errors| {
                if let Some(setting) = keying.take(&arg, errors) {
                    args.settings.extend(setting);
                    return;
                }
                let span = arg.value.span();
                let setting = match arg.key().as_str() {
                    "max_tokens" => whole_number(&arg, 1, u64::from(u32::MAX)).map(|n| {
                        let n = n as u32;
                        ("max_tokens", Value::from(quote_spanned!(span=> #n)))
                    }),
                    "refill_rate" => number(&arg, "50.0").and_then(|rate| {
                        if rate >= 0.0 && rate.is_finite() {
                            Ok(("refill_rate", Value::from(quote_spanned!(span=> #rate))))
                        } else {
                            Err(arg.error(format!(
                            "`refill_rate` must be a number of tokens per second, at least 0.0, got {}; `0.0` makes a fixed quota of `max_tokens` calls",
                            arg.written()
                        )))
                        }
                    }),
                    "max_wait" => duration(&arg).map(|d| ("max_wait", d)),
                    _ => {
                        args.name = errors.take(name(&arg));
                        return;
                    }
                };
                if let Some((key, value)) = errors.take(setting) {
                    args.settings.push((key, value));
                }
            },
        );
        keying.check(args.name.as_ref(), errors);
        args.key = keying.key;
        args
    }
}
