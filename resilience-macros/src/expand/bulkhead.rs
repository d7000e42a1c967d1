use proc_macro2::{Span, TokenStream};
use quote::quote;

use super::handle::{admitted, keyed_instance};
use super::Function;
use crate::args::BulkheadArgs;

/// Holds a slot (waiting up to `max_wait`) while the layers below run; the
/// slot is returned when the permit drops, also on panic or cancellation.
pub(crate) fn wrap(
    args: &BulkheadArgs,
    f: &Function,
    span: Span,
    inner: TokenStream,
) -> TokenStream {
    let bulkhead = keyed_instance(
        "Bulkhead",
        quote!(bulkhead::BulkheadConfig),
        args.name.as_ref(),
        args.key.as_ref(),
        None,
        &args.settings,
        f,
        span,
    );
    admitted(bulkhead, f, span, inner, true)
}
