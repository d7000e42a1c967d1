//! What the policies report as they work: retries, state transitions,
//! rejections, timeouts and fallbacks; and the registry's configurations
//! and health alerts.
//!
//! Register a listener with [`Registry::on_event`](crate::Registry::on_event),
//! or on one policy instance (`on_event` of each policy, with its own event
//! type). An event of the success path costs two atomic loads while nobody
//! listens (the instance's listeners, the registry's; with the `tracing`
//! feature, one more for the subscriber's level), so permits are reported too.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::config::{ApplyReport, ConfigErrors, PolicyKind};
use crate::registry::Conflict;
use crate::retry::StopReason;
use crate::telemetry::{HealthReason, HealthStatus};
use crate::{CircuitState, Error, FallbackSource};

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
    /// A call under a retry succeeded; `attempts` is 1 without a retry.
    RetrySucceeded {
        /// The retry's name.
        name: &'a str,
        /// How many attempts were made, the successful one included.
        attempts: u32,
    },
    /// A call under a retry failed with an error it does not retry (its `on`
    /// refused it) before using up `max_attempts`.
    RetryNotRetried {
        /// The retry's name.
        name: &'a str,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A call under a retry failed and was not retried although attempts
    /// remained: a retry-after hint too long, `max_duration` reached, or its
    /// retry budget spent. The last error is returned.
    RetryStopped {
        /// The retry's name.
        name: &'a str,
        /// How many attempts were made.
        attempts: u32,
        /// Why the retries ended.
        reason: StopReason,
        /// The retry budget the retry draws on, if it names one.
        budget: Option<&'a str>,
    },
    /// A bulkhead gave a call a slot.
    BulkheadPermitted {
        /// The bulkhead's name.
        name: &'a str,
    },
    /// A call left its bulkhead slot, however it ended.
    BulkheadFinished {
        /// The bulkhead's name.
        name: &'a str,
    },
    /// A rate limiter let a call through, after `waited` (zero when a token was there).
    RateLimiterPermitted {
        /// The rate limiter's name.
        name: &'a str,
        /// How long the call waited for its token.
        waited: Duration,
    },
    /// A call under a time limiter ended in time, `ok` or with an error.
    TimeLimiterFinished {
        /// The time limiter's name.
        name: &'a str,
        /// Whether the call returned `Ok`.
        ok: bool,
    },
    /// A hedge started a copy of a call that had not answered after `delay`.
    HedgeStarted {
        /// The hedge's name.
        name: &'a str,
        /// The copy, counting the hedged ones from 1.
        attempt: u32,
        /// The delay in force.
        delay: Duration,
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
        /// What answered: the cache, the `method` or the `value`.
        source: FallbackSource,
    },
    /// A policy with `store = "redis"` lost its store (no answer within its
    /// timeout, or an error) and decides on its own until it answers again;
    /// reported once per outage.
    StoreUnavailable {
        /// The policy's name.
        name: &'a str,
        /// What went wrong, as the first failed request saw it.
        error: &'a str,
    },
    /// A policy's store answers again, after [`StoreUnavailable`](Event::StoreUnavailable).
    StoreRecovered {
        /// The policy's name.
        name: &'a str,
    },
    /// Two call sites configure one named instance differently; the first one's
    /// configuration is in use.
    ConfigConflict(&'a Conflict),
    /// A configuration was applied, by [`Registry::apply`](crate::Registry::apply)
    /// or a file watcher.
    ConfigApplied(&'a ApplyReport),
    /// A configuration was refused, and nothing changed.
    ConfigRejected(&'a ConfigErrors),
    /// [`Registry::health`](crate::Registry::health) found an instance's
    /// status or reasons changed since its previous evaluation: an alert
    /// started (`to` worse than `from`), cleared (`to` better), or its
    /// reasons changed (`to == from`).
    HealthChanged {
        /// The kind of policy.
        kind: PolicyKind,
        /// The instance's name.
        name: &'a str,
        /// Its status at the previous evaluation.
        from: HealthStatus,
        /// Its status now.
        to: HealthStatus,
        /// Its reasons now; empty when it is healthy again.
        reasons: &'a [HealthReason],
    },
}

/// Identifies a registered listener, to remove it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

type Registered<F> = Vec<(ListenerId, Arc<F>)>;

/// Listeners, copied on write: notifying clones one `Arc` and calls every
/// listener with no lock held, so a listener may register or remove
/// listeners, or call back into the policy that notified it.
// `any`, read by every call, leads.
#[repr(C)]
pub(crate) struct Listeners<F: ?Sized> {
    any: AtomicBool,
    list: RwLock<Option<Arc<Registered<F>>>>,
}

impl<F: ?Sized> Listeners<F> {
    pub(crate) const fn new() -> Self {
        Listeners {
            any: AtomicBool::new(false),
            list: RwLock::new(None),
        }
    }

    pub(crate) fn add(&self, listener: Arc<F>) -> ListenerId {
        let id = ListenerId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
        self.change(|list| list.push((id, listener)));
        id
    }

    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        let mut found = false;
        self.change(|list| {
            let before = list.len();
            list.retain(|(listener, _)| *listener != id);
            found = list.len() != before;
        });
        found
    }

    /// Whether anyone listens; one atomic load, so that nobody pays for events
    /// while nobody listens.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Whether a routine event of the success path would reach anyone: these
    /// listeners, the registry's, or a `tracing` subscriber that wants DEBUG.
    /// The policies check this before building the event, out of line.
    #[inline]
    pub(crate) fn routine_wanted(&self) -> bool {
        self.any() || routine_wanted()
    }

    #[inline]
    pub(crate) fn notify(&self, call: impl FnMut(&F)) {
        if self.any() {
            self.notify_all(call);
        }
    }

    // Out of line, so that a caller with no listener keeps what it reports in
    // registers instead of spilling it for the call.
    #[cold]
    #[inline(never)]
    fn notify_all(&self, mut call: impl FnMut(&F)) {
        let list = self
            .list
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for (_, listener) in list.iter().flat_map(|list| list.iter()) {
            call(listener);
        }
    }

    fn change(&self, edit: impl FnOnce(&mut Registered<F>)) {
        let mut guard = self.list.write().unwrap_or_else(PoisonError::into_inner);
        let mut list = guard.as_deref().cloned().unwrap_or_default();
        edit(&mut list);
        self.any.store(!list.is_empty(), Ordering::Release);
        *guard = Some(Arc::new(list));
    }
}

impl<F: ?Sized> std::fmt::Debug for Listeners<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self
            .list
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, |list| list.len());
        f.debug_struct("Listeners").field("count", &count).finish()
    }
}

pub(crate) type Listener = dyn Fn(&Event<'_>) + Send + Sync;

static LISTENERS: Listeners<Listener> = Listeners::new();

pub(crate) fn subscribe(listener: Arc<Listener>) -> ListenerId {
    LISTENERS.add(listener)
}

pub(crate) fn unsubscribe(id: ListenerId) -> bool {
    LISTENERS.remove(id)
}

/// Whether a routine event, one of the success path that `tracing` sees at
/// DEBUG, would reach a registry listener or, with the `tracing` feature, a
/// subscriber.
#[inline]
pub(crate) fn routine_wanted() -> bool {
    #[cfg(feature = "tracing")]
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        return true;
    }
    LISTENERS.any()
}

/// Reports `event` to every registry listener.
#[inline]
pub(crate) fn emit(event: Event<'_>) {
    #[cfg(feature = "tracing")]
    crate::telemetry::tracing::record(&event);
    LISTENERS.notify(|listener| listener(&event));
}
