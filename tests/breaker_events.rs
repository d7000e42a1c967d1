//! What a breaker's own listeners (`CircuitBreaker::on_event`) see, and when;
//! removing one; listeners calling back into the breaker; and what the
//! registry's listeners still see. On tokio's paused clock, through the
//! attribute and the runtime API.

#[path = "common/breaker.rs"]
mod breaker;
mod common;

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use breaker::{open_circuit, refused, Events};
use common::{AppError, Recorder};
use resilience_runtime::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerEvent};
use resilience_runtime::{circuit_breaker, registry, CircuitBreaker, CircuitState, Event};
use tokio::time::{advance, sleep};

use CircuitBreakerEvent::{
    Failure, FailureRateExceeded, IgnoredError, NotPermitted, Reset, SlowCallRateExceeded,
    StateTransition, Success,
};
use CircuitState::{Closed, ForcedOpen, HalfOpen, Open};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn transition(from: CircuitState, to: CircuitState) -> CircuitBreakerEvent {
    StateTransition { from, to }
}

/// Runs `test` on its own thread and fails, instead of hanging, if it does
/// not finish in time.
fn without_deadlock(test: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        test();
        done.send(()).unwrap();
    });
    match finished.recv_timeout(secs(10)) {
        Ok(()) => thread.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("deadlocked"),
    }
}

#[tokio::test(start_paused = true)]
async fn runtime_a_listener_sees_each_event_when_it_happens_with_its_payload() {
    let config = CircuitBreakerConfig::default()
        .failure_rate_threshold(0.5)
        .window_size(2)
        .slow_call_duration(secs(1))
        .slow_call_rate_threshold(0.5)
        .recovery_timeout(secs(10));
    let breaker = CircuitBreaker::new("be-each-api", config).unwrap();
    let (events, _) = Events::listen(&breaker);

    breaker.try_acquire().unwrap().success();
    assert_eq!(events.take(), [Success { slow: false }]);
    let slow = breaker.try_acquire().unwrap();
    advance(secs(2)).await;
    slow.failure();
    assert_eq!(
        events.take(),
        [
            Failure { slow: true },
            FailureRateExceeded { rate: 0.5 },
            SlowCallRateExceeded { rate: 0.5 },
            transition(Closed, Open),
        ]
    );
    assert!(breaker.try_acquire().is_err());
    assert_eq!(events.take(), [NotPermitted]);

    advance(secs(10)).await;
    assert_eq!(events.take(), [], "no timer: nothing until a read");
    assert_eq!(breaker.state(), HalfOpen);
    assert_eq!(events.take(), [transition(Open, HalfOpen)]);
    let probe = breaker.try_acquire().unwrap();
    assert_eq!(refused(breaker.try_acquire()), None);
    assert_eq!(events.take(), [NotPermitted]);
    probe.ignore();
    assert_eq!(events.take(), [IgnoredError]);
    drop(breaker.try_acquire().unwrap());
    assert_eq!(events.take(), [], "a dropped permit reports nothing");
    breaker.try_acquire().unwrap().failure();
    assert_eq!(
        events.take(),
        [Failure { slow: false }, transition(HalfOpen, Open)]
    );

    advance(secs(10)).await;
    let slow_probe = breaker.try_acquire().unwrap();
    assert_eq!(events.take(), [transition(Open, HalfOpen)]);
    advance(secs(2)).await;
    slow_probe.success();
    assert_eq!(
        events.take(),
        [Success { slow: true }, transition(HalfOpen, Closed)]
    );

    breaker.force_open();
    assert_eq!(events.take(), [transition(Closed, ForcedOpen)]);
    assert!(breaker.try_acquire().is_err());
    assert_eq!(events.take(), [NotPermitted]);
    breaker.reset();
    assert_eq!(events.take(), [transition(ForcedOpen, Closed), Reset]);
}

#[circuit_breaker(
    name = "be-each",
    failure_threshold = 2,
    recovery_timeout = "10s",
    slow_call_duration = "1s",
    on = AppError::is_transient
)]
async fn each(delay: Duration, error: Option<AppError>) -> Result<(), AppError> {
    sleep(delay).await;
    error.map_or(Ok(()), Err)
}

#[tokio::test(start_paused = true)]
async fn attribute_calls_report_their_outcome_slowness_and_rejection() {
    assert!(each(Duration::ZERO, None).await.is_ok());
    let breaker = registry().circuit_breaker("be-each");
    let (events, _) = Events::listen(&breaker);

    assert!(each(secs(2), None).await.is_ok());
    assert_eq!(events.take(), [Success { slow: true }]);
    assert!(each(secs(2), Some(AppError::Permanent)).await.is_err());
    assert_eq!(events.take(), [IgnoredError]);
    assert!(each(Duration::ZERO, Some(AppError::Transient))
        .await
        .is_err());
    assert!(each(secs(2), Some(AppError::Transient)).await.is_err());
    assert_eq!(
        events.take(),
        [
            Failure { slow: false },
            Failure { slow: true },
            transition(Closed, Open),
        ]
    );
    assert_eq!(
        open_circuit(each(Duration::ZERO, None).await),
        Some(secs(10))
    );
    assert_eq!(events.take(), [NotPermitted]);
}

#[test]
fn a_removed_listener_hears_nothing_more_and_the_others_still_do() {
    let breaker = CircuitBreaker::new("be-remove-api", CircuitBreakerConfig::default()).unwrap();
    let (kept, _) = Events::listen(&breaker);
    let (removed, id) = Events::listen(&breaker);
    breaker.try_acquire().unwrap().success();
    assert_eq!(removed.take(), [Success { slow: false }]);

    assert!(breaker.remove_listener(id));
    breaker.try_acquire().unwrap().failure();
    breaker.reset();
    assert_eq!(removed.take(), []);
    assert_eq!(
        kept.take(),
        [Success { slow: false }, Failure { slow: false }, Reset]
    );
    assert!(!breaker.remove_listener(id), "removed twice");
}

#[test]
fn runtime_a_listener_may_read_and_reset_the_breaker_that_is_notifying_it() {
    without_deadlock(|| {
        let recorder = Recorder::new(&["be-reentrant-api"]);
        let config = CircuitBreakerConfig::default().failure_threshold(1);
        let breaker = Arc::new(CircuitBreaker::new("be-reentrant-api", config).unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (handle, sink) = (Arc::downgrade(&breaker), seen.clone());
        breaker.on_event(move |event| {
            let breaker = handle.upgrade().unwrap();
            if *event == transition(Closed, Open) {
                let metrics = breaker.metrics();
                sink.lock()
                    .unwrap()
                    .push((breaker.state(), metrics.state, metrics.failed_calls));
                breaker.reset();
            }
        });

        breaker.try_acquire().unwrap().failure();
        assert_eq!(*seen.lock().unwrap(), [(Open, Open, 1)]);
        assert_eq!(breaker.state(), Closed);
        assert_eq!(breaker.metrics().failed_calls, 0);
        assert_eq!(
            recorder.lines(),
            [
                "be-reentrant-api CLOSED -> OPEN",
                "be-reentrant-api OPEN -> CLOSED",
            ]
        );
    });
}

#[circuit_breaker(name = "be-reentrant", failure_threshold = 1, recovery_timeout = "10s")]
fn reentrant(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

#[test]
fn attribute_a_listener_resetting_a_breaker_turning_half_open_lets_the_call_through() {
    without_deadlock(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            assert!(reentrant(true).is_err());
            let breaker = registry().circuit_breaker("be-reentrant");
            let seen = Arc::new(Mutex::new(Vec::new()));
            let sink = seen.clone();
            breaker.on_event(move |event| {
                // Looked up by name: the registry's lock is not held either.
                let breaker = registry().circuit_breaker("be-reentrant");
                if *event == transition(Open, HalfOpen) {
                    sink.lock()
                        .unwrap()
                        .push((breaker.state(), breaker.metrics().state));
                    breaker.reset();
                }
            });

            advance(secs(10)).await;
            assert!(reentrant(false).is_ok());
            assert_eq!(*seen.lock().unwrap(), [(HalfOpen, HalfOpen)]);
            let metrics = breaker.metrics();
            assert_eq!(metrics.state, Closed);
            // Counted in the reset breaker, as a call of its CLOSED state.
            assert_eq!((metrics.successful_calls, metrics.failed_calls), (1, 0));
        });
    });
}

#[circuit_breaker(name = "be-global", failure_threshold = 1, recovery_timeout = "10s")]
fn global(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_registry_still_sees_every_transition_and_every_rejection() {
    let recorder = Recorder::new(&["be-global"]);
    let retry_afters = Arc::new(Mutex::new(Vec::new()));
    let sink = retry_afters.clone();
    let id = registry().on_event(move |event| {
        if let Event::CallRejected { error } = event {
            if error.name() == "be-global" {
                sink.lock().unwrap().push(error.retry_after());
            }
        }
    });

    assert!(global(true).is_err());
    advance(secs(4)).await;
    assert!(global(false).is_err());
    let breaker = registry().circuit_breaker("be-global");
    breaker.force_open();
    assert!(global(false).is_err());
    breaker.disable();
    assert!(global(true).is_err());
    breaker.metrics_only();
    breaker.reset();
    registry().remove_listener(id);

    assert_eq!(*retry_afters.lock().unwrap(), [Some(secs(6)), None]);
    assert_eq!(
        recorder.lines(),
        [
            "be-global CLOSED -> OPEN",
            "rejected circuit breaker `be-global` is open",
            "be-global OPEN -> FORCED_OPEN",
            "rejected circuit breaker `be-global` is open",
            "be-global FORCED_OPEN -> DISABLED",
            "be-global DISABLED -> METRICS_ONLY",
            "be-global METRICS_ONLY -> CLOSED",
        ]
    );
}
