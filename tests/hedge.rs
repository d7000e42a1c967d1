//! `#[hedge]` on a paused clock: who wins, when copies start, what is
//! dropped, and how a percentile delay follows the latencies.

mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::AppError;
use resilience_runtime::hedge::{Hedge, HedgeConfig, HedgeDelay, HedgeEvent};
use resilience_runtime::{hedge, registry};
use tokio::time::{sleep, timeout, Instant};

const MS: Duration = Duration::from_millis(1);

/// What each copy of a call does, in the order the copies start: wait this
/// many milliseconds, then answer its index or fail.
#[derive(Clone, Copy)]
enum Step {
    Ok(u64),
    Transient(u64),
    Permanent(u64),
    Panic(u64),
}

/// A scripted dependency: copy `n` of a call plays `steps[n]`, and every
/// copy's start time and fate are recorded.
struct Script {
    steps: Vec<Step>,
    started: Mutex<Vec<Instant>>,
    dropped: AtomicU32,
    finished: AtomicU32,
}

impl Script {
    fn new(steps: &[Step]) -> Arc<Script> {
        Arc::new(Script {
            steps: steps.to_vec(),
            started: Mutex::new(Vec::new()),
            dropped: AtomicU32::new(0),
            finished: AtomicU32::new(0),
        })
    }

    async fn play(&self) -> Result<u32, AppError> {
        let index = {
            let mut started = self.started.lock().unwrap();
            started.push(Instant::now());
            started.len() - 1
        };
        let guard = DropGuard(self);
        let (wait, answer) = match self.steps[index] {
            Step::Ok(ms) => (ms, Ok(index as u32)),
            Step::Transient(ms) => (ms, Err(AppError::Transient)),
            Step::Permanent(ms) => (ms, Err(AppError::Permanent)),
            Step::Panic(ms) => {
                sleep(Duration::from_millis(ms)).await;
                panic!("copy {index} panics");
            }
        };
        sleep(Duration::from_millis(wait)).await;
        std::mem::forget(guard);
        self.finished.fetch_add(1, SeqCst);
        answer
    }

    /// When each copy started, from `origin`, in milliseconds.
    fn starts(&self, origin: Instant) -> Vec<u64> {
        self.started
            .lock()
            .unwrap()
            .iter()
            .map(|at| (*at - origin).as_millis() as u64)
            .collect()
    }
}

/// Counts a copy dropped before it finished.
struct DropGuard<'a>(&'a Script);

impl Drop for DropGuard<'_> {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, SeqCst);
    }
}

#[hedge(name = "hedge-slow-primary", delay = "50ms")]
async fn slow_primary(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn a_slow_primary_is_beaten_by_its_hedge_and_dropped() {
    let script = Script::new(&[Step::Ok(1000), Step::Ok(10)]);
    let origin = Instant::now();
    assert_eq!(slow_primary(script.clone()).await.unwrap(), 1);
    assert_eq!(origin.elapsed(), 60 * MS);
    assert_eq!(script.starts(origin), [0, 50]);
    assert_eq!(
        script.dropped.load(SeqCst),
        1,
        "the primary's future was dropped"
    );
    let metrics = registry().hedge("hedge-slow-primary").metrics();
    assert_eq!(
        (
            metrics.calls,
            metrics.hedge_wins,
            metrics.primary_wins,
            metrics.hedges_started
        ),
        (1, 1, 0, 1)
    );
}

#[hedge(name = "hedge-fast-primary", delay = "50ms")]
async fn fast_primary(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn a_primary_that_answers_before_the_delay_starts_no_hedge() {
    let script = Script::new(&[Step::Ok(49)]);
    let origin = Instant::now();
    assert_eq!(fast_primary(script.clone()).await.unwrap(), 0);
    assert_eq!(origin.elapsed(), 49 * MS);
    assert_eq!(script.starts(origin), [0]);
    let metrics = registry().hedge("hedge-fast-primary").metrics();
    assert_eq!((metrics.primary_wins, metrics.hedges_started), (1, 0));
}

#[hedge(name = "hedge-all-fail", delay = "50ms")]
async fn all_fail(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn when_every_copy_fails_the_primarys_error_is_returned() {
    // The hedge fails first (at 60 ms), then the primary (at 100 ms).
    let script = Script::new(&[Step::Transient(100), Step::Permanent(10)]);
    let origin = Instant::now();
    assert!(matches!(all_fail(script).await, Err(AppError::Transient)));
    assert_eq!(origin.elapsed(), 100 * MS);

    // The primary fails first (at 70 ms): the call waits for the hedge.
    let script = Script::new(&[Step::Transient(70), Step::Permanent(100)]);
    let origin = Instant::now();
    assert!(matches!(all_fail(script).await, Err(AppError::Transient)));
    assert_eq!(origin.elapsed(), 150 * MS);

    let metrics = registry().hedge("hedge-all-fail").metrics();
    assert_eq!((metrics.failed_calls, metrics.hedges_started), (2, 2));
}

#[hedge(name = "hedge-error-then-answer", delay = "50ms")]
async fn error_then_answer(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn an_error_does_not_end_the_call_while_another_copy_runs() {
    let script = Script::new(&[Step::Transient(70), Step::Ok(100)]);
    let origin = Instant::now();
    assert_eq!(error_then_answer(script).await.unwrap(), 1);
    assert_eq!(origin.elapsed(), 150 * MS);
}

#[hedge(name = "hedge-fast-failure", delay = "50ms", max_hedged_attempts = 3)]
async fn fast_failure(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn a_failure_before_the_delay_ends_the_call_without_a_hedge() {
    let script = Script::new(&[Step::Permanent(10)]);
    let origin = Instant::now();
    assert!(matches!(
        fast_failure(script.clone()).await,
        Err(AppError::Permanent)
    ));
    assert_eq!(origin.elapsed(), 10 * MS);
    assert_eq!(script.starts(origin), [0], "a hedge is not a retry");
}

#[hedge(name = "hedge-two-copies", delay = "50ms", max_hedged_attempts = 2)]
async fn two_copies(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn copies_start_at_each_delay_up_to_max_hedged_attempts() {
    let script = Script::new(&[Step::Ok(1000), Step::Ok(1000), Step::Ok(20)]);
    let origin = Instant::now();
    assert_eq!(two_copies(script.clone()).await.unwrap(), 2);
    assert_eq!(script.starts(origin), [0, 50, 100]);
    assert_eq!(origin.elapsed(), 120 * MS);
    assert_eq!(script.dropped.load(SeqCst), 2);

    // No third copy: the primary answers at 1000 ms.
    let script = Script::new(&[Step::Ok(1000), Step::Ok(1000), Step::Ok(1000)]);
    let origin = Instant::now();
    assert_eq!(two_copies(script.clone()).await.unwrap(), 0);
    assert_eq!(script.starts(origin), [0, 50, 100]);
    assert_eq!(origin.elapsed(), 1000 * MS);
}

#[hedge(name = "hedge-percentile", delay = "p90", delay_floor = "15ms")]
async fn percentile(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn a_percentile_delay_follows_a_shift_in_latency() {
    let hedge = registry().hedge("hedge-percentile");
    assert_eq!(
        hedge.current_delay(),
        15 * MS,
        "the floor, before any latency"
    );
    for _ in 0..40 {
        percentile(Script::new(&[Step::Ok(10)])).await.unwrap();
    }
    assert_eq!(hedge.metrics().hedges_started, 0);
    // p90 of 10 ms calls is 10 ms, under the floor.
    assert_eq!(hedge.current_delay(), 15 * MS);

    // The dependency slows down: each call is hedged at the delay in force,
    // and the primary, first to answer, records 100 ms.
    let mut delays = Vec::new();
    for _ in 0..40 {
        let origin = Instant::now();
        let script = Script::new(&[Step::Ok(100), Step::Ok(100)]);
        percentile(script.clone()).await.unwrap();
        delays.push(script.starts(origin).get(1).copied());
    }
    assert_eq!(delays[0], Some(15), "hedged at the floor at first");
    assert_eq!(hedge.current_delay(), 100 * MS, "p90 of the last 80 calls");
    assert_eq!(
        delays.last(),
        Some(&None),
        "100 ms calls are no longer hedged"
    );

    // Fast again: the delay comes back down once the slow calls leave the window.
    for _ in 0..128 {
        percentile(Script::new(&[Step::Ok(30)])).await.unwrap();
    }
    assert_eq!(hedge.current_delay(), 30 * MS);
}

#[hedge(name = "hedge-shared", delay = "50ms")]
async fn shared_one(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[hedge(name = "hedge-shared", delay = "50ms")]
async fn shared_two(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn a_named_hedge_is_shared_and_counted_across_functions() {
    shared_one(Script::new(&[Step::Ok(1)])).await.unwrap();
    shared_two(Script::new(&[Step::Ok(100), Step::Ok(1)]))
        .await
        .unwrap();
    let metrics = registry().hedge("hedge-shared").metrics();
    assert_eq!(
        (metrics.calls, metrics.primary_wins, metrics.hedge_wins),
        (2, 1, 1)
    );
    let info = registry().instances();
    let shared = info.iter().find(|i| i.name == "hedge-shared").unwrap();
    let functions: Vec<&str> = shared.call_sites.iter().map(|s| s.function).collect();
    assert_eq!(functions, ["shared_one", "shared_two"]);
}

#[hedge(delay = "50ms", max_hedged_attempts = 2)]
async fn cancelled(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_hedged_call_drops_every_copy() {
    let script = Script::new(&[Step::Ok(1000), Step::Ok(1000), Step::Ok(1000)]);
    assert!(timeout(120 * MS, cancelled(script.clone())).await.is_err());
    assert_eq!(script.started.lock().unwrap().len(), 3);
    assert_eq!(script.dropped.load(SeqCst), 3);
    assert_eq!(script.finished.load(SeqCst), 0);
}

#[hedge(name = "hedge-panic", delay = "50ms")]
async fn panics(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_a_copy_resumes_in_the_caller_and_drops_the_others() {
    let script = Script::new(&[Step::Ok(1000), Step::Panic(10)]);
    let joined = tokio::spawn(panics(script.clone())).await;
    assert!(joined.unwrap_err().is_panic());
    // The panicking copy and the primary, both unfinished.
    assert_eq!(script.dropped.load(SeqCst), 2);
    assert_eq!(script.finished.load(SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn the_runtime_api_hedges_a_closure_and_reports_events() {
    let hedge = Hedge::new(
        "hedge-runtime-api",
        HedgeConfig::default()
            .delay(HedgeDelay::Fixed(20 * MS))
            .max_hedged_attempts(2),
    )
    .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    hedge.on_event(move |event| seen.lock().unwrap().push(*event));
    let script = Script::new(&[Step::Ok(1000), Step::Transient(5), Step::Ok(30)]);
    let answer = hedge.call_async(|| script.play()).await.unwrap();
    assert_eq!(answer, 2);
    assert_eq!(
        *events.lock().unwrap(),
        [
            HedgeEvent::Hedged {
                attempt: 1,
                delay: 20 * MS
            },
            HedgeEvent::Hedged {
                attempt: 2,
                delay: 20 * MS
            },
            HedgeEvent::HedgeSucceeded { attempt: 2 },
        ]
    );
}

#[hedge(name = "hedge-registry-event", delay = "30ms", max_hedged_attempts = 2)]
async fn evented(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn each_started_copy_is_a_registry_event() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let id = registry().on_event(move |event| {
        if let resilience_runtime::Event::HedgeStarted {
            name: "hedge-registry-event",
            attempt,
            delay,
        } = event
        {
            sink.lock().unwrap().push((*attempt, *delay));
        }
    });
    let script = Script::new(&[Step::Ok(1000), Step::Ok(1000), Step::Ok(5)]);
    evented(script).await.unwrap();
    registry().remove_listener(id);
    assert_eq!(*seen.lock().unwrap(), [(1, 30 * MS), (2, 30 * MS)]);
}

#[hedge(delay = std::time::Duration::from_millis(20))]
async fn delay_from_an_expression(script: Arc<Script>) -> Result<u32, AppError> {
    script.play().await
}

#[tokio::test(start_paused = true)]
async fn a_delay_may_be_any_duration_expression() {
    let script = Script::new(&[Step::Ok(1000), Step::Ok(0)]);
    let origin = Instant::now();
    assert_eq!(delay_from_an_expression(script).await.unwrap(), 1);
    assert_eq!(origin.elapsed(), 20 * MS);
}
