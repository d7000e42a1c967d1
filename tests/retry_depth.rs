//! `#[retry]` to depth, on tokio's paused clock: linear backoff, the error's
//! `retry_after` hint, a rate limiter's hint above `max_delay`,
//! `max_duration`, adaptive waits and a shared retry budget.

#[path = "common/attempts.rs"]
mod attempts;
mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attempts::Attempts;
use common::AppError;
use resilience_runtime::retry::{Retry, RetryConfig, RetryEvent, StopReason};
use resilience_runtime::retry_budget::RetryBudgetConfig;
use resilience_runtime::{rate_limiter, registry, retry, Event};
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The `RetryStopped` events of the retries named `name`, as text, until dropped.
struct Stops {
    id: resilience_runtime::ListenerId,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Stops {
    fn of(name: &'static str) -> Stops {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let id = registry().on_event(move |event| {
            if let Event::RetryStopped {
                name: stopped,
                attempts,
                reason,
                budget,
            } = event
            {
                if *stopped == name {
                    sink.lock().unwrap().push(format!(
                        "{stopped} after {attempts}: {reason} (budget {budget:?})"
                    ));
                }
            }
        });
        Stops { id, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Stops {
    fn drop(&mut self) {
        registry().remove_listener(self.id);
    }
}

// Linear backoff.

#[retry(
    max_attempts = 6,
    delay = "10ms",
    backoff = "linear",
    max_delay = "35ms"
)]
async fn linear(attempts: &Attempts) -> Result<(), AppError> {
    attempts.record();
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn linear_waits_add_the_delay_each_time_up_to_max_delay() {
    let attempts = Attempts::default();
    assert!(linear(&attempts).await.is_err());
    assert_eq!(
        attempts.take_gaps(),
        [ms(10), ms(20), ms(30), ms(35), ms(35)]
    );
}

// The error's `retry_after`.

#[derive(Debug)]
struct Busy(Duration);

impl Busy {
    fn retry_after(&self) -> Option<Duration> {
        Some(self.0)
    }
}

#[retry(
    name = "depth-hinted",
    max_attempts = 3,
    delay = "20ms",
    max_delay = "1s",
    retry_after = Busy::retry_after
)]
async fn hinted(attempts: &Attempts, hint: Duration) -> Result<(), Busy> {
    attempts.record();
    Err(Busy(hint))
}

#[tokio::test(start_paused = true)]
async fn a_longer_hint_is_waited_and_a_shorter_one_ignored() {
    let attempts = Attempts::default();
    assert!(hinted(&attempts, ms(300)).await.is_err());
    assert_eq!(attempts.take_gaps(), [ms(300), ms(300)]);
    assert!(hinted(&attempts, ms(5)).await.is_err());
    assert_eq!(attempts.take_gaps(), [ms(20), ms(20)]);
}

#[tokio::test(start_paused = true)]
async fn a_hint_longer_than_max_delay_ends_the_retries_with_that_error() {
    let stops = Stops::of("depth-hinted");
    let attempts = Attempts::default();
    let started = Instant::now();
    let Err(Busy(hint)) = hinted(&attempts, ms(1001)).await else {
        panic!("the error is returned");
    };
    assert_eq!(hint, ms(1001));
    assert_eq!(attempts.count(), 1);
    assert_eq!(started.elapsed(), Duration::ZERO, "no wait at all");
    assert_eq!(
        stops.lines(),
        ["depth-hinted after 1: the error asks for a wait of 1s1ms, longer than max_delay (budget None)"]
    );
}

#[retry(max_attempts = 5, delay = "10ms", retry_after = |error: &Busy| Some(error.0))]
async fn hinted_without_max_delay(attempts: &Attempts, hint: Duration) -> Result<(), Busy> {
    attempts.record();
    Err(Busy(hint))
}

#[tokio::test(start_paused = true)]
async fn a_hint_of_never_ends_the_retries_even_without_max_delay() {
    let attempts = Attempts::default();
    assert!(hinted_without_max_delay(&attempts, Duration::MAX)
        .await
        .is_err());
    assert_eq!(attempts.count(), 1);
    attempts.take_gaps();
    assert!(hinted_without_max_delay(&attempts, ms(700)).await.is_err());
    assert_eq!(attempts.count(), 5, "a long hint without a cap is waited");
    assert_eq!(attempts.take_gaps(), [ms(700); 4]);
}

#[test]
fn the_runtime_api_takes_the_hint_too() {
    let retry = Retry::new("depth-runtime-hint", RetryConfig::default().max_attempts(4)).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    retry.on_event(move |event| sink.lock().unwrap().push(*event));
    let mut calls = 0;
    let result: Result<(), Duration> = retry.call_with_retry_after(
        || {
            calls += 1;
            Err(if calls < 2 {
                Duration::ZERO
            } else {
                Duration::MAX
            })
        },
        |hint| Some(*hint),
    );
    assert_eq!(result, Err(Duration::MAX));
    assert_eq!(calls, 2);
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&RetryEvent::Stopped {
            attempts: 2,
            reason: StopReason::RetryAfter {
                hint: Duration::MAX
            }
        })
    );
}

// A rate limiter's hint below the retry.

#[retry(max_attempts = 3, max_delay = "100ms")]
#[rate_limiter(max_tokens = 1, refill_rate = 1.0)]
async fn limited(attempts: &Attempts) -> Result<(), AppError> {
    attempts.record();
    Ok(())
}

#[retry(max_attempts = 3, max_delay = "2s")]
#[rate_limiter(max_tokens = 1, refill_rate = 1.0)]
async fn limited_patiently(attempts: &Attempts) -> Result<(), AppError> {
    attempts.record();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_rate_limiters_hint_above_max_delay_ends_the_retries() {
    let attempts = Attempts::default();
    limited(&attempts).await.unwrap();
    let started = Instant::now();
    let error = limited(&attempts).await.unwrap_err();
    assert!(
        error.rejection().is_some(),
        "the rejection is returned: {error}"
    );
    assert_eq!(started.elapsed(), Duration::ZERO, "the token is 1s away");

    limited_patiently(&attempts).await.unwrap();
    let started = Instant::now();
    limited_patiently(&attempts).await.unwrap();
    assert_eq!(started.elapsed(), ms(1000), "waited for the token");
}

// `max_duration`.

#[retry(max_attempts = 10, delay = "100ms", max_duration = "250ms")]
async fn timed(attempts: &Attempts, work: Duration) -> Result<(), AppError> {
    attempts.record();
    tokio::time::sleep(work).await;
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_whose_wait_would_end_past_max_duration() {
    let attempts = Attempts::default();
    let started = Instant::now();
    assert!(timed(&attempts, Duration::ZERO).await.is_err());
    // Attempts at 0, 100 and 200 ms; a wait to 300 ms would pass 250 ms.
    assert_eq!(attempts.take_gaps(), [ms(100), ms(100)]);
    assert_eq!(started.elapsed(), ms(200));

    // With 50 ms attempts: 0-50, 150-200, and a wait to 300 ms is not started.
    let started = Instant::now();
    assert!(timed(&attempts, ms(50)).await.is_err());
    assert_eq!(attempts.take_gaps(), [ms(150)]);
    assert_eq!(started.elapsed(), ms(200));
}

#[tokio::test(start_paused = true)]
async fn max_duration_by_hand_counts_on_the_policy_clock() {
    // Made on a paused clock, the policy's clock follows tokio's.
    let retry = Retry::new(
        "depth-runtime-duration",
        RetryConfig::default()
            .max_attempts(10)
            .delay(ms(100))
            .max_duration(ms(250)),
    )
    .unwrap();
    let mut attempts = retry.attempts();
    tokio::time::advance(ms(40)).await;
    assert_eq!(attempts.next_wait(None), Some(ms(100)));
    tokio::time::advance(ms(140)).await;
    assert_eq!(attempts.next_wait(None), None, "180 + 100 > 250");
    assert_eq!(retry.metrics().failed_calls_with_retry, 1);
}

// Adaptive waits.

fn adaptive_retry(name: &'static str) -> Retry {
    Retry::new(
        name,
        RetryConfig::default()
            .max_attempts(3)
            .delay(ms(100))
            .max_delay(ms(1000))
            .adaptive(true),
    )
    .unwrap()
}

/// Ends `successes` calls in success and `failures` in a failure not retried.
fn history(retry: &Retry, successes: usize, failures: usize) {
    for _ in 0..failures {
        retry.attempts().finished(false);
    }
    for _ in 0..successes {
        retry.attempts().finished(true);
    }
}

#[test]
fn adaptive_waits_scale_with_each_success_rate_band() {
    let bands = [
        ("depth-adaptive-none", 0, 0, 100),
        ("depth-adaptive-95", 95, 5, 70),
        ("depth-adaptive-91", 91, 9, 70),
        ("depth-adaptive-90", 90, 10, 100),
        ("depth-adaptive-71", 71, 29, 100),
        ("depth-adaptive-70", 70, 30, 150),
        ("depth-adaptive-51", 51, 49, 150),
        ("depth-adaptive-50", 50, 50, 200),
        ("depth-adaptive-0", 0, 4, 200),
    ];
    for (name, successes, failures, wait) in bands {
        let retry = adaptive_retry(name);
        history(&retry, successes, failures);
        let mut attempts = retry.attempts();
        assert_eq!(
            attempts.next_wait(None),
            Some(ms(wait)),
            "{successes} successes, {failures} failures"
        );
    }
}

#[test]
fn an_adaptive_wait_is_still_capped_at_max_delay_and_counts_whole_calls() {
    let retry = adaptive_retry("depth-adaptive-cap");
    retry
        .reconfigure(retry.config().clone().max_delay(ms(150)))
        .unwrap();
    history(&retry, 0, 10);
    let mut attempts = retry.attempts();
    assert_eq!(attempts.next_wait(None), Some(ms(150)), "200 capped");
    // One call that succeeds after retries is one success.
    attempts.finished(true);
    assert_eq!(retry.success_rate(), Some(1.0 / 11.0));
}

static ADAPTIVE_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    name = "depth-adaptive-attr",
    adaptive = true,
    max_attempts = 2,
    delay = "100ms"
)]
async fn adaptive(attempts: &Attempts) -> Result<(), AppError> {
    ADAPTIVE_CALLS.fetch_add(1, Ordering::Relaxed);
    attempts.record();
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn a_named_adaptive_retry_waits_longer_after_failed_calls() {
    let attempts = Attempts::default();
    assert!(adaptive(&attempts).await.is_err());
    assert_eq!(attempts.take_gaps(), [ms(100)], "no history yet");
    assert!(adaptive(&attempts).await.is_err());
    assert_eq!(attempts.take_gaps(), [ms(200)], "every call failed");
    assert_eq!(
        registry().retry("depth-adaptive-attr").success_rate(),
        Some(0.0)
    );
}

// A shared retry budget.

#[retry(name = "depth-budgeted", max_attempts = 10, budget = "depth-budget")]
async fn budgeted(attempts: &Attempts, fail: bool) -> Result<(), AppError> {
    attempts.record();
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_budget_allows_its_retries_then_refuses_until_they_leave_the_window() {
    registry()
        .configure_retry_budget(
            "depth-budget",
            RetryBudgetConfig::default()
                .ttl(Duration::from_secs(1))
                .retry_ratio(0.25)
                .min_retries_per_second(2),
        )
        .unwrap();
    let stops = Stops::of("depth-budgeted");
    let attempts = Attempts::default();

    // The reserve, 2 retries a second, and a quarter of a retry per call.
    assert!(budgeted(&attempts, true).await.is_err());
    assert_eq!(attempts.count(), 3);
    assert_eq!(
        stops.lines(),
        ["depth-budgeted after 3: the retry budget is spent (budget Some(\"depth-budget\"))"]
    );
    attempts.take_gaps();
    assert!(budgeted(&attempts, true).await.is_err());
    assert_eq!(attempts.count(), 1, "half a retry left");
    attempts.take_gaps();

    // Four successful calls deposit one retry more.
    for _ in 0..4 {
        budgeted(&attempts, false).await.unwrap();
    }
    attempts.take_gaps();
    assert!(budgeted(&attempts, true).await.is_err());
    assert_eq!(attempts.count(), 2);
    attempts.take_gaps();

    // A second later the window has moved on: the reserve is back.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(budgeted(&attempts, true).await.is_err());
    assert_eq!(attempts.count(), 3);

    let budget = registry().retry_budget("depth-budget");
    let metrics = budget.metrics();
    assert_eq!(metrics.retries_permitted, 5);
    assert_eq!(metrics.retries_refused, 4);
    assert_eq!(metrics.calls, 8);
    assert_eq!(metrics.available_retries, 0);
}

#[test]
fn a_budgeted_retry_and_its_budget_are_declared_before_any_call() {
    let instances = registry().instances();
    let budget = instances
        .iter()
        .find(|i| i.name == "depth-budget")
        .expect("declared by the retry that names it");
    assert_eq!(budget.call_sites[0].function, "budgeted");
    let retry = instances
        .iter()
        .find(|i| i.name == "depth-budgeted")
        .unwrap();
    let setting = |key: &str| {
        retry
            .settings
            .iter()
            .find(|s| s.key == key)
            .unwrap()
            .value
            .to_string()
    };
    assert_eq!(setting("budget"), "\"depth-budget\"");
    assert_eq!(setting("adaptive"), "false");
    assert_eq!(setting("max_duration"), "none");
    assert_eq!(setting("backoff"), "1.0");
}
