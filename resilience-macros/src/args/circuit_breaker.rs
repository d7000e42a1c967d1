use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Expr, LitStr};

use super::{callable, duration, name, number, whole_number};
use crate::errors::Errors;

pub(crate) struct CircuitBreakerArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) on: Option<Expr>,
    pub(crate) settings: Vec<(&'static str, TokenStream)>,
}

const KNOWN: &[&str] = &[
    "name",
    "failure_threshold",
    "recovery_timeout",
    "failure_rate_threshold",
    "window_size",
    "half_open_max_calls",
    "on",
];

/// The largest counts the runtime's state word holds.
const MAX_FAILURE_THRESHOLD: u64 = (1 << 30) - 1;
const MAX_HALF_OPEN_CALLS: u64 = (1 << 15) - 1;

impl CircuitBreakerArgs {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = CircuitBreakerArgs {
            name: None,
            on: None,
            settings: Vec::new(),
        };
        super::parse(tokens, "circuit_breaker", KNOWN, errors, |arg, errors| {
            let span = arg.value.span();
            let key = arg.key();
            let setting = match key.as_str() {
                "failure_threshold" => whole_number(&arg, 1, MAX_FAILURE_THRESHOLD).map(|n| {
                    let n = n as u32;
                    ("failure_threshold", quote_spanned!(span=> #n))
                }),
                "window_size" => whole_number(&arg, 1, u64::from(u32::MAX)).map(|n| {
                    let n = n as u32;
                    ("window_size", quote_spanned!(span=> #n))
                }),
                "half_open_max_calls" => whole_number(&arg, 1, MAX_HALF_OPEN_CALLS).map(|n| {
                    let n = n as u32;
                    ("half_open_max_calls", quote_spanned!(span=> #n))
                }),
                "recovery_timeout" => duration(&arg).map(|d| ("recovery_timeout", d)),
                "failure_rate_threshold" => number(&arg, "0.5").and_then(|rate| {
                    if rate > 0.0 && rate <= 1.0 {
                        Ok(("failure_rate_threshold", quote_spanned!(span=> #rate)))
                    } else {
                        Err(arg.error(format!(
                            "`failure_rate_threshold` must be in (0, 1], got {}; `0.5` opens the circuit when half the calls in the window fail",
                            arg.written()
                        )))
                    }
                }),
                "on" => {
                    args.on = errors.take(callable(&arg, "MyError::is_outage"));
                    return;
                }
                _ => {
                    args.name = errors.take(name(&arg));
                    return;
                }
            };
            if let Some(setting) = errors.take(setting) {
                args.settings.push(setting);
            }
        });
        args
    }
}
