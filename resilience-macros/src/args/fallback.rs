use proc_macro2::{Span, TokenStream};
use syn::{Expr, Ident, Path};

use super::{callable, duration, literal_nanos, whole_number, CratePath, Value};
use crate::errors::Errors;

pub(crate) enum Replacement {
    /// A function called with the same arguments, then the error.
    Method(Path),
    /// A value returned as `Ok(value)`.
    Value(Expr),
}

/// `cache = "5m"` and `cache_capacity = N`.
pub(crate) struct Cache {
    /// How long an answer serves, as a `Duration` expression.
    pub(crate) ttl: Value,
    pub(crate) capacity: u64,
    /// The `cache` argument's name, where its errors are reported.
    pub(crate) span: Span,
}

pub(crate) struct FallbackArgs {
    pub(crate) replacement: Option<Replacement>,
    pub(crate) on: Option<Expr>,
    // Boxed: a `Layer` holds one attribute's arguments, and this one's would
    // make every layer as large as three expressions.
    pub(crate) cache: Option<Box<Cache>>,
}

const KNOWN: &[&str] = &["method", "value", "on", "cache", "cache_capacity"];

/// The entries a cache keeps when `cache_capacity` is not given.
const DEFAULT_CAPACITY: u64 = 1024;

impl FallbackArgs {
    pub(crate) fn parse(
        tokens: TokenStream,
        span: Span,
        krate: &mut CratePath,
        errors: &mut Errors,
    ) -> Self {
        let mut args = FallbackArgs {
            replacement: None,
            on: None,
            cache: None,
        };
        // The first of `method` and `value`, valid or not.
        let mut given: Option<String> = None;
        let mut cache_given = false;
        let mut capacity: Option<(Ident, u64)> = None;
        let recognised = super::parse(tokens, "fallback", KNOWN, krate, errors, |arg, errors| {
            let key = arg.key();
            match key.as_str() {
                "on" => {
                    args.on = errors.take(callable(&arg, "MyError::is_outage"));
                    return;
                }
                "cache" => {
                    cache_given = true;
                    if literal_nanos(&arg) == Some(0) {
                        errors.push(arg.error(
                            "`cache` must be longer than zero: it is how long a good answer may be served after the success that gave it, e.g. `cache = \"5m\"`",
                        ));
                        return;
                    }
                    args.cache = errors.take(duration(&arg)).map(|ttl| {
                        Box::new(Cache {
                            ttl,
                            capacity: DEFAULT_CAPACITY,
                            span: arg.name.span(),
                        })
                    });
                    return;
                }
                "cache_capacity" => {
                    if let Some(value) = errors.take(whole_number(&arg, 1, u64::from(u32::MAX))) {
                        capacity = Some((arg.name.clone(), value));
                    }
                    return;
                }
                _ => {}
            }
            if let Some(first) = &given {
                errors.at(
                    arg.name.span(),
                    format!("`#[fallback]` takes `method` or `value`, not both; remove `{first}` or `{key}`"),
                );
                return;
            }
            given = Some(key);
            args.replacement = match &arg.value {
                Expr::Path(path) if arg.name == "method" && path.qself.is_none() => {
                    Some(Replacement::Method(path.path.clone()))
                }
                _ if arg.name == "method" => {
                    errors.push(arg.error(
                        "expected a path to a function for `method`, e.g. `method = cached_price` or `method = Self::cached_price`; for a value, write `value = ...`",
                    ));
                    None
                }
                value => Some(Replacement::Value(value.clone())),
            };
        });
        match (capacity, &mut args.cache) {
            (Some((_, value)), Some(cache)) => cache.capacity = value,
            (Some((name, _)), None) if !cache_given => errors.at(
                name.span(),
                "`cache_capacity` bounds the answers `cache` keeps; add `cache = \"5m\"`, or remove `cache_capacity`",
            ),
            _ => {}
        }
        if given.is_none() && !cache_given && recognised {
            errors.at(
                span,
                "`#[fallback]` needs `method = path`, `value = expr` or `cache = \"duration\"`, e.g. `#[fallback(method = cached_price)]`, `#[fallback(value = Vec::new())]` or `#[fallback(cache = \"5m\")]`",
            );
        }
        args
    }
}
