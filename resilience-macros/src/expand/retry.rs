use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::LitStr;

use super::handle::instance;
use super::{site, Function};
use crate::args::RetryArgs;

/// A loop around the layers below: an attempt's outcome is retried when it is
/// an error `on` accepts (every error without `on`), after the backoff wait,
/// which honours the error's `retry_after` and a rate limiter's.
pub(crate) fn wrap(args: &RetryArgs, f: &Function, span: Span, inner: TokenStream) -> TokenStream {
    let p = f.private();
    let result = f.result;
    let retry = instance(
        "Retry",
        quote!(retry::RetryConfig),
        args.name.as_ref(),
        &args.settings,
        f,
        span,
    );
    let krate = &f.krate;
    let at = site(span);
    let retry_error = match &args.on {
        Some(on) => quote_spanned!(site(on.span())=> (#on)(error)),
        None => quote_spanned!(at=> true),
    };
    let retry_rejection = match (&args.on, f.can_reject) {
        (_, false) => quote_spanned!(at=> match *rejection {}),
        (None, true) => quote_spanned!(at=> true),
        (Some(on), true) => quote_spanned!(site(on.span())=>
            (#on)(&#p::user_error::<#result>(::core::clone::Clone::clone(rejection)))
        ),
    };
    let rejection_hint = if f.can_reject {
        quote_spanned!(at=> #p::retry_after(&outcome))
    } else {
        quote_spanned!(at=> ::core::option::Option::None)
    };
    let hint = match &args.retry_after {
        Some(retry_after) => {
            let call = quote_spanned!(site(retry_after.span())=> (#retry_after)(error));
            quote_spanned!(at=> match &outcome {
                #p::Outcome::Err(error) => #call,
                _ => #rejection_hint,
            })
        }
        None => rejection_hint,
    };
    let start = if f.is_async {
        quote_spanned!(at=> retry.attempts_async())
    } else {
        quote_spanned!(at=> retry.attempts())
    };
    let budget = args
        .budget
        .as_ref()
        .map(|budget| declare_budget(budget, f, span));
    let sleep = if f.is_async {
        quote_spanned!(at=> #p::sleep(wait).await)
    } else {
        quote_spanned!(at=> #p::sleep_blocking(wait))
    };
    // The failed outcome goes out of scope before the wait, so the future
    // holds no error across the sleep.
    quote_spanned!(at=> {
        #budget
        let retry: &#krate::Retry = #retry;
        let mut attempts = #start;
        loop {
            let wait = {
                let outcome = #inner;
                let retryable = match &outcome {
                    #p::Outcome::Ok(_) => false,
                    #p::Outcome::Err(error) => #retry_error,
                    #p::Outcome::Rejected(rejection) => #retry_rejection,
                };
                if !retryable {
                    attempts.finished(::core::matches!(outcome, #p::Outcome::Ok(_)));
                    break outcome;
                }
                match attempts.next_wait(#hint) {
                    ::core::option::Option::Some(wait) => wait,
                    ::core::option::Option::None => break outcome,
                }
            };
            // A zero sleep would still wait for tokio's next timer tick (1 ms).
            if !wait.is_zero() {
                #sleep;
            }
        }
    })
}

/// Declares the retry budget `budget` names, so that the registry lists it
/// (with this call site) and a file's `[retry_budget.<name>]` configures it
/// before any call.
fn declare_budget(budget: &LitStr, f: &Function, span: Span) -> TokenStream {
    let p = f.private();
    let krate = &f.krate;
    let function = f.name();
    let at = site(span);
    quote_spanned!(at=>
        #[#p::linkme::distributed_slice(#p::DECLARATIONS)]
        #[linkme(crate = #p::linkme)]
        static BUDGET: #p::Declaration = #p::Declaration {
            name: #budget,
            site: #p::CallSite {
                function: #function,
                file: ::core::file!(),
                line: ::core::line!(),
                column: ::core::column!(),
            },
            keyed: false,
            keys: &[],
            config: #p::InlineConfig::RetryBudget(#krate::retry_budget::RetryBudgetConfig::default),
        };
    )
}
