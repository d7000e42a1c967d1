use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::LitStr;

use super::keyed::Keying;
use super::{
    choice, duration, literal, name, nonzero_duration, number, switch, whole_number, CratePath,
    Value, STORES,
};
use crate::errors::Errors;

pub(crate) struct RateLimiterArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) key: Option<syn::Expr>,
    pub(crate) settings: Vec<(&'static str, Value)>,
    /// Where `store = "redis"` is written, if it is.
    pub(crate) redis: Option<proc_macro2::Span>,
}

const KNOWN: &[&str] = &[
    "name",
    "max_tokens",
    "refill_rate",
    "max_wait",
    "key",
    "max_keys",
    "store",
    "on_store_error",
    "store_timeout",
    "expected_replicas",
    "local_precheck",
];

const ON_STORE_ERROR: &[(&str, &str)] = &[
    ("local", "stores::OnStoreError::Local"),
    ("allow", "stores::OnStoreError::Allow"),
    ("deny", "stores::OnStoreError::Deny"),
];

impl RateLimiterArgs {
    pub(crate) fn parse(tokens: TokenStream, krate: &mut CratePath, errors: &mut Errors) -> Self {
        let mut args = RateLimiterArgs {
            name: None,
            key: None,
            settings: Vec::new(),
            redis: None,
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
                    "store" => choice(&arg, STORES).inspect(|_| {
                        if matches!(literal(&arg.value), Some((false, syn::Lit::Str(s))) if s.value() == "redis") {
                            args.redis = Some(span);
                        }
                    }).map(|store| ("store", store)),
                    "on_store_error" => choice(&arg, ON_STORE_ERROR).map(|policy| ("on_store_error", policy)),
                    "store_timeout" => nonzero_duration(&arg).map(|d| ("store_timeout", d)),
                    "expected_replicas" => whole_number(&arg, 1, u64::from(u32::MAX)).map(|n| {
                        let n = n as u32;
                        ("expected_replicas", Value::from(quote_spanned!(span=> #n)))
                    }),
                    "local_precheck" => switch(&arg).map(|on| ("local_precheck", Value::from(quote_spanned!(span=> #on)))),
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
