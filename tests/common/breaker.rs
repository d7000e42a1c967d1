//! Circuit-breaker helpers for the breaker_* tests. Include with
//! `#[path = "common/breaker.rs"] mod breaker;` next to `mod common;`.

#![allow(dead_code)]

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience_runtime::circuit_breaker::{
    CircuitBreakerEvent, CircuitBreakerMetrics, CircuitPermit,
};
use resilience_runtime::{CircuitBreaker, Error, ListenerId};

use crate::common::AppError;

/// The `retry_after` of the open-circuit rejection an annotated function returned.
pub fn open_circuit<T: Debug>(result: Result<T, AppError>) -> Option<Duration> {
    match result {
        Err(AppError::Resilience(Error::CircuitOpen { retry_after, .. })) => retry_after,
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
}

/// The `retry_after` of `try_acquire`'s open-circuit rejection.
pub fn refused(result: Result<CircuitPermit<'_>, Error>) -> Option<Duration> {
    match result {
        Err(Error::CircuitOpen { retry_after, .. }) => retry_after,
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
}

/// (successful, failed, slow, ignored, not permitted) calls.
pub fn counters(metrics: &CircuitBreakerMetrics) -> (u64, u64, u64, u64, u64) {
    (
        metrics.successful_calls,
        metrics.failed_calls,
        metrics.slow_calls,
        metrics.ignored_calls,
        metrics.not_permitted_calls,
    )
}

/// (calls, failed, successful, slow) in the window.
pub fn window(metrics: &CircuitBreakerMetrics) -> (u32, u32, u32, u32) {
    (
        metrics.window_calls,
        metrics.window_failed_calls,
        metrics.window_successful_calls,
        metrics.window_slow_calls,
    )
}

/// The events one breaker reported to a listener since the last `take`.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<CircuitBreakerEvent>>>);

impl Events {
    /// Starts recording `breaker`'s events.
    pub fn listen(breaker: &CircuitBreaker) -> (Events, ListenerId) {
        let events = Events::default();
        let sink = events.clone();
        let id = breaker.on_event(move |event| sink.0.lock().unwrap().push(*event));
        (events, id)
    }

    /// The events since the last call, oldest first.
    pub fn take(&self) -> Vec<CircuitBreakerEvent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}
