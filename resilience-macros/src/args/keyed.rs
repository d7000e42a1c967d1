//! `key = expr` and `max_keys = n`, which the circuit breaker, the rate
//! limiter and the bulkhead share: one instance per key in a named family.

use proc_macro2::Span;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Expr, LitStr};

use super::{whole_number, Arg, Value};
use crate::errors::Errors;

/// The runtime's bound on `max_keys`.
const MAX_MAX_KEYS: u64 = 10_000_000;

/// What the keyed arguments of one attribute gave.
#[derive(Default)]
pub(crate) struct Keying {
    /// The expression that selects each call's member.
    pub(crate) key: Option<Expr>,
    /// Where `key` and `max_keys` were written, for the checks across arguments.
    key_at: Option<Span>,
    max_keys_at: Option<Span>,
}

impl Keying {
    /// Takes `arg` if it is `key` or `max_keys`: `Some` with `max_keys`'s
    /// setting (or `None` for `key`, or a reported error), `None` if it is
    /// another argument.
    pub(crate) fn take(
        &mut self,
        arg: &Arg,
        errors: &mut Errors,
    ) -> Option<Option<(&'static str, Value)>> {
        match arg.key().as_str() {
            "key" => {
                self.key_at = Some(arg.name.span());
                self.key = Some(arg.value.clone());
                Some(None)
            }
            "max_keys" => {
                self.max_keys_at = Some(arg.name.span());
                let span = arg.value.span();
                let setting = whole_number(arg, 1, MAX_MAX_KEYS).map(|n| {
                    let n = n as usize;
                    ("max_keys", Value::from(quote_spanned!(span=> #n)))
                });
                Some(errors.take(setting))
            }
            _ => None,
        }
    }

    /// A key selects a member of a named family, and only a family has a bound.
    pub(crate) fn check(&self, name: Option<&LitStr>, errors: &mut Errors) {
        if let (Some(at), None) = (self.key_at, name) {
            errors.at(
                at,
                "`key` selects this call's instance within a named family: add a `name`, e.g. `name = \"per-tenant\"`, which every key shares the settings of",
            );
        }
        if let (Some(at), None) = (self.max_keys_at, self.key_at) {
            errors.at(
                at,
                "`max_keys` bounds a keyed family: add `key = ...` to give each key its own instance, or remove `max_keys`",
            );
        }
    }
}
