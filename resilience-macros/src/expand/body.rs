use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned;

use super::Function;

/// The statement that turns the body into a callable, and the expression
/// that runs it once. The closure's type is pinned to the function's return
/// type, so `?` and `return` inside behave as in the plain function; under
/// `#[retry]` it must be callable again (`FnMut`), so a body that moves an
/// argument out is reported at the move; under `#[hedge]`, several calls run
/// at once (`AsyncFn`), so it may not mutate what it captures either.
pub(crate) fn closure(f: &Function, retried: bool, hedged: bool) -> (TokenStream, TokenStream) {
    let p = f.private();
    let result = f.result;
    let block = &f.item.block;
    let at = Span::mixed_site().located_at(block.span());
    if f.is_async && hedged {
        return (
            quote_spanned!(at=> let body = #p::body_shared::<#result, _>(async || #block);),
            quote_spanned!(at=> body().await),
        );
    }
    match (f.is_async, retried) {
        (false, false) => (
            quote_spanned!(at=> let body = #p::body_once::<#result, _>(|| #block);),
            quote_spanned!(at=> body()),
        ),
        (false, true) => (
            quote_spanned!(at=> #[allow(unused_mut)] let mut body = #p::body_mut::<#result, _>(|| #block);),
            quote_spanned!(at=> body()),
        ),
        (true, false) => (
            quote_spanned!(at=> let body = #p::body_future::<#result, _>(async #block);),
            quote_spanned!(at=> body.await),
        ),
        (true, true) => (
            quote_spanned!(at=> #[allow(unused_mut)] let mut body = #p::body_async::<#result, _>(async || #block);),
            quote_spanned!(at=> body().await),
        ),
    }
}
