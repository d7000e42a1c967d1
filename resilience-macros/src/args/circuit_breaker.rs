use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Expr, LitStr};

use super::keyed::Keying;
use super::{
    callable, choice, duration, literal, literal_nanos, name, nonzero_duration, number,
    whole_number, Arg, CratePath, Value, STORES,
};
use crate::errors::Errors;

pub(crate) struct CircuitBreakerArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) on: Option<Expr>,
    pub(crate) key: Option<Expr>,
    pub(crate) settings: Vec<(&'static str, Value)>,
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
    "key",
    "max_keys",
    "store",
    "sync_interval",
];

/// The largest counts the runtime's state word holds.
const MAX_FAILURE_THRESHOLD: u64 = (1 << 28) - 1;
const MAX_HALF_OPEN_CALLS: u64 = (1 << 14) - 1;
const DEFAULT_WINDOW_SIZE: u64 = 10;
const DEFAULT_RECOVERY_NANOS: u64 = 30_000_000_000;

/// What the checks across arguments need to know of each argument given;
/// a span is the argument's name, where an error across arguments points.
#[derive(Default)]
struct Given {
    window_size: Option<u64>,
    window_duration: Option<Span>,
    /// The later of `window_size` and `window_duration`, when both are given.
    second_window: Option<Span>,
    minimum_calls: Option<(Span, u64)>,
    slow_call_duration: bool,
    slow_call_rate_threshold: Option<Span>,
    /// Given, and then its length and how it is written when a literal.
    recovery_timeout: Option<Option<(u64, String)>>,
    max_recovery_timeout: Option<(Span, u64, String)>,
    failure_rate_threshold: bool,
    /// Where `store = "redis"` is written.
    redis: Option<Span>,
}

impl CircuitBreakerArgs {
    pub(crate) fn parse(tokens: TokenStream, krate: &mut CratePath, errors: &mut Errors) -> Self {
        let mut args = CircuitBreakerArgs {
            name: None,
            on: None,
            key: None,
            settings: Vec::new(),
        };
        let mut keying = Keying::default();
        let mut given = Given::default();
        super::parse(
            tokens,
            "circuit_breaker",
            KNOWN,
            krate,
            errors,
            |arg, errors| {
                if let Some(setting) = keying.take(&arg, errors) {
                    args.settings.extend(setting);
                    return;
                }
                let span = arg.value.span();
                let key = arg.key();
                let count = |max: u64| {
                    whole_number(&arg, 1, max).map(|n| {
                        let n = n as u32;
                        Value::from(quote_spanned!(span=> #n))
                    })
                };
                let setting = match key.as_str() {
                "failure_threshold" => count(MAX_FAILURE_THRESHOLD),
                "half_open_max_calls" => count(MAX_HALF_OPEN_CALLS),
                "window_size" => {
                    if let Ok(n) = whole_number(&arg, 1, u64::from(u32::MAX)) {
                        if given.window_duration.is_some() {
                            given.second_window = Some(arg.name.span());
                        }
                        given.window_size = Some(n);
                    }
                    count(u64::from(u32::MAX))
                }
                "minimum_calls" => {
                    if let Ok(n) = whole_number(&arg, 1, u64::from(u32::MAX)) {
                        given.minimum_calls = Some((arg.name.span(), n));
                    }
                    count(u64::from(u32::MAX))
                }
                "store" => {
                    if matches!(literal(&arg.value), Some((false, syn::Lit::Str(s))) if s.value() == "redis") {
                        given.redis = Some(span);
                    }
                    choice(&arg, STORES)
                }
                "sync_interval" => nonzero_duration(&arg),
                "failure_rate_threshold" => {
                    given.failure_rate_threshold = true;
                    fraction(&arg, "0.5", "half the calls in the window fail").map(Value::from)
                }
                "slow_call_rate_threshold" => {
                    given.slow_call_rate_threshold = Some(arg.name.span());
                    fraction(&arg, "0.8", "80% of the calls in the window are slow").map(Value::from)
                }
                "recovery_backoff" => number(&arg, "2.0").and_then(|factor| {
                    if factor >= 1.0 && factor.is_finite() {
                        Ok(Value::from(quote_spanned!(span=> #factor)))
                    } else {
                        Err(arg.error(format!(
                            "`recovery_backoff` must be a factor of at least 1.0, got {}; `2.0` doubles the open time each time the probes fail again",
                            arg.written()
                        )))
                    }
                }),
                "window_duration" | "half_open_max_wait" => {
                    let fix = if key == "window_duration" {
                        if given.window_size.is_some() {
                            given.second_window = Some(arg.name.span());
                        }
                        given.window_duration = Some(arg.name.span());
                        "give the stretch of time the window covers, e.g. `window_duration = \"60s\"`, or leave it out for a window of the last `window_size` calls"
                    } else {
                        "give the time the probes may take in all, e.g. `half_open_max_wait = \"10s\"`, or leave it out to wait for them however long they take"
                    };
                    match literal_nanos(&arg) {
                        Some(0) => Err(arg.error(format!(
                            "`{key}` must be longer than zero, got `{}`; {fix}",
                            arg.written()
                        ))),
                        _ => duration(&arg),
                    }
                }
                "recovery_timeout" | "max_recovery_timeout" | "slow_call_duration" => {
                    let nanos = literal_nanos(&arg);
                    match key.as_str() {
                        "recovery_timeout" => {
                            given.recovery_timeout = Some(nanos.map(|n| (n, arg.written())));
                        }
                        "max_recovery_timeout" => {
                            given.max_recovery_timeout =
                                nanos.map(|n| (arg.name.span(), n, arg.written()));
                        }
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
            },
        );
        given.check(errors);
        keying.check(args.name.as_ref(), errors);
        args.key = keying.key;
        args
    }
}

impl Given {
    /// The rules between arguments, where the values are known now.
    fn check(&self, errors: &mut Errors) {
        if let (Some(span), false) = (self.redis, self.failure_rate_threshold) {
            errors.at(
                span,
                "`store = \"redis\"` shares a failure rate across the fleet, and this breaker has none: add `failure_rate_threshold`, e.g. `failure_rate_threshold = 0.5`",
            );
        }
        if let Some(span) = self.second_window {
            errors.at(
                span,
                "give `window_size` or `window_duration`, not both: the window holds either the last `window_size` calls or the calls of the last `window_duration`; remove one of them",
            );
        }
        if let (Some((span, minimum)), None) = (self.minimum_calls, self.window_duration) {
            let size = match self.window_size {
                Some(size) => format!("{size}"),
                None => format!("{DEFAULT_WINDOW_SIZE} by default"),
            };
            let window_size = self.window_size.unwrap_or(DEFAULT_WINDOW_SIZE);
            if minimum > window_size {
                errors.at(
                    span,
                    format!("`minimum_calls` must be at most `window_size` ({size}), got {minimum}: the window never holds more calls; lower `minimum_calls` or raise `window_size`"),
                );
            }
        }
        if let (Some(span), false) = (self.slow_call_rate_threshold, self.slow_call_duration) {
            errors.at(
                span,
                "`slow_call_rate_threshold` needs `slow_call_duration`, the time after which a call counts as slow; add it, e.g. `slow_call_duration = \"2s\"`",
            );
        }
        // A `recovery_timeout` given as an expression is checked at run time.
        let recovery = match &self.recovery_timeout {
            None => Some((DEFAULT_RECOVERY_NANOS, "`\"30s\"` by default".to_owned())),
            Some(given) => given
                .as_ref()
                .map(|(nanos, written)| (*nanos, format!("`{written}`"))),
        };
        if let (Some((span, max, written)), Some((recovery, recovery_written))) =
            (&self.max_recovery_timeout, recovery)
        {
            if *max < recovery {
                errors.at(
                    *span,
                    format!("`max_recovery_timeout` must be at least `recovery_timeout` ({recovery_written}), got `{written}`: it caps the open time, which starts at `recovery_timeout`; raise it or lower `recovery_timeout`"),
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
