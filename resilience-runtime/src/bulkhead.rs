//! Bulkhead: a cap on concurrent calls, shared by sync and async callers.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::{check, ConfigError};
use crate::event::{emit, Event, Listeners};
use crate::keyed::{check_max_keys, DEFAULT_MAX_KEYS};
use crate::live::Live;
use crate::own_line::OwnLine;
use crate::stats::{Counter, PerThreadCounter};
use crate::{Error, ListenerId, Name};

/// A bulkhead's settings; the attribute's arguments, with the same defaults.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct BulkheadConfig {
    /// Calls allowed at once. Default 10.
    pub max_concurrent: usize,
    /// How long a caller waits for a free slot; zero rejects at once. Default zero.
    pub max_wait: Duration,
    /// With `key`: the most members the keyed family keeps, least recently
    /// used idle ones dropped first beyond it (see [`Family`](crate::keyed::Family)).
    /// Unused without a key. Default 10,000.
    pub max_keys: usize,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig {
            max_concurrent: 10,
            max_wait: Duration::ZERO,
            max_keys: DEFAULT_MAX_KEYS,
        }
    }
}

impl BulkheadConfig {
    /// Sets [`max_concurrent`](Self::max_concurrent).
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n;
        self
    }
    /// Sets [`max_wait`](Self::max_wait).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }
    /// Sets [`max_keys`](Self::max_keys).
    pub fn max_keys(mut self, n: usize) -> Self {
        self.max_keys = n;
        self
    }

    /// Checks every setting, naming the first one at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_max_keys(self.max_keys)?;
        check(self.max_concurrent >= 1, "max_concurrent", || {
            "must be at least 1".into()
        })
    }
}

/// A bulkhead: one atomic permit counter per instance. Async callers wait on a
/// tokio `Notify`, sync callers on a condition variable; both draw from the
/// same counter, and a permit is returned when it is dropped, so a panicking
/// body or a cancelled future gives its slot back.
///
/// [`reconfigure`](Self::reconfigure) resizes it while in use: the counter of
/// free slots moves by the difference at once, so it goes below zero when the
/// bulkhead shrinks under more running calls than the new limit; they finish
/// undisturbed, and new calls wait or are rejected until fewer than the new
/// limit run.
///
/// ```
/// use resilience_runtime::bulkhead::BulkheadConfig;
/// use resilience_runtime::Bulkhead;
///
/// let bulkhead = Bulkhead::new("db", BulkheadConfig::default().max_concurrent(1)).unwrap();
/// let permit = bulkhead.try_acquire().unwrap();
/// assert_eq!(bulkhead.available_slots(), 0);
/// assert!(bulkhead.try_acquire().is_err());
/// drop(permit);
/// assert_eq!(bulkhead.available_slots(), 1);
/// ```
#[derive(Debug)]
pub struct Bulkhead {
    /// Free slots; below zero after a shrink, by the calls running over the limit.
    available: OwnLine<AtomicIsize>,
    async_waiters: AtomicUsize,
    sync_waiters: AtomicUsize,
    notify: Notify,
    lock: Mutex<()>,
    freed: Condvar,
    name: Name,
    config: Live<BulkheadConfig>,
    permitted: PerThreadCounter,
    rejected: Counter,
    listeners: Listeners<EventListener>,
}

type EventListener = dyn Fn(&BulkheadEvent) + Send + Sync;

/// What one bulkhead reports to the listeners registered with
/// [`Bulkhead::on_event`]. Listeners run on the calling thread.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkheadEvent {
    /// A call got a slot.
    Permitted,
    /// A call found no slot within `max_wait`.
    Rejected,
    /// A call gave its slot back, however it ended (also on panic or cancellation).
    Finished,
}

/// A point-in-time copy of a bulkhead's gauges and counters.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkheadMetrics {
    /// Slots free now.
    pub available_concurrent_calls: usize,
    /// `max_concurrent` in force now.
    pub max_allowed_concurrent_calls: usize,
    /// Calls that got a slot, since creation.
    pub permitted_calls: u64,
    /// Calls refused for want of a slot.
    pub rejected_calls: u64,
}

impl Bulkhead {
    /// A bulkhead named `name` with all its slots free.
    pub fn new(name: impl Into<Name>, config: BulkheadConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Bulkhead {
            available: OwnLine(AtomicIsize::new(slots(config.max_concurrent))),
            async_waiters: AtomicUsize::new(0),
            sync_waiters: AtomicUsize::new(0),
            notify: Notify::new(),
            lock: Mutex::new(()),
            freed: Condvar::new(),
            name: name.into(),
            config: Live::new(config),
            permitted: PerThreadCounter::new(),
            rejected: Counter::default(),
            listeners: Listeners::new(),
        })
    }

    /// The bulkhead's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bulkhead's settings in force now.
    #[inline]
    pub fn config(&self) -> &BulkheadConfig {
        self.config.get()
    }

    /// The most calls allowed at once.
    pub fn max_concurrent(&self) -> usize {
        self.config().max_concurrent
    }

    /// Slots free right now; zero while more calls run than a shrink left room for.
    pub fn available_slots(&self) -> usize {
        usize::try_from(self.available.load(Ordering::Acquire)).unwrap_or(0)
    }

    /// Applies new settings while the bulkhead is in use. An invalid
    /// configuration is returned as the error and changes nothing.
    ///
    /// - Grown, it admits waiting callers (async and sync) at once.
    /// - Shrunk, the calls running finish undisturbed; new calls wait or are
    ///   rejected until fewer than the new `max_concurrent` run.
    /// - A new `max_wait` applies to the callers that start waiting from now.
    ///
    /// No slot is lost or made twice: once every call has finished,
    /// [`available_slots`](Self::available_slots) equals
    /// [`max_concurrent`](Self::max_concurrent).
    ///
    /// ```
    /// use resilience_runtime::bulkhead::BulkheadConfig;
    /// use resilience_runtime::Bulkhead;
    ///
    /// let bulkhead = Bulkhead::new("db", BulkheadConfig::default().max_concurrent(2)).unwrap();
    /// let first = bulkhead.try_acquire().unwrap();
    /// let second = bulkhead.try_acquire().unwrap();
    ///
    /// // Shrunk under two running calls: both go on, a third is refused.
    /// bulkhead.reconfigure(BulkheadConfig::default().max_concurrent(1)).unwrap();
    /// assert!(bulkhead.try_acquire().is_err());
    /// drop(first);
    /// assert!(bulkhead.try_acquire().is_err(), "one call still runs, the new limit");
    /// drop(second);
    /// assert_eq!(bulkhead.available_slots(), 1);
    ///
    /// // Invalid: refused, and the bulkhead keeps its settings.
    /// assert!(bulkhead.reconfigure(BulkheadConfig::default().max_concurrent(0)).is_err());
    /// assert_eq!(bulkhead.max_concurrent(), 1);
    /// ```
    pub fn reconfigure(&self, config: BulkheadConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let mut grown = false;
        self.config.update(|current| {
            if *current == config {
                return None;
            }
            // Under the update's lock, so that concurrent resizes add up.
            let delta = slots(config.max_concurrent) - slots(current.max_concurrent);
            self.available.fetch_add(delta, Ordering::SeqCst);
            grown = delta > 0;
            Some(config)
        });
        if grown {
            self.wake_all();
        }
        Ok(())
    }

    /// Calls rejected so far.
    pub fn rejected_calls(&self) -> u64 {
        self.rejected.get()
    }

    /// The gauges and counters, read now.
    ///
    /// ```
    /// use resilience_runtime::bulkhead::{Bulkhead, BulkheadConfig};
    ///
    /// let bulkhead = Bulkhead::new("reports", BulkheadConfig::default().max_concurrent(2)).unwrap();
    /// let permit = bulkhead.try_acquire().unwrap();
    /// let metrics = bulkhead.metrics();
    /// assert_eq!((metrics.available_concurrent_calls, metrics.permitted_calls), (1, 1));
    /// drop(permit);
    /// assert_eq!(bulkhead.metrics().available_concurrent_calls, 2);
    /// ```
    pub fn metrics(&self) -> BulkheadMetrics {
        BulkheadMetrics {
            available_concurrent_calls: self.available_slots(),
            max_allowed_concurrent_calls: self.max_concurrent(),
            permitted_calls: self.permitted.get(),
            rejected_calls: self.rejected.get(),
        }
    }

    /// Calls `listener` with every [`BulkheadEvent`] of this bulkhead from
    /// now on, until [`remove_listener`](Self::remove_listener).
    pub fn on_event(
        &self,
        listener: impl Fn(&BulkheadEvent) + Send + Sync + 'static,
    ) -> ListenerId {
        self.listeners.add(Arc::new(listener))
    }

    /// Stops calling a listener; `false` if it was not registered here.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
    }

    /// Takes a slot if one is free, without waiting.
    #[inline]
    pub fn try_acquire(&self) -> Result<BulkheadPermit<'_>, Error> {
        self.take().ok_or_else(|| self.reject())
    }

    /// Takes a free slot without waiting and without counting a rejection:
    /// the fast path of the attribute's expansion, before [`acquire`](Self::acquire).
    #[doc(hidden)]
    #[inline]
    pub fn take_free(&self) -> Option<BulkheadPermit<'_>> {
        self.take()
    }

    /// Takes a slot, waiting up to `max_wait` for one (on tokio's clock).
    #[inline]
    pub async fn acquire(&self) -> Result<BulkheadPermit<'_>, Error> {
        if let Some(permit) = self.take() {
            return Ok(permit);
        }
        let max_wait = self.config().max_wait;
        if max_wait.is_zero() {
            return Err(self.reject());
        }
        let deadline = tokio::time::Instant::now() + max_wait;
        let _waiting = Waiting::new(&self.async_waiters);
        loop {
            let mut freed = pin!(self.notify.notified());
            // Registered before the check, so a release between the two wakes us.
            freed.as_mut().enable();
            if let Some(permit) = self.take() {
                return Ok(permit);
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return self.take().ok_or_else(|| self.reject());
            }
        }
    }

    /// Takes a slot, blocking the thread up to `max_wait` for one.
    #[inline]
    pub fn acquire_blocking(&self) -> Result<BulkheadPermit<'_>, Error> {
        match self.take() {
            Some(permit) => Ok(permit),
            None => self.wait_blocking(),
        }
    }

    // Out of line, so that a caller taking a free slot keeps a small frame.
    #[cold]
    #[inline(never)]
    fn wait_blocking(&self) -> Result<BulkheadPermit<'_>, Error> {
        let max_wait = self.config().max_wait;
        if max_wait.is_zero() {
            return Err(self.reject());
        }
        let deadline = std::time::Instant::now() + max_wait;
        let _waiting = Waiting::new(&self.sync_waiters);
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(permit) = self.take() {
                return Ok(permit);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(self.reject());
            }
            guard = self
                .freed
                .wait_timeout(guard, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Runs `f` in a slot, blocking up to `max_wait` for one.
    pub fn call<T, E: From<Error>>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let _permit = self.acquire_blocking()?;
        f()
    }

    /// Awaits the future `f` makes in a slot, waiting up to `max_wait` for one.
    pub async fn call_async<T, E, Fut>(&self, f: impl FnOnce() -> Fut) -> Result<T, E>
    where
        E: From<Error>,
        Fut: Future<Output = Result<T, E>>,
    {
        let _permit = self.acquire().await?;
        f().await
    }

    #[inline]
    fn take(&self) -> Option<BulkheadPermit<'_>> {
        self.available
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |free| {
                (free > 0).then(|| free - 1)
            })
            .ok()?;
        self.permitted.add();
        if self.listeners.routine_wanted() {
            self.report(BulkheadEvent::Permitted);
        }
        Some(BulkheadPermit { bulkhead: self })
    }

    #[inline]
    fn release(&self) {
        if self.listeners.routine_wanted() {
            self.report(BulkheadEvent::Finished);
        }
        // SeqCst pairs with `Waiting::new` and `take`: either a waiter sees this
        // slot, or this release sees the waiter and wakes it.
        self.available.fetch_add(1, Ordering::SeqCst);
        let async_waiting = self.async_waiters.load(Ordering::SeqCst) > 0;
        let sync_waiting = self.sync_waiters.load(Ordering::SeqCst) > 0;
        if async_waiting || sync_waiting {
            self.wake_one(async_waiting, sync_waiting);
        }
    }

    // Out of line, so that a release nobody waits for keeps a small frame.
    #[cold]
    #[inline(never)]
    fn wake_one(&self, async_waiting: bool, sync_waiting: bool) {
        if async_waiting {
            self.notify.notify_one();
        }
        if sync_waiting {
            // Taking the lock orders this wake-up after the waiter's check.
            drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
            self.freed.notify_one();
        }
    }

    // Every waiter, since a resize may free many slots at once; the losers
    // wait again.
    #[cold]
    fn wake_all(&self) {
        self.notify.notify_waiters();
        drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
        self.freed.notify_all();
    }

    // Inline: built in the caller, the error lands in its return slot
    // without a copy through the stack (a store-forwarding stall).
    #[inline]
    fn reject(&self) -> Error {
        self.rejected.add();
        self.listeners
            .notify(|listener| listener(&BulkheadEvent::Rejected));
        let error = Error::BulkheadFull {
            name: self.name.clone(),
            max_concurrent: self.max_concurrent(),
        };
        emit(Event::CallRejected { error: &error });
        error
    }

    /// Tells this bulkhead's listeners and the registry's of a permit or a
    /// release; out of line, so that a call nobody listens to pays a branch.
    #[cold]
    #[inline(never)]
    fn report(&self, event: BulkheadEvent) {
        self.listeners.notify(|listener| listener(&event));
        let name = &self.name;
        emit(match event {
            BulkheadEvent::Finished => Event::BulkheadFinished { name },
            _ => Event::BulkheadPermitted { name },
        });
    }
}

/// A slot count as the signed counter keeps it; `validate` bounds none, so
/// an absurd one saturates (no machine runs `isize::MAX` calls at once).
fn slots(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

/// One slot of a [`Bulkhead`], returned when dropped.
#[must_use = "the slot is released as soon as the permit is dropped"]
#[derive(Debug)]
pub struct BulkheadPermit<'a> {
    bulkhead: &'a Bulkhead,
}

impl Drop for BulkheadPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.bulkhead.release();
    }
}

/// Counts a waiter for as long as it waits, however it stops.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
