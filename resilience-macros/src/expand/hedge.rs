use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use super::handle::instance;
use super::{site, Function};
use crate::args::HedgeArgs;

/// Runs the layers below as the primary call and, while it has not
/// answered, as hedged copies beside it; the first `Ok` outcome wins, else
/// the primary's outcome once every copy has ended. The copies run at once,
/// so the layers below become an `AsyncFn` that borrows the body.
pub(crate) fn wrap(args: &HedgeArgs, f: &Function, span: Span, inner: TokenStream) -> TokenStream {
    let p = f.private();
    let hedge = instance(
        "Hedge",
        quote!(hedge::HedgeConfig),
        args.name.as_ref(),
        &args.settings,
        f,
        span,
    );
    let krate = &f.krate;
    let at = site(span);
    quote_spanned!(at=> {
        let hedge: &#krate::Hedge = #hedge;
        let layers = #p::hedged_layers(async || #inner);
        hedge
            .judged(|| layers(), |outcome| ::core::matches!(outcome, #p::Outcome::Ok(_)))
            .await
    })
}
