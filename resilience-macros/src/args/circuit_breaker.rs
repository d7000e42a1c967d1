use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Expr, LitStr};

use super::{callable, duration, literal_nanos, name, number, whole_number, Arg};
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
    "window_duration",
    "minimum_calls",
    "slow_call_duration",
    "slow_call_rate_threshold",
    "half_open_max_calls",
    "recovery_backoff",
    "max_recovery_timeout",
    "half_open_max_wait",
    "on",
];

/// The largest counts the runtime's state word holds.
const MAX_FAILURE_THRESHOLD: u64 = (1 << 28) - 1;
const MAX_HALF_OPEN_CALLS: u64 = (1 << 14) - 1;
const DEFAULT_WINDOW_SIZE: u64 = 10;
const DEFAULT_RECOVERY_NANOS: u64 = 30_000_000_000;

/// What the checks across arguments need to know of each argument given.
#[derive(Default)]
struct Given {
    window_size: Option<(Span, u64)>,
    window_duration: Option<Span>,
    minimum_calls: Option<(Span, u64)>,
    slow_call_duration: bool,
    slow_call_rate_threshold: Option<Span>,
    recovery_timeout: Option<u64>,
    max_recovery_timeout: Option<(Span, u64)>,
}

impl CircuitBreakerArgs {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = CircuitBreakerArgs {
            name: None,
            on: None,
            settings: Vec::new(),
        };
        let mut given = Given::default();
        super::parse(tokens, "circuit_breaker", KNOWN, errors, |arg, errors| {
            let span = arg.value.span();
            let key = arg.key();
            let count = |max: u64| {
                whole_number(&arg, 1, max).map(|n| {
                    let n = n as u32;
                    quote_spanned!(span=> #n)
                })
            };
            let setting = match key.as_str() {
                "failure_threshold" => count(MAX_FAILURE_THRESHOLD),
                "half_open_max_calls" => count(MAX_HALF_OPEN_CALLS),
                "window_size" => {
                    if let Ok(n) = whole_number(&arg, 1, u64::from(u32::MAX)) {
                        given.window_size = Some((arg.name.span(), n));
                    }
                    count(u64::from(u32::MAX))
                }
                "minimum_calls" => {
                    if let Ok(n) = whole_number(&arg, 1, u64::from(u32::MAX)) {
                        given.minimum_calls = Some((span, n));
                    }
                    count(u64::from(u32::MAX))
                }
                "failure_rate_threshold" => fraction(&arg, "0.5", "half the calls in the window fail"),
                "slow_call_rate_threshold" => {
                    given.slow_call_rate_threshold = Some(arg.name.span());
                    fraction(&arg, "0.8", "80% of the calls in the window are slow")
                }
                "recovery_backoff" => number(&arg, "2.0").and_then(|factor| {
                    if factor >= 1.0 && factor.is_finite() {
                        Ok(quote_spanned!(span=> #factor))
                    } else {
                        Err(arg.error(format!(
                            "`recovery_backoff` must be a factor of at least 1.0, got {}; `2.0` doubles the open time each time the probes fail again",
                            arg.written()
                        )))
                    }
                }),
                "window_duration" | "half_open_max_wait" => {
                    if key == "window_duration" {
                        given.window_duration = Some(arg.name.span());
                    }
                    match literal_nanos(&arg) {
                        Some(0) => Err(arg.error(format!("`{key}` must be longer than zero"))),
                        _ => duration(&arg),
                    }
                }
                "recovery_timeout" | "max_recovery_timeout" | "slow_call_duration" => {
                    let nanos = literal_nanos(&arg);
                    match key.as_str() {
                        "recovery_timeout" => given.recovery_timeout = nanos,
                        "max_recovery_timeout" => given.max_recovery_timeout = nanos.map(|n| (span, n)),
                        _ => given.slow_call_duration = true,
                    }
                    duration(&arg)
                }
                "on" => {
                    args.on = errors.take(callable(&arg, "MyError::is_outage"));
                    return;
                }
                _ => {
                    args.name = errors.take(name(&arg));
                    return;
                }
            };
            if let Some(value) = errors.take(setting) {
                let key = KNOWN
                    .iter()
                    .find(|known| **known == key)
                    .expect("a known argument");
                args.settings.push((key, value));
            }
        });
        given.check(errors);
        args
    }
}

impl Given {
    /// The rules between arguments, where the values are known now.
    fn check(&self, errors: &mut Errors) {
        if let (Some(_), Some(span)) = (self.window_size, self.window_duration) {
            errors.at(
                span,
                "give `window_size` or `window_duration`, not both: the window holds either the last N calls or the calls of the last stretch of time",
            );
        }
        if let (Some((span, minimum)), None) = (self.minimum_calls, self.window_duration) {
            let size = self
                .window_size
                .map_or(DEFAULT_WINDOW_SIZE, |(_, size)| size);
            if minimum > size {
                errors.at(
                    span,
                    format!("`minimum_calls` must be at most `window_size` ({size}), got {minimum}; the window never holds more"),
                );
            }
        }
        if let (Some(span), false) = (self.slow_call_rate_threshold, self.slow_call_duration) {
            errors.at(
                span,
                "`slow_call_rate_threshold` needs `slow_call_duration`, which says how long a slow call takes, e.g. `slow_call_duration = \"2s\"`",
            );
        }
        if let Some((span, max)) = self.max_recovery_timeout {
            let recovery = self.recovery_timeout.unwrap_or(DEFAULT_RECOVERY_NANOS);
            if max < recovery {
                errors.at(
                    span,
                    "`max_recovery_timeout` must be at least `recovery_timeout` (30s unless given), the open time it caps",
                );
            }
        }
    }
}

/// A rate in (0, 1].
fn fraction(arg: &Arg, example: &str, meaning: &str) -> syn::Result<TokenStream> {
    let span = arg.value.span();
    let key = arg.key();
    number(arg, example).and_then(|rate| {
        if rate > 0.0 && rate <= 1.0 {
            Ok(quote_spanned!(span=> #rate))
        } else {
            Err(arg.error(format!(
                "`{key}` must be in (0, 1], got {}; `{example}` opens the circuit when {meaning}",
                arg.written()
            )))
        }
    })
}
