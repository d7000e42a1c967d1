use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::LitStr;

use super::keyed::Keying;
use super::{duration, name, whole_number, CratePath, Value};
use crate::errors::Errors;

pub(crate) struct BulkheadArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) key: Option<syn::Expr>,
    pub(crate) settings: Vec<(&'static str, Value)>,
}

const KNOWN: &[&str] = &["name", "max_concurrent", "max_wait", "key", "max_keys"];

impl BulkheadArgs {
    pub(crate) fn parse(tokens: TokenStream, krate: &mut CratePath, errors: &mut Errors) -> Self {
        let mut args = BulkheadArgs {
            name: None,
            key: None,
            settings: Vec::new(),
        };
        let mut keying = Keying::default();
        super::parse(tokens, "bulkhead", KNOWN, krate, errors, |arg, errors| {
            if let Some(setting) = keying.take(&arg, errors) {
                args.settings.extend(setting);
                return;
            }
            let span = arg.value.span();
            let setting = match arg.key().as_str() {
                "max_concurrent" => whole_number(&arg, 1, u64::from(u32::MAX)).map(|n| {
                    let n = n as usize;
                    ("max_concurrent", Value::from(quote_spanned!(span=> #n)))
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
        });
        keying.check(args.name.as_ref(), errors);
        args.key = keying.key;
        args
    }
}
