//! A retry budget shared by four threads never allows more retries than
//! `retry_ratio * calls + min_retries_per_second * ttl`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use resilience_runtime::registry;
use resilience_runtime::retry::{Retry, RetryConfig};
use resilience_runtime::retry_budget::RetryBudgetConfig;

#[test]
fn retries_never_exceed_the_budgets_bound() {
    // A ttl far longer than the test, so that nothing leaves the window.
    let (ratio, min_per_second, ttl) = (0.2, 5, Duration::from_secs(60));
    registry()
        .configure_retry_budget(
            "stress-budget",
            RetryBudgetConfig::default()
                .ttl(ttl)
                .retry_ratio(ratio)
                .min_retries_per_second(min_per_second),
        )
        .unwrap();
    let retry = Retry::new(
        "stress-budgeted",
        RetryConfig::default()
            .max_attempts(4)
            .budget("stress-budget"),
    )
    .unwrap();
    let calls = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for thread in 0..4u64 {
            let (retry, calls) = (&retry, &calls);
            scope.spawn(move || {
                for i in 0..20_000u64 {
                    calls.fetch_add(1, Ordering::Relaxed);
                    // Mostly successes, which deposit, and bursts of failures.
                    let fail = (i + thread) % 7 < 2;
                    let _: Result<(), ()> = retry.call(|| if fail { Err(()) } else { Ok(()) });
                }
            });
        }
    });
    let calls = calls.into_inner();
    let budget = registry().retry_budget("stress-budget").metrics();
    let bound = ratio * calls as f64 + f64::from(min_per_second) * ttl.as_secs_f64();
    assert_eq!(budget.calls, calls);
    assert_eq!(budget.retries_permitted, retry.retries());
    assert!(
        budget.retries_refused > 0,
        "the budget was spent: {budget:?}"
    );
    assert!(
        budget.retries_permitted as f64 <= bound,
        "{} retries for {calls} calls, above the bound {bound}",
        budget.retries_permitted
    );
    // Spent, it gave out all but less than one retry of what it had.
    assert!(
        budget.retries_permitted as f64 > bound - 2.0,
        "{budget:?}, bound {bound}"
    );
}
