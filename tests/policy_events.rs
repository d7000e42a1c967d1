//! Every policy reports its events to listeners on the instance and on the
//! registry, and counts them for metrics, as the attributes run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience_runtime::bulkhead::BulkheadEvent;
use resilience_runtime::rate_limiter::RateLimiterEvent;
use resilience_runtime::retry::RetryEvent;
use resilience_runtime::time_limiter::TimeLimiterEvent;
use resilience_runtime::{
    bulkhead, circuit_breaker, fallback, rate_limiter, registry, retry, time_limiter, CircuitState,
    Event,
};

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("downstream failed")]
    Downstream,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

fn is_downstream(error: &CallError) -> bool {
    matches!(error, CallError::Downstream)
}

/// Keeps, as text, the registry events about the instance `name`.
fn registry_events(name: &'static str) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    registry().on_event(move |event| {
        let line = match event {
            Event::RetryScheduled { name, attempt, .. } => format!("{name}: scheduled {attempt}"),
            Event::RetrySucceeded { name, attempts } => format!("{name}: succeeded {attempts}"),
            Event::RetriesExhausted { name, attempts } => format!("{name}: exhausted {attempts}"),
            Event::RetryNotRetried { name, attempts } => format!("{name}: not retried {attempts}"),
            Event::BulkheadPermitted { name } => format!("{name}: permitted"),
            Event::BulkheadFinished { name } => format!("{name}: finished"),
            Event::RateLimiterPermitted { name, waited } => {
                format!("{name}: permitted after {waited:?}")
            }
            Event::TimeLimiterFinished { name, ok } => format!("{name}: finished ok={ok}"),
            Event::TimedOut { name, .. } => format!("{name}: timed out"),
            Event::CallRejected { error } => format!("{}: rejected", error.name()),
            Event::FallbackUsed {
                name, rejection, ..
            } => {
                format!(
                    "{name}: fallback for {}",
                    if rejection.is_some() {
                        "rejection"
                    } else {
                        "error"
                    }
                )
            }
            Event::StateTransition { name, from, to } => format!("{name}: {from} -> {to}"),
            _ => return,
        };
        if line.starts_with(&format!("{name}: ")) {
            sink.lock().unwrap().push(line);
        }
    });
    seen
}

fn taken(seen: &Mutex<Vec<String>>) -> Vec<String> {
    std::mem::take(&mut *seen.lock().unwrap())
}

#[retry(name = "events-retry", max_attempts = 3, on = is_downstream)]
fn flaky(failures: &Mutex<u32>, error: fn() -> CallError) -> Result<u32, CallError> {
    let mut left = failures.lock().unwrap();
    if *left > 0 {
        *left -= 1;
        return Err(error());
    }
    Ok(1)
}

#[test]
fn a_retry_reports_and_counts_each_way_a_call_ends() {
    let seen = registry_events("events-retry");
    let instance = Arc::new(Mutex::new(Vec::new()));
    let sink = instance.clone();
    registry()
        .retry("events-retry")
        .on_event(move |event| sink.lock().unwrap().push(*event));

    assert!(flaky(&Mutex::new(0), || CallError::Downstream).is_ok());
    assert!(flaky(&Mutex::new(1), || CallError::Downstream).is_ok());
    assert!(flaky(&Mutex::new(5), || CallError::Downstream).is_err());
    assert!(flaky(&Mutex::new(1), || CallError::NotFound).is_err());

    assert_eq!(
        taken(&seen),
        [
            "events-retry: succeeded 1",
            "events-retry: scheduled 1",
            "events-retry: succeeded 2",
            "events-retry: scheduled 1",
            "events-retry: scheduled 2",
            "events-retry: exhausted 3",
            "events-retry: not retried 1",
        ]
    );
    assert_eq!(
        *instance.lock().unwrap(),
        [
            RetryEvent::Succeeded { attempts: 1 },
            RetryEvent::Scheduled {
                attempt: 1,
                delay: Duration::ZERO
            },
            RetryEvent::Succeeded { attempts: 2 },
            RetryEvent::Scheduled {
                attempt: 1,
                delay: Duration::ZERO
            },
            RetryEvent::Scheduled {
                attempt: 2,
                delay: Duration::ZERO
            },
            RetryEvent::Exhausted { attempts: 3 },
            RetryEvent::NotRetried { attempts: 1 },
        ]
    );
    let metrics = registry().retry("events-retry").metrics();
    assert_eq!(metrics.successful_calls_without_retry, 1);
    assert_eq!(metrics.successful_calls_with_retry, 1);
    assert_eq!(metrics.failed_calls_with_retry, 1);
    assert_eq!(metrics.failed_calls_without_retry, 1);
    assert_eq!(metrics.attempts, 1 + 2 + 3 + 1);
}

#[bulkhead(name = "events-bulkhead", max_concurrent = 1)]
async fn guarded(hold: Duration) -> Result<(), CallError> {
    tokio::time::sleep(hold).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_bulkhead_reports_permits_rejections_and_finished_calls() {
    let seen = registry_events("events-bulkhead");
    let instance = Arc::new(Mutex::new(Vec::new()));
    let sink = instance.clone();
    registry()
        .bulkhead("events-bulkhead")
        .on_event(move |event| sink.lock().unwrap().push(*event));

    let (held, refused) = tokio::join!(guarded(Duration::from_secs(1)), guarded(Duration::ZERO));
    assert!(held.is_ok());
    assert!(matches!(refused, Err(CallError::Resilience(_))));
    // A cancelled call gives its slot back, and says so.
    let cancelled =
        tokio::time::timeout(Duration::from_millis(10), guarded(Duration::from_secs(1))).await;
    assert!(cancelled.is_err());

    assert_eq!(
        taken(&seen),
        [
            "events-bulkhead: permitted",
            "events-bulkhead: rejected",
            "events-bulkhead: finished",
            "events-bulkhead: permitted",
            "events-bulkhead: finished",
        ]
    );
    assert_eq!(
        *instance.lock().unwrap(),
        [
            BulkheadEvent::Permitted,
            BulkheadEvent::Rejected,
            BulkheadEvent::Finished,
            BulkheadEvent::Permitted,
            BulkheadEvent::Finished,
        ]
    );
    let metrics = registry().bulkhead("events-bulkhead").metrics();
    assert_eq!((metrics.permitted_calls, metrics.rejected_calls), (2, 1));
    assert_eq!(metrics.available_concurrent_calls, 1);
}

#[rate_limiter(
    name = "events-rate",
    max_tokens = 1,
    refill_rate = 10.0,
    max_wait = "150ms"
)]
async fn limited() -> Result<(), CallError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_rate_limiter_reports_permits_waits_and_rejections() {
    let seen = registry_events("events-rate");
    let instance = Arc::new(Mutex::new(Vec::new()));
    let sink = instance.clone();
    let limiter = registry().rate_limiter("events-rate");
    limiter.on_event(move |event| sink.lock().unwrap().push(*event));

    limited().await.unwrap();
    // The next token comes in 100 ms: within `max_wait`.
    limited().await.unwrap();
    // Two callers at once: one waits 100 ms, the other would wait 200 ms.
    let (first, second) = tokio::join!(limited(), limited());
    assert!(first.is_ok());
    assert!(matches!(second, Err(CallError::Resilience(_))));

    assert_eq!(
        taken(&seen),
        [
            "events-rate: permitted after 0ns",
            "events-rate: permitted after 100ms",
            "events-rate: rejected",
            "events-rate: permitted after 100ms",
        ]
    );
    let instance = instance.lock().unwrap();
    assert_eq!(instance[0], RateLimiterEvent::Permitted);
    assert_eq!(
        instance[1],
        RateLimiterEvent::Waited {
            wait: Duration::from_millis(100)
        }
    );
    assert!(
        matches!(instance[2], RateLimiterEvent::Rejected { retry_after } if retry_after == Duration::from_millis(200))
    );
    let metrics = limiter.metrics();
    assert_eq!(
        (
            metrics.permitted_calls,
            metrics.waited_calls,
            metrics.rejected_calls,
            metrics.waiting_calls
        ),
        (3, 2, 1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limiter_counts_its_waiting_callers() {
    let limiter = registry().rate_limiter("events-rate-waiting");
    limiter
        .reconfigure(
            resilience_runtime::rate_limiter::RateLimiterConfig::default()
                .max_tokens(1)
                .refill_rate(1.0)
                .max_wait(Duration::from_secs(10)),
        )
        .unwrap();
    limiter.acquire().await.unwrap();
    let waiting = tokio::spawn({
        let limiter = limiter.clone();
        async move { limiter.acquire().await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(limiter.metrics().waiting_calls, 1);
    waiting.abort();
    let _ = waiting.await;
    assert_eq!(
        limiter.metrics().waiting_calls,
        0,
        "a cancelled wait is no longer counted"
    );
}

#[time_limiter(name = "events-time", timeout = "1s")]
async fn timed(work: Duration, ok: bool) -> Result<(), CallError> {
    tokio::time::sleep(work).await;
    if ok {
        Ok(())
    } else {
        Err(CallError::Downstream)
    }
}

#[tokio::test(start_paused = true)]
async fn a_time_limiter_reports_successes_failures_and_timeouts() {
    let seen = registry_events("events-time");
    let instance = Arc::new(Mutex::new(Vec::new()));
    let sink = instance.clone();
    registry()
        .time_limiter("events-time")
        .on_event(move |event| sink.lock().unwrap().push(*event));

    timed(Duration::from_millis(10), true).await.unwrap();
    assert!(timed(Duration::from_millis(10), false).await.is_err());
    assert!(timed(Duration::from_secs(2), true).await.is_err());

    assert_eq!(
        taken(&seen),
        [
            "events-time: finished ok=true",
            "events-time: finished ok=false",
            "events-time: timed out",
        ]
    );
    assert_eq!(
        *instance.lock().unwrap(),
        [
            TimeLimiterEvent::Succeeded,
            TimeLimiterEvent::Failed,
            TimeLimiterEvent::TimedOut {
                timeout: Duration::from_secs(1)
            },
        ]
    );
    let metrics = registry().time_limiter("events-time").metrics();
    assert_eq!(
        (
            metrics.successful_calls,
            metrics.failed_calls,
            metrics.timeout_calls
        ),
        (1, 1, 1)
    );
}

fn cached(_fail: bool, _error: CallError) -> Result<&'static str, CallError> {
    Ok("cached")
}

#[fallback(method = cached)]
#[circuit_breaker(
    name = "events-breaker",
    failure_threshold = 2,
    recovery_timeout = "1h"
)]
fn with_fallback(fail: bool) -> Result<&'static str, CallError> {
    if fail {
        Err(CallError::Downstream)
    } else {
        Ok("fresh")
    }
}

#[test]
fn a_fallback_is_counted_by_cause_and_a_breaker_by_transition() {
    let seen = registry_events("with_fallback");
    assert_eq!(with_fallback(false).unwrap(), "fresh");
    assert_eq!(with_fallback(true).unwrap(), "cached");
    assert_eq!(with_fallback(true).unwrap(), "cached");
    // Open now: the rejection is replaced too.
    assert_eq!(with_fallback(false).unwrap(), "cached");
    assert_eq!(
        taken(&seen),
        [
            "with_fallback: fallback for error",
            "with_fallback: fallback for error",
            "with_fallback: fallback for rejection",
        ]
    );
    let fallback = registry()
        .fallbacks()
        .into_iter()
        .find(|fallback| fallback.name == "with_fallback")
        .expect("every #[fallback] is listed");
    assert_eq!((fallback.error_calls, fallback.rejection_calls), (2, 1));

    let breaker = registry().circuit_breaker("events-breaker");
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(
        breaker.transitions(),
        [(CircuitState::Closed, CircuitState::Open, 1)]
    );
    breaker.reset();
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::Closed);
    assert_eq!(
        breaker.transitions(),
        [
            (CircuitState::Closed, CircuitState::Open, 1),
            (CircuitState::Open, CircuitState::Closed, 1)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_breaker_knows_how_long_it_has_been_open() {
    let breaker = registry().circuit_breaker("events-breaker-timed");
    breaker.force_open();
    tokio::time::advance(Duration::from_secs(90)).await;
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, CircuitState::ForcedOpen);
    assert_eq!(metrics.state_duration, Duration::from_secs(90));
    assert_eq!(metrics.open_duration, Duration::from_secs(90));
    breaker.reset();
    tokio::time::advance(Duration::from_secs(30)).await;
    let metrics = breaker.metrics();
    assert_eq!(metrics.state_duration, Duration::from_secs(30));
    assert_eq!(
        metrics.open_duration,
        Duration::from_secs(90),
        "closed time is not open time"
    );
}
