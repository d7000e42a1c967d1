use proc_macro2::{Span, TokenStream};
use syn::{Expr, Path};

use super::{callable, CratePath};
use crate::errors::Errors;

pub(crate) enum Replacement {
    /// A function called with the same arguments, then the error.
    Method(Path),
    /// A value returned as `Ok(value)`.
    Value(Expr),
}

pub(crate) struct FallbackArgs {
    pub(crate) replacement: Option<Replacement>,
    pub(crate) on: Option<Expr>,
}

const KNOWN: &[&str] = &["method", "value", "on"];

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
        };
        // The first of `method` and `value`, valid or not.
        let mut given: Option<String> = None;
        let recognised = super::parse(tokens, "fallback", KNOWN, krate, errors, |arg, errors| {
            let key = arg.key();
            if key == "on" {
                args.on = errors.take(callable(&arg, "MyError::is_outage"));
                return;
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
        if given.is_none() && recognised {
            errors.at(
                span,
                "`#[fallback]` needs `method = path` or `value = expr`, e.g. `#[fallback(method = cached_price)]` or `#[fallback(value = Vec::new())]`",
            );
        }
        args
    }
}
