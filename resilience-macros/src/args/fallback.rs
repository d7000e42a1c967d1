use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Expr, Path};

use super::{callable, well_formed};
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
    pub(crate) fn parse(tokens: TokenStream, span: Span, errors: &mut Errors) -> Self {
        let mut args = FallbackArgs {
            replacement: None,
            on: None,
        };
        for arg in super::parse(tokens.clone(), "fallback", KNOWN, errors) {
            let replacement = match arg.key().as_str() {
                "method" => match &arg.value {
                    Expr::Path(path) if path.qself.is_none() => {
                        Replacement::Method(path.path.clone())
                    }
                    other => {
                        errors.at(
                            other.span(),
                            "expected a path to a function for `method`, e.g. `method = cached_price` or `method = Self::cached_price`",
                        );
                        continue;
                    }
                },
                "value" => Replacement::Value(arg.value.clone()),
                _ => {
                    args.on = errors.take(callable(&arg, "MyError::is_outage"));
                    continue;
                }
            };
            if args.replacement.is_some() {
                errors.at(
                    arg.name.span(),
                    "`#[fallback]` takes `method` or `value`, not both; remove one",
                );
            } else {
                args.replacement = Some(replacement);
            }
        }
        if args.replacement.is_none() && well_formed(&tokens) {
            errors.at(
                span,
                "`#[fallback]` needs `method = path` or `value = expr`, e.g. `#[fallback(value = Vec::new())]`",
            );
        }
        args
    }
}
