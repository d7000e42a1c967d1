use proc_macro2::{Span, TokenStream};
use syn::LitStr;

use super::{duration, name, CratePath, Value};
use crate::errors::Errors;

pub(crate) struct TimeLimiterArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) settings: Vec<(&'static str, Value)>,
}

const KNOWN: &[&str] = &["timeout", "name"];

impl TimeLimiterArgs {
    pub(crate) fn parse(
        tokens: TokenStream,
        span: Span,
        krate: &mut CratePath,
        errors: &mut Errors,
    ) -> Self {
        let mut args = TimeLimiterArgs {
            name: None,
            settings: Vec::new(),
        };
        let mut has_timeout = false;
        let recognised = super::parse(
            tokens,
            "time_limiter",
            KNOWN,
            krate,
            errors,
            |arg, errors| {
                if arg.name == "timeout" {
                    has_timeout = true;
                    if let Some(timeout) = errors.take(duration(&arg)) {
                        args.settings.push(("timeout", timeout));
                    }
                } else {
                    args.name = errors.take(name(&arg));
                }
            },
        );
        if !has_timeout && recognised {
            errors.at(
                span,
                "`#[time_limiter]` needs a `timeout`, e.g. `#[time_limiter(timeout = \"3s\")]`",
            );
        }
        args
    }
}
