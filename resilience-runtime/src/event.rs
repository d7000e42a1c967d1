//! What the policies report as they work: retries, state transitions,
//! rejections, timeouts and fallbacks.
//!
//! Register a listener with [`Registry::on_event`](crate::Registry::on_event).
//! Nothing is reported on the success path, and emitting costs one relaxed
//! atomic load while no listener is registered.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::registry::Conflict;
use crate::{CircuitState, Error};

/// One thing a policy did. Borrowed: copy out what you keep.
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// An attempt failed and will be retried after `delay`.
    RetryScheduled {
        /// The retry's name.
        name: &'a str,
        /// The attempt that failed, counting from 1.
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// The last allowed attempt failed; its error is returned.
    RetriesExhausted {
        /// The retry's name.
        name: &'a str,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A circuit breaker changed state.
    StateTransition {
        /// The breaker's name.
        name: &'a str,
        /// The state it left.
        from: CircuitState,
        /// The state it entered.
        to: CircuitState,
    },
    /// A policy refused to run a call: an open circuit, a full bulkhead or an
    /// exhausted rate limiter.
    CallRejected {
        /// The rejection, naming the policy.
        error: &'a Error,
    },
    /// A call exceeded its time limit and was cancelled.
    TimedOut {
        /// The time limiter's name.
        name: &'a str,
        /// The limit.
        timeout: Duration,
    },
    /// A fallback replaced a failed call's result.
    FallbackUsed {
        /// The function whose fallback ran.
        name: &'a str,
        /// The policy rejection that triggered it, or `None` for the function's own error.
        rejection: Option<&'a Error>,
    },
    /// Two call sites configure one named instance differently; the first one's
    /// configuration is in use.
    ConfigConflict(&'a Conflict),
}

type Listener = Arc<dyn Fn(&Event<'_>) + Send + Sync>;
type Listeners = Vec<(ListenerId, Listener)>;

/// Identifies a listener registered with
/// [`Registry::on_event`](crate::Registry::on_event), to remove it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

static ANY_LISTENER: AtomicBool = AtomicBool::new(false);
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
// Copied on write, so that emitting clones one `Arc` and calls every listener
// with no lock held.
static LISTENERS: RwLock<Option<Arc<Listeners>>> = RwLock::new(None);

fn change(edit: impl FnOnce(&mut Listeners)) {
    let mut listeners = LISTENERS.write().unwrap_or_else(PoisonError::into_inner);
    let mut list = listeners.as_deref().cloned().unwrap_or_default();
    edit(&mut list);
    ANY_LISTENER.store(!list.is_empty(), Ordering::Release);
    *listeners = Some(Arc::new(list));
}

pub(crate) fn subscribe(listener: Listener) -> ListenerId {
    let id = ListenerId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    change(|list| list.push((id, listener)));
    id
}

pub(crate) fn unsubscribe(id: ListenerId) -> bool {
    let mut found = false;
    change(|list| {
        let before = list.len();
        list.retain(|(listener, _)| *listener != id);
        found = list.len() != before;
    });
    found
}

/// Reports `event` to every listener, each called outside the lock so that a
/// listener may itself register listeners or read any policy.
pub(crate) fn emit(event: Event<'_>) {
    if !ANY_LISTENER.load(Ordering::Acquire) {
        return;
    }
    let listeners = LISTENERS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for (_, listener) in listeners.iter().flat_map(|list| list.iter()) {
        listener(&event);
    }
}
