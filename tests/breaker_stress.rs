//! The circuit breaker under real concurrency: plain threads and a
//! multi-thread tokio runtime on the real clock, bounded loops, each test well
//! under a second. Every test checks an invariant that must hold whatever the
//! interleaving, and also checks that the interleavings it is about happened,
//! so that none passes vacuously.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::AppError;
use resilience_runtime::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerEvent, CircuitBreakerMetrics, CircuitPermit,
};
use resilience_runtime::{circuit_breaker, registry, CircuitBreaker, CircuitState, Error};

/// How long a slow call takes; every breaker here with slow-call detection
/// uses `slow_call_duration = SLOW_LIMIT`, half of it.
const SLOW: Duration = Duration::from_millis(2);
const SLOW_LIMIT: Duration = Duration::from_millis(1);

/// A small deterministic generator (splitmix64), so that each caller's mix of
/// outcomes is fixed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What one call does once the breaker has let it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Succeed,
    /// Fails with an error that `on` counts.
    Fail,
    /// Fails with an error that `on` turns down: the breaker ignores it.
    Ignore,
    /// Succeeds after `SLOW`.
    Slow,
    /// Is cancelled (its permit dropped) before it ends.
    Drop,
}

impl Act {
    /// 45% successes, 25% failures, 10% ignored errors, 18% drops, 2% slow successes.
    fn draw(rng: &mut Rng) -> Act {
        match rng.below(100) {
            0..45 => Act::Succeed,
            45..70 => Act::Fail,
            70..80 => Act::Ignore,
            80..98 => Act::Drop,
            _ => Act::Slow,
        }
    }

    fn result(self) -> Result<(), AppError> {
        match self {
            Act::Succeed | Act::Slow => Ok(()),
            Act::Fail => Err(AppError::Transient),
            Act::Ignore => Err(AppError::Permanent),
            Act::Drop => unreachable!("a dropped call has no result"),
        }
    }

    fn run_sync(self) -> Result<(), AppError> {
        if self == Act::Slow {
            thread::sleep(SLOW);
        }
        self.result()
    }

    async fn run(self) -> Result<(), AppError> {
        match self {
            Act::Slow => tokio::time::sleep(SLOW).await,
            Act::Drop => std::future::pending::<()>().await,
            _ => {}
        }
        self.result()
    }
}

/// Polls `future` once, then drops it: a call cancelled at its first `.await`.
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    pin!(future)
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

/// What the callers saw, by kind.
#[derive(Debug, Default)]
struct Seen {
    succeeded: AtomicU64,
    failed: AtomicU64,
    ignored: AtomicU64,
    rejected: AtomicU64,
    /// Calls the breaker admitted that ended without an outcome.
    dropped: AtomicU64,
    /// Successes that took `SLOW`, so are slow for certain.
    surely_slow: AtomicU64,
}

impl Seen {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, SeqCst);
    }

    /// Records what an annotated function returned for `act`.
    fn result(&self, act: Act, result: Result<(), AppError>) {
        match result {
            Ok(()) => {
                Seen::add(&self.succeeded);
                if act == Act::Slow {
                    Seen::add(&self.surely_slow);
                }
            }
            Err(AppError::Transient) => Seen::add(&self.failed),
            Err(AppError::Permanent) => Seen::add(&self.ignored),
            Err(AppError::Resilience(Error::CircuitOpen { .. })) => Seen::add(&self.rejected),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    /// Makes one call through the runtime API and records it.
    fn call(&self, breaker: &CircuitBreaker, act: Act) {
        match breaker.try_acquire() {
            Ok(permit) => self.settle(permit, act),
            Err(Error::CircuitOpen { .. }) => Seen::add(&self.rejected),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    /// Ends an admitted call as `act` says, and records it.
    fn settle(&self, permit: CircuitPermit<'_>, act: Act) {
        match act {
            Act::Succeed => permit.success(),
            Act::Slow => {
                thread::sleep(SLOW);
                permit.success();
                Seen::add(&self.surely_slow);
            }
            Act::Fail => permit.failure(),
            Act::Ignore => permit.ignore(),
            Act::Drop => drop(permit),
        }
        Seen::add(match act {
            Act::Succeed | Act::Slow => &self.succeeded,
            Act::Fail => &self.failed,
            Act::Ignore => &self.ignored,
            Act::Drop => &self.dropped,
        });
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(SeqCst)
    }

    /// (succeeded, failed, ignored, rejected)
    fn kinds(&self) -> (u64, u64, u64, u64) {
        (
            Seen::get(&self.succeeded),
            Seen::get(&self.failed),
            Seen::get(&self.ignored),
            Seen::get(&self.rejected),
        )
    }
}

/// A breaker's own events, counted by kind.
#[derive(Debug, Default)]
struct Events {
    successes: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
    ignored: AtomicU64,
    not_permitted: AtomicU64,
    failure_rate_exceeded: AtomicU64,
    resets: AtomicU64,
    transitions: Mutex<Vec<(CircuitState, CircuitState)>>,
}

impl Events {
    fn listen(breaker: &CircuitBreaker) -> Arc<Events> {
        let events = Arc::new(Events::default());
        let sink = events.clone();
        breaker.on_event(move |event| {
            let counter = match *event {
                CircuitBreakerEvent::Success { slow } | CircuitBreakerEvent::Failure { slow } => {
                    if slow {
                        Seen::add(&sink.slow);
                    }
                    match event {
                        CircuitBreakerEvent::Success { .. } => &sink.successes,
                        _ => &sink.failures,
                    }
                }
                CircuitBreakerEvent::IgnoredError => &sink.ignored,
                CircuitBreakerEvent::NotPermitted => &sink.not_permitted,
                CircuitBreakerEvent::FailureRateExceeded { .. } => &sink.failure_rate_exceeded,
                CircuitBreakerEvent::Reset => &sink.resets,
                CircuitBreakerEvent::StateTransition { from, to } => {
                    sink.transitions.lock().unwrap().push((from, to));
                    return;
                }
                _ => return,
            };
            Seen::add(counter);
        });
        events
    }

    /// (successes, failures, ignored, not permitted)
    fn kinds(&self) -> (u64, u64, u64, u64) {
        (
            Seen::get(&self.successes),
            Seen::get(&self.failures),
            Seen::get(&self.ignored),
            Seen::get(&self.not_permitted),
        )
    }

    fn count(&self, from: CircuitState, to: CircuitState) -> usize {
        let transitions = self.transitions.lock().unwrap();
        transitions.iter().filter(|t| **t == (from, to)).count()
    }
}

const THREADS: u64 = 4;
const TASKS: u64 = 8;
const CALLS_PER_CALLER: u64 = 400;
const CALLS: u64 = (THREADS + TASKS) * CALLS_PER_CALLER;

/// Calls through `breaker` from `THREADS` threads (alternating the runtime API
/// and the sync annotated function `sync`) and `TASKS` tasks (the async
/// annotated function `run`, whose `Drop` calls are polled once and dropped),
/// each making `CALLS_PER_CALLER` calls with a fixed mix of outcomes.
async fn hammer<F>(
    breaker: &Arc<CircuitBreaker>,
    sync: fn(Act) -> Result<(), AppError>,
    run: fn(Act) -> F,
) -> Arc<Seen>
where
    F: Future<Output = Result<(), AppError>> + Send + 'static,
{
    let seen = Arc::new(Seen::default());
    let start = Arc::new(Barrier::new(THREADS as usize));
    let threads: Vec<_> = (0..THREADS)
        .map(|caller| {
            let (breaker, seen, start) = (breaker.clone(), seen.clone(), start.clone());
            thread::spawn(move || {
                let mut rng = Rng(caller);
                start.wait();
                for i in 0..CALLS_PER_CALLER {
                    let act = Act::draw(&mut rng);
                    let rejected = Seen::get(&seen.rejected);
                    if i % 2 == 0 || act == Act::Drop {
                        seen.call(&breaker, act);
                    } else {
                        seen.result(act, sync(act));
                    }
                    if Seen::get(&seen.rejected) != rejected {
                        // Refused: come back a little later, as a client would.
                        thread::sleep(Duration::from_micros(200));
                    }
                }
            })
        })
        .collect();
    let tasks: Vec<_> = (0..TASKS)
        .map(|caller| {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut rng = Rng(1_000 + caller);
                for _ in 0..CALLS_PER_CALLER {
                    let act = Act::draw(&mut rng);
                    let result = if act == Act::Drop {
                        match poll_once(run(act)) {
                            Poll::Pending => {
                                Seen::add(&seen.dropped);
                                continue;
                            }
                            Poll::Ready(result) => result,
                        }
                    } else {
                        run(act).await
                    };
                    let refused = matches!(result, Err(AppError::Resilience(_)));
                    seen.result(act, result);
                    if refused {
                        tokio::time::sleep(Duration::from_micros(200)).await;
                    } else if rng.below(4) == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let (succeeded, failed, ignored, rejected) = seen.kinds();
    assert_eq!(
        succeeded + failed + ignored + rejected + Seen::get(&seen.dropped),
        CALLS,
        "every call is seen once"
    );
    seen
}

/// Every outcome kind happened, so that no equality below holds vacuously.
fn assert_every_kind_happened(seen: &Seen) {
    let (succeeded, failed, ignored, _) = seen.kinds();
    let (dropped, slow) = (Seen::get(&seen.dropped), Seen::get(&seen.surely_slow));
    assert!(
        succeeded > 0 && failed > 0 && ignored > 0 && dropped > 0 && slow > 0,
        "{seen:?}"
    );
}

// A count window larger than every call made: rates are never judged (the
// window is never full), so the circuit never opens and every counted call
// stays in the window.
const BIG_WINDOW: u32 = 8_192;
const _: () = assert!(CALLS < BIG_WINDOW as u64);

#[circuit_breaker(
    name = "bs-count",
    failure_rate_threshold = 0.5,
    window_size = 8_192,
    slow_call_duration = "1ms",
    on = AppError::is_transient
)]
fn count_sync(act: Act) -> Result<(), AppError> {
    act.run_sync()
}

#[circuit_breaker(
    name = "bs-count",
    failure_rate_threshold = 0.5,
    window_size = 8_192,
    slow_call_duration = "1ms",
    on = AppError::is_transient
)]
async fn count_async(act: Act) -> Result<(), AppError> {
    act.run().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_counted_once_and_a_count_window_holds_every_counted_call() {
    let config = CircuitBreakerConfig::default()
        .failure_rate_threshold(0.5)
        .window_size(BIG_WINDOW)
        .slow_call_duration(SLOW_LIMIT);
    registry()
        .configure_circuit_breaker("bs-count", config)
        .unwrap();
    let breaker = registry().circuit_breaker("bs-count");
    let events = Events::listen(&breaker);

    let seen = hammer(&breaker, count_sync, count_async).await;
    assert_every_kind_happened(&seen);

    let m = breaker.metrics();
    assert_eq!(m.state, CircuitState::Closed);
    assert_counted_once_and_windowed(&m, &seen, &events);
    assert_eq!(m.failure_rate, None, "judged only once the window is full");
}

/// Every call the breaker decided on is counted once, in the counters and in
/// the events, with no transition; the window holds every success and
/// failure, and none of the ignored or dropped calls.
fn assert_counted_once_and_windowed(m: &CircuitBreakerMetrics, seen: &Seen, events: &Events) {
    let (succeeded, failed, ignored, rejected) = seen.kinds();
    assert_eq!(
        (
            m.successful_calls,
            m.failed_calls,
            m.ignored_calls,
            m.not_permitted_calls
        ),
        (succeeded, failed, ignored, rejected)
    );
    assert_eq!(rejected, 0);
    assert_eq!(events.kinds(), (succeeded, failed, ignored, rejected));
    assert_eq!(u64::from(m.window_calls), succeeded + failed);
    assert_eq!(u64::from(m.window_failed_calls), failed);
    assert_eq!(u64::from(m.window_successful_calls), succeeded);
    assert_eq!(u64::from(m.window_slow_calls), m.slow_calls);
    assert_eq!(Seen::get(&events.slow), m.slow_calls);
    assert!(m.slow_calls >= Seen::get(&seen.surely_slow));
    assert!(m.slow_calls <= succeeded + failed);
    assert!(events.transitions.lock().unwrap().is_empty());
}

#[circuit_breaker(
    name = "bs-time",
    failure_rate_threshold = 0.3,
    window_duration = "1h",
    minimum_calls = 10,
    slow_call_duration = "1ms",
    on = AppError::is_transient
)]
fn time_sync(act: Act) -> Result<(), AppError> {
    act.run_sync()
}

#[circuit_breaker(
    name = "bs-time",
    failure_rate_threshold = 0.3,
    window_duration = "1h",
    minimum_calls = 10,
    slow_call_duration = "1ms",
    on = AppError::is_transient
)]
async fn time_async(act: Act) -> Result<(), AppError> {
    act.run().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_counted_once_and_a_time_window_in_metrics_only_mode_holds_them_all() {
    // An hour-long window: nothing expires during the test. A 25% failure
    // share against a 0.3 threshold: the rate is exceeded from time to time,
    // which METRICS_ONLY reports but never acts on.
    let config = CircuitBreakerConfig::default()
        .failure_rate_threshold(0.3)
        .window_duration(Duration::from_secs(3_600))
        .minimum_calls(10)
        .slow_call_duration(SLOW_LIMIT);
    registry()
        .configure_circuit_breaker("bs-time", config)
        .unwrap();
    let breaker = registry().circuit_breaker("bs-time");
    breaker.metrics_only();
    let events = Events::listen(&breaker);

    let seen = hammer(&breaker, time_sync, time_async).await;
    assert_every_kind_happened(&seen);

    let m = breaker.metrics();
    assert_eq!(m.state, CircuitState::MetricsOnly);
    assert_counted_once_and_windowed(&m, &seen, &events);
    let (succeeded, failed, _, _) = seen.kinds();
    assert_eq!(
        m.failure_rate,
        Some(failed as f64 / (succeeded + failed) as f64)
    );
    assert!(
        Seen::get(&events.failure_rate_exceeded) > 0,
        "the rate was never exceeded, so nothing was tested"
    );
}

#[circuit_breaker(
    name = "bs-rounds",
    failure_threshold = 3,
    recovery_timeout = "1ms",
    half_open_max_calls = 2,
    on = AppError::is_transient
)]
fn rounds_sync(act: Act) -> Result<(), AppError> {
    act.run_sync()
}

#[circuit_breaker(
    name = "bs-rounds",
    failure_threshold = 3,
    recovery_timeout = "1ms",
    half_open_max_calls = 2,
    on = AppError::is_transient
)]
async fn rounds_async(act: Act) -> Result<(), AppError> {
    act.run().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_counted_once_while_the_circuit_opens_probes_and_closes() {
    let config = CircuitBreakerConfig::default()
        .failure_threshold(3)
        .recovery_timeout(Duration::from_millis(1))
        .half_open_max_calls(2);
    registry()
        .configure_circuit_breaker("bs-rounds", config)
        .unwrap();
    let breaker = registry().circuit_breaker("bs-rounds");
    let events = Events::listen(&breaker);

    let seen = hammer(&breaker, rounds_sync, rounds_async).await;
    assert_every_kind_happened(&seen);

    // Outcomes that arrive after the state they ran in has ended change no
    // state, but every outcome is counted, once.
    let (succeeded, failed, ignored, rejected) = seen.kinds();
    let m = breaker.metrics();
    assert_eq!(
        (
            m.successful_calls,
            m.failed_calls,
            m.ignored_calls,
            m.not_permitted_calls
        ),
        (succeeded, failed, ignored, rejected)
    );
    assert_eq!(events.kinds(), (succeeded, failed, ignored, rejected));
    assert!(rejected > 0, "the circuit never refused a call");
    use CircuitState::*;
    assert!(events.count(Closed, Open) > 0);
    assert!(events.count(Open, HalfOpen) > 0);
    assert!(events.count(HalfOpen, Closed) + events.count(HalfOpen, Open) > 0);
}

/// Waits, sleeping a little at a time, for at most 2 s, until `condition` holds.
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < Duration::from_secs(2), "never {what}");
        thread::sleep(Duration::from_micros(100));
    }
}

static PROBES_INSIDE: AtomicU32 = AtomicU32::new(0);
static MOST_PROBES_INSIDE: AtomicU32 = AtomicU32::new(0);

/// Counts an admitted call as inside while it lives.
struct Inside;

impl Inside {
    fn enter() -> Inside {
        let now = PROBES_INSIDE.fetch_add(1, SeqCst) + 1;
        MOST_PROBES_INSIDE.fetch_max(now, SeqCst);
        Inside
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        PROBES_INSIDE.fetch_sub(1, SeqCst);
    }
}

/// A probe that holds its slot a while, then ends with an error `on` turns
/// down: ignored, it frees its slot and leaves the circuit HALF_OPEN.
#[circuit_breaker(
    name = "bs-probes",
    failure_threshold = 1,
    recovery_timeout = "1ms",
    half_open_max_calls = 3,
    recovery_backoff = 2.0,
    max_recovery_timeout = "4ms",
    on = AppError::is_transient
)]
async fn held_probe() -> Result<(), AppError> {
    let _inside = Inside::enter();
    tokio::time::sleep(Duration::from_micros(300)).await;
    Err(AppError::Permanent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_never_admits_more_than_max_calls_probes_at_once() {
    const ROUNDS: usize = 24;
    const PROBES: u32 = 3;
    let config = CircuitBreakerConfig::default()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_millis(1))
        .half_open_max_calls(PROBES)
        .recovery_backoff(2.0)
        .max_recovery_timeout(Duration::from_millis(4));
    registry()
        .configure_circuit_breaker("bs-probes", config)
        .unwrap();
    let breaker = registry().circuit_breaker("bs-probes");
    let events = Events::listen(&breaker);
    let mut expected = Vec::new();
    let mut admitted_in_all = 0;

    for round in 0..ROUNDS {
        use CircuitState::*;
        if breaker.state() == Closed {
            breaker.try_acquire().unwrap().failure();
            expected.push((Closed, Open));
        }
        wait_until("half-open", || breaker.state() == HalfOpen);
        expected.push((Open, HalfOpen));

        // Many callers at once, every admitted one holding its slot a while
        // and then freeing it without an outcome (ignored or dropped), so
        // that the circuit stays HALF_OPEN for the whole round.
        let admitted = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4u64)
            .map(|caller| {
                let (breaker, admitted) = (breaker.clone(), admitted.clone());
                thread::spawn(move || {
                    let mut rng = Rng(round as u64 * 100 + caller);
                    for _ in 0..60 {
                        match breaker.try_acquire() {
                            Ok(permit) => {
                                admitted.fetch_add(1, SeqCst);
                                let inside = Inside::enter();
                                thread::sleep(Duration::from_micros(rng.below(200)));
                                drop(inside);
                                if rng.below(2) == 0 {
                                    permit.ignore();
                                } else {
                                    drop(permit);
                                }
                            }
                            Err(Error::CircuitOpen { retry_after, .. }) => {
                                assert_eq!(retry_after, None, "refused as OPEN mid-round");
                                thread::yield_now();
                            }
                            Err(other) => panic!("unexpected {other:?}"),
                        }
                    }
                })
            })
            .collect();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let admitted = admitted.clone();
                tokio::spawn(async move {
                    for _ in 0..8 {
                        match held_probe().await {
                            Err(AppError::Permanent) => drop(admitted.fetch_add(1, SeqCst)),
                            Err(AppError::Resilience(Error::CircuitOpen {
                                retry_after: None,
                                ..
                            })) => tokio::task::yield_now().await,
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        for thread in threads {
            thread.join().unwrap();
        }
        let admitted = admitted.load(SeqCst);
        assert!(
            admitted >= u64::from(PROBES),
            "round {round}: {admitted} probes"
        );
        admitted_in_all += admitted;
        assert_eq!(breaker.state(), HalfOpen, "round {round}");

        // No slot was lost: exactly PROBES are free.
        let probes: Vec<_> = (0..PROBES)
            .map(|_| breaker.try_acquire().unwrap())
            .collect();
        assert!(matches!(
            breaker.try_acquire(),
            Err(Error::CircuitOpen {
                retry_after: None,
                ..
            })
        ));
        // End the round from as many threads: all succeed and close it, or
        // one fails and reopens it, whatever the order.
        let fail = round % 2 == 1;
        thread::scope(|scope| {
            for (i, probe) in probes.into_iter().enumerate() {
                scope.spawn(move || probe.record(!(fail && i == 0)));
            }
        });
        expected.push((HalfOpen, if fail { Open } else { Closed }));
    }
    let most = MOST_PROBES_INSIDE.load(SeqCst);
    assert_eq!(most, PROBES, "{most} probes inside at once");
    assert!(admitted_in_all > ROUNDS as u64 * u64::from(PROBES));
    assert_eq!(*events.transitions.lock().unwrap(), expected);
}

/// Half the time fails, after a short wait at which it may be cancelled.
#[circuit_breaker(
    name = "bs-storm",
    failure_threshold = 2,
    recovery_timeout = "1ms",
    half_open_max_calls = 2,
    on = AppError::is_transient
)]
async fn storm(i: u64) -> Result<(), AppError> {
    if i == 0 {
        return Ok(());
    }
    tokio::time::sleep(Duration::from_micros(i * 37 % 900)).await;
    match i % 8 {
        0..4 => Ok(()),
        4 => Err(AppError::Permanent),
        _ => Err(AppError::Transient),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_dropped_calls_never_leaves_the_circuit_stuck_half_open() {
    let config = CircuitBreakerConfig::default()
        .failure_threshold(2)
        .recovery_timeout(Duration::from_millis(1))
        .half_open_max_calls(2);
    registry()
        .configure_circuit_breaker("bs-storm", config)
        .unwrap();
    let breaker = registry().circuit_breaker("bs-storm");
    let events = Events::listen(&breaker);
    let seen = Arc::new(Seen::default());
    let mut unknown = 0;
    // Calls polled once and dropped while the circuit was half-open: most of
    // them probes (the state is read after the drop, so not all).
    let dropped_half_open = Arc::new(AtomicU64::new(0));

    for round in 0..5u64 {
        // Callers spread over 15 ms, most cut short: by a timeout (at the
        // call's first await or later), by being polled once, by an abort of
        // their task at any point; and threads dropping their permits.
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..2u64)
            .map(|caller| {
                let (breaker, seen, stop) = (breaker.clone(), seen.clone(), stop.clone());
                thread::spawn(move || {
                    let mut rng = Rng(round * 10 + caller);
                    while !stop.load(SeqCst) {
                        let act = if rng.below(3) == 0 {
                            Act::Fail
                        } else {
                            Act::Drop
                        };
                        seen.call(&breaker, act);
                        thread::sleep(Duration::from_micros(rng.below(300)));
                    }
                })
            })
            .collect();
        let mut rng = Rng(round);
        let tasks: Vec<_> = (1..=600u64)
            .map(|n| {
                let i = round * 1_000 + n;
                let (start, limit) = (rng.below(15_000), rng.below(1_200));
                let how = rng.below(4);
                let (breaker, seen) = (breaker.clone(), seen.clone());
                let dropped_half_open = dropped_half_open.clone();
                let task = tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_micros(start)).await;
                    match how {
                        0 => match poll_once(storm(i)) {
                            Poll::Pending => {
                                Seen::add(&seen.dropped);
                                if breaker.state() == CircuitState::HalfOpen {
                                    Seen::add(&dropped_half_open);
                                }
                            }
                            Poll::Ready(result) => seen.result(Act::Succeed, result),
                        },
                        _ => match tokio::time::timeout(Duration::from_micros(limit), storm(i))
                            .await
                        {
                            Ok(result) => seen.result(Act::Succeed, result),
                            Err(_elapsed) => Seen::add(&seen.dropped),
                        },
                    }
                });
                (task, how == 3, rng.below(16_000))
            })
            .collect();
        let (mut aborted, mut awaited): (Vec<_>, Vec<_>) =
            tasks.into_iter().partition(|(_, abort, _)| *abort);
        aborted.sort_by_key(|(_, _, at)| *at);
        let start = tokio::time::Instant::now();
        for (task, _, at) in &aborted {
            tokio::time::sleep_until(start + Duration::from_micros(*at)).await;
            task.abort();
        }
        for (task, _, _) in aborted.into_iter().chain(awaited.drain(..)) {
            match task.await {
                Ok(()) => {}
                Err(error) if error.is_cancelled() => unknown += 1,
                Err(error) => panic!("{error}"),
            }
        }
        stop.store(true, SeqCst);
        for thread in threads {
            thread.join().unwrap();
        }

        // The storm is over and the dependency is healthy: once the open time
        // has passed, the probes get in, and close the circuit.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match breaker.state() {
                CircuitState::Closed => break,
                CircuitState::HalfOpen => {
                    storm(0).await.unwrap_or_else(|error| {
                        panic!("round {round}: a probe slot was never freed: {error:?}")
                    });
                    Seen::add(&seen.succeeded);
                }
                state => {
                    assert!(
                        Instant::now() < deadline,
                        "round {round}: still {state}, {:?}",
                        breaker.try_acquire().err()
                    );
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }

    use CircuitState::*;
    assert!(Seen::get(&seen.dropped) > 0);
    assert!(
        Seen::get(&dropped_half_open) > 0,
        "no call was dropped half-open"
    );
    assert!(
        events.count(Open, HalfOpen) >= 3,
        "the storm never made it probe"
    );
    // Dropped calls recorded nothing; the aborted ones, whose fate is unknown,
    // recorded at most one outcome each.
    let m = breaker.metrics();
    let (succeeded, failed, ignored, rejected) = seen.kinds();
    for (name, counted, seen) in [
        ("successes", m.successful_calls, succeeded),
        ("failures", m.failed_calls, failed),
        ("ignored", m.ignored_calls, ignored),
        ("rejections", m.not_permitted_calls, rejected),
    ] {
        assert!(
            (seen..=seen + unknown).contains(&counted),
            "{name}: {counted} counted, {seen} seen, {unknown} aborted"
        );
    }
    assert!(
        m.successful_calls + m.failed_calls + m.ignored_calls + m.not_permitted_calls
            <= succeeded + failed + ignored + rejected + unknown
    );
}

/// Fails as `act` says, unless `calm` is set by the time the breaker has let
/// it through.
#[circuit_breaker(name = "bs-manual", on = AppError::is_transient)]
fn manual_call(act: Act, calm: &AtomicBool) -> Result<(), AppError> {
    if act == Act::Fail && calm.load(SeqCst) {
        return Ok(());
    }
    act.run_sync()
}

/// A manual state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Manual {
    ForceOpen,
    MetricsOnly,
    Disable,
    Reset,
}

impl Manual {
    const ALL: [Manual; 4] = [
        Manual::Reset,
        Manual::ForceOpen,
        Manual::Disable,
        Manual::MetricsOnly,
    ];

    fn apply(self, breaker: &CircuitBreaker) {
        match self {
            Manual::ForceOpen => breaker.force_open(),
            Manual::MetricsOnly => breaker.metrics_only(),
            Manual::Disable => breaker.disable(),
            Manual::Reset => breaker.reset(),
        }
    }

    fn state(self) -> CircuitState {
        match self {
            Manual::ForceOpen => CircuitState::ForcedOpen,
            Manual::MetricsOnly => CircuitState::MetricsOnly,
            Manual::Disable => CircuitState::Disabled,
            Manual::Reset => CircuitState::Closed,
        }
    }
}

#[test]
fn manual_state_changes_racing_callers_end_in_the_state_last_set() {
    // Any failure in CLOSED opens it, and it probes again 1 ms later: callers
    // alone keep it moving through every automatic state.
    let config = CircuitBreakerConfig::default()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_millis(1))
        .half_open_max_calls(2)
        .window_size(20)
        .slow_call_duration(Duration::from_secs(60));
    registry()
        .configure_circuit_breaker("bs-manual", config)
        .unwrap();
    let breaker = registry().circuit_breaker("bs-manual");
    let events = Events::listen(&breaker);
    let mut resets = 0;

    for (round, last) in Manual::ALL.into_iter().enumerate() {
        let seen = Arc::new(Seen::default());
        // Set before the last change when that is a reset: from then on
        // callers only succeed, so that only a late failure (of a call
        // admitted before the reset) could open the circuit again.
        let calm = Arc::new(AtomicBool::new(false));
        let last_set = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let checked = Arc::new(AtomicU64::new(0));
        let callers: Vec<_> = (0..4u64)
            .map(|caller| {
                let (breaker, seen) = (breaker.clone(), seen.clone());
                let (calm, last_set, stop) = (calm.clone(), last_set.clone(), stop.clone());
                let checked = checked.clone();
                thread::spawn(move || {
                    let mut rng = Rng(round as u64 * 10 + caller);
                    while !stop.load(SeqCst) {
                        let after_last = last_set.load(SeqCst);
                        match breaker.try_acquire() {
                            Ok(permit) => {
                                if after_last {
                                    assert_ne!(
                                        last,
                                        Manual::ForceOpen,
                                        "admitted while forced open"
                                    );
                                    checked.fetch_add(1, SeqCst);
                                }
                                // Read after acquiring: a permit that saw `calm`
                                // unset was issued before the reset.
                                let calm = calm.load(SeqCst);
                                for _ in 0..rng.below(200) {
                                    std::hint::spin_loop();
                                }
                                let act = match Act::draw(&mut rng) {
                                    Act::Fail if calm => Act::Succeed,
                                    Act::Slow => Act::Succeed,
                                    act => act,
                                };
                                seen.settle(permit, act);
                            }
                            Err(Error::CircuitOpen { retry_after, .. }) => {
                                if after_last {
                                    assert_eq!(last, Manual::ForceOpen, "refused after {last:?}");
                                    assert_eq!(retry_after, None);
                                    checked.fetch_add(1, SeqCst);
                                }
                                Seen::add(&seen.rejected);
                            }
                            Err(other) => panic!("unexpected {other:?}"),
                        }
                        if rng.below(8) == 0 {
                            let act = match Act::draw(&mut rng) {
                                Act::Slow | Act::Drop => Act::Fail,
                                act => act,
                            };
                            seen.result(act, manual_call(act, &calm));
                        }
                    }
                })
            })
            .collect();

        let mut rng = Rng(round as u64);
        for _ in 0..150 {
            let manual = Manual::ALL[rng.below(4) as usize];
            manual.apply(&breaker);
            resets += u64::from(manual == Manual::Reset);
            if rng.below(5) == 0 {
                // Long enough for the callers to open it and for it to probe.
                thread::sleep(Duration::from_micros(1_000 + rng.below(1_000)));
            } else {
                for _ in 0..rng.below(2_000) {
                    std::hint::spin_loop();
                }
            }
        }
        if last == Manual::Reset {
            calm.store(true, SeqCst);
        }
        last.apply(&breaker);
        resets += u64::from(last == Manual::Reset);
        last_set.store(true, SeqCst);
        thread::sleep(Duration::from_millis(10));
        stop.store(true, SeqCst);
        for caller in callers {
            caller.join().unwrap();
        }

        assert_eq!(breaker.state(), last.state(), "round {round}");
        assert!(
            Seen::get(&checked) > 0,
            "round {round}: no call after the last change"
        );
        let m = breaker.metrics();
        let (succeeded, failed, ignored, rejected) = seen.kinds();
        assert!(m.successful_calls <= succeeded, "{m:?} {seen:?}");
        assert!(m.failed_calls <= failed, "{m:?} {seen:?}");
        assert!(m.ignored_calls <= ignored, "{m:?} {seen:?}");
        assert!(m.not_permitted_calls <= rejected, "{m:?} {seen:?}");
        assert!(m.window_calls <= 20);
        assert_eq!(
            m.window_calls,
            m.window_failed_calls + m.window_successful_calls
        );
        assert!(m.window_slow_calls == 0 && m.slow_calls == 0);
    }
    assert_eq!(Seen::get(&events.resets), resets);
    use CircuitState::*;
    for state in [ForcedOpen, Disabled, MetricsOnly] {
        assert!(events.count(Closed, state) + events.count(Open, state) > 0);
    }
    assert!(events.count(Closed, Open) > 0, "callers never opened it");
    assert!(events.count(Open, HalfOpen) > 0, "it never probed");

    // Quiet now: a reset leaves a fresh breaker that counts exactly.
    breaker.reset();
    let m = breaker.metrics();
    assert_eq!(m.state, Closed);
    assert_eq!(
        (
            m.successful_calls,
            m.failed_calls,
            m.ignored_calls,
            m.not_permitted_calls,
            m.window_calls
        ),
        (0, 0, 0, 0, 0)
    );
    let seen = Seen::default();
    for act in [
        Act::Succeed,
        Act::Ignore,
        Act::Drop,
        Act::Succeed,
        Act::Fail,
    ] {
        seen.call(&breaker, act);
    }
    assert_eq!(
        events.transitions.lock().unwrap().last(),
        Some(&(Closed, Open))
    );
    breaker.force_open();
    seen.call(&breaker, Act::Succeed);
    let m = breaker.metrics();
    assert_eq!(m.state, ForcedOpen);
    assert_eq!(
        (
            m.successful_calls,
            m.failed_calls,
            m.ignored_calls,
            m.not_permitted_calls
        ),
        (2, 1, 1, 1)
    );
    assert_eq!((m.window_calls, m.window_failed_calls), (3, 1));
    breaker.metrics_only();
    assert_eq!(breaker.metrics().window_calls, 0, "a fresh window");
    breaker.disable();
    seen.call(&breaker, Act::Fail);
    assert_eq!(
        breaker.metrics().failed_calls,
        1,
        "DISABLED records nothing"
    );
}

/// Whether a quiet breaker (no call in flight) is stuck OPEN: OPEN with no
/// time left to wait, which only a lost deadline explains.
fn stuck_open(breaker: &CircuitBreaker) -> bool {
    breaker.state() == CircuitState::Open
        && matches!(
            breaker.try_acquire(),
            Err(Error::CircuitOpen {
                retry_after: None,
                ..
            })
        )
}

#[test]
fn a_circuit_reopened_while_turning_half_open_still_probes_again() {
    // Threads that only fail: the circuit cycles OPEN -> HALF_OPEN -> OPEN
    // as fast as it can. `Machine::current` swaps OPEN for HALF_OPEN, then
    // stores the HALF_OPEN deadline; if a probe is admitted and fails in
    // between, it reopens the circuit and stores the new OPEN deadline, which
    // the late HALF_OPEN store then overwrites with one tagged for an epoch
    // that has ended. The OPEN circuit never finds its deadline again: it
    // rejects every call with `retry_after: None`, forever.
    let config = CircuitBreakerConfig::default()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_micros(1));
    let breaker = CircuitBreaker::new("bs-bug-half-open", config).unwrap();
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                while !stop.load(SeqCst) {
                    if let Ok(permit) = breaker.try_acquire() {
                        permit.failure();
                    }
                }
            });
        }
        // Until no probe has failed for 50 ms (stuck), or 3 s.
        let start = Instant::now();
        let (mut last, mut since) = (u64::MAX, Instant::now());
        while start.elapsed() < Duration::from_secs(3)
            && since.elapsed() < Duration::from_millis(50)
        {
            thread::sleep(Duration::from_millis(1));
            let failed = breaker.metrics().failed_calls;
            if failed != last {
                (last, since) = (failed, Instant::now());
            }
        }
        stop.store(true, SeqCst);
    });
    thread::sleep(Duration::from_millis(5));
    assert!(!stuck_open(&breaker), "stuck OPEN: {:?}", breaker.metrics());
}

#[test]
fn a_circuit_reopened_after_a_reset_racing_its_opening_still_probes_again() {
    // `Machine::open` swaps CLOSED for OPEN, then stores the OPEN deadline. A
    // reset in between, then a failure that opens the circuit again and
    // stores its own deadline, and the first store, landing last, leaves the
    // new OPEN state a deadline tagged for an epoch that has ended.
    let config = CircuitBreakerConfig::default()
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(3_600));
    let breaker = CircuitBreaker::new("bs-bug-reset", config).unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..200 {
                        if let Ok(permit) = breaker.try_acquire() {
                            permit.failure();
                        }
                    }
                });
            }
            for _ in 0..200 {
                breaker.reset();
            }
        });
        // Quiet: an OPEN circuit has its hour to wait.
        assert!(
            !stuck_open(&breaker),
            "stuck OPEN after {:?}",
            start.elapsed()
        );
    }
}
