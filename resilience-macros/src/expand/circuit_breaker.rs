use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::handle::keyed_instance;
use super::{site, Function};
use crate::args::CircuitBreakerArgs;

/// Asks the breaker before running the layers below, then records their
/// outcome: a success, a failure (an error `on` accepts, or a timeout), an
/// ignored error (one `on` turns down), or nothing at all (another policy's
/// rejection).
pub(crate) fn wrap(
    args: &CircuitBreakerArgs,
    f: &Function,
    span: Span,
    inner: TokenStream,
) -> TokenStream {
    let p = f.private();
    let result = f.result;
    let breaker = keyed_instance(
        "CircuitBreaker",
        quote!(circuit_breaker::CircuitBreakerConfig),
        args.name.as_ref(),
        args.key.as_ref(),
        None,
        &args.settings,
        f,
        span,
    );
    let krate = &f.krate;
    let at = site(span);
    let (on_error, on_rejection) = match &args.on {
        None => (
            quote_spanned!(at=> permit.failure()),
            quote_spanned!(at=> if rejection.is_timeout() { permit.failure() }),
        ),
        Some(on) => {
            let on_at = site(on.span());
            (
                quote_spanned!(on_at=> if (#on)(error) { permit.failure() } else { permit.ignore() }),
                quote_spanned!(on_at=>
                    if rejection.is_timeout()
                        && (#on)(&#p::user_error::<#result>(::core::clone::Clone::clone(rejection)))
                    {
                        permit.failure()
                    }
                ),
            )
        }
    };
    quote_spanned!(at=> {
        // A keyed member is an `Arc`, held for the call.
        let held = #breaker;
        let breaker: &#krate::CircuitBreaker = &held;
        // Bound, so that the permit, which borrows `held`, ends before it.
        let outcome = match breaker.try_acquire() {
            ::core::result::Result::Err(rejection) => #p::Outcome::Rejected(rejection),
            ::core::result::Result::Ok(permit) => {
                let outcome = #inner;
                match &outcome {
                    #p::Outcome::Ok(_) => permit.success(),
                    #p::Outcome::Err(error) => #on_error,
                    #p::Outcome::Rejected(rejection) => #on_rejection,
                }
                outcome
            }
        };
        outcome
    })
}
