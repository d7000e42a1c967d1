//! Circuit breakers shared across replicas: each replica keeps its own
//! breaker, and a task on the syncer's thread ticks it every
//! `sync_interval` with one pipelined round trip (see [`tick`]). The calls
//! make no round trip: the task reads the counts the breaker keeps anyway.
//! `docs/redis.md` has the keys, the timings and the guarantees.

mod replica;
mod slots;
mod tick;
mod window;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::{current, syncer, StoreError};
use crate::stores::Store;
use crate::CircuitBreaker;
use replica::Replica;

/// What a breaker keeps for its syncer: how to reach it, how to wake it,
/// and whether the store answers.
#[derive(Debug, Default)]
pub(crate) struct Link {
    /// The breaker itself, once it is in an `Arc` the crate made.
    this: OnceLock<Weak<CircuitBreaker>>,
    /// Whether a task syncs the breaker now.
    syncing: AtomicBool,
    /// Wakes the task: made with it, so that a breaker never synced
    /// allocates nothing for it.
    wake: OnceLock<Arc<Notify>>,
    /// Whether the store failed the last tick, and since when (in the
    /// breaker's clock).
    down: AtomicBool,
    down_since: AtomicU64,
    /// Ticks the store failed, since creation.
    pub(crate) errors: AtomicU64,
}

impl Link {
    /// Remembers `breaker`'s `Arc`; `false` if it was already.
    pub(crate) fn attach(&self, breaker: &Arc<CircuitBreaker>) -> bool {
        self.this.set(Arc::downgrade(breaker)).is_ok()
    }

    /// Whether a task syncs the breaker.
    pub(crate) fn syncing(&self) -> bool {
        self.syncing.load(Ordering::Acquire)
    }

    /// Wakes the task, if one syncs the breaker.
    #[inline]
    pub(crate) fn wake(&self) {
        if let Some(wake) = self.wake.get() {
            wake.notify_one();
        }
    }

    /// When the store started failing, if it fails now.
    pub(crate) fn down_since(&self) -> Option<u64> {
        self.down
            .load(Ordering::Acquire)
            .then(|| self.down_since.load(Ordering::Acquire))
    }

    /// Notes a failed tick at `now`: `true` for the first of an outage.
    pub(crate) fn went_down(&self, now: u64) -> bool {
        if self.down.load(Ordering::Acquire) {
            return false;
        }
        self.down_since.store(now, Ordering::Release);
        !self.down.swap(true, Ordering::AcqRel)
    }

    /// Notes a tick the store answered: `true` for the first after an outage.
    pub(crate) fn came_back(&self) -> bool {
        self.down.load(Ordering::Acquire) && self.down.swap(false, Ordering::AcqRel)
    }
}

/// Starts a task syncing `breaker`, if none does and it is in an `Arc`
/// (see [`CircuitBreaker::new_shared`]); wakes the one that does.
pub(crate) fn sync(breaker: &CircuitBreaker) {
    let link = breaker.link();
    let Some(this) = link.this.get().cloned() else {
        return;
    };
    if link.syncing.swap(true, Ordering::AcqRel) {
        link.wake();
        return;
    }
    let wake = link.wake.get_or_init(|| Arc::new(Notify::new())).clone();
    // No probe without a slot from the fleet, until a tick says the store
    // is gone.
    breaker.bound_probes(true);
    syncer::spawn(run(this, wake));
}

/// Ticks the breaker every `sync_interval` (or at once when woken), until
/// it is dropped or its store is no longer Redis.
async fn run(this: Weak<CircuitBreaker>, wake: Arc<Notify>) {
    let mut replica = Replica::new();
    loop {
        let Some(breaker) = this.upgrade() else {
            return;
        };
        if breaker.config().store != Store::Redis && !still_syncing(&breaker) {
            return;
        }
        let interval = breaker.config().sync_interval;
        let started = Instant::now();
        match tokio::time::timeout(limit(interval), once(&breaker, &mut replica)).await {
            Ok(Ok(())) => breaker.store_answered(),
            Ok(Err(error)) => lost(&breaker, &mut replica, &error),
            Err(_) => lost(
                &breaker,
                &mut replica,
                &StoreError::Timeout(limit(interval)),
            ),
        }
        drop(breaker);
        match started.checked_add(interval) {
            Some(next) => drop(tokio::time::timeout_at(next, wake.notified()).await),
            None => wake.notified().await,
        }
    }
}

/// One tick on the store set now.
async fn once(breaker: &CircuitBreaker, replica: &mut Replica) -> Result<(), StoreError> {
    let store = current().ok_or(StoreError::NotSet)?;
    let mut connection =
        syncer::connection(&store).map_err(|error| StoreError::Redis(Arc::new(error)))?;
    let base = store.key("cb", breaker.name());
    tick::tick(breaker, replica, &mut connection, &base)
        .await
        .map_err(|error| StoreError::Redis(Arc::new(error)))
}

/// A tick the store failed: the breaker goes on alone, its probes bounded
/// by its own settings, and the slots it held lapse with their lease.
fn lost(breaker: &CircuitBreaker, replica: &mut Replica, error: &StoreError) {
    breaker.bound_probes(false);
    replica.lost();
    breaker.store_failed(error);
}

/// Stops syncing a breaker whose store is now local; `true` if it went back
/// to Redis meanwhile, and syncing goes on.
fn still_syncing(breaker: &CircuitBreaker) -> bool {
    let link = breaker.link();
    link.syncing.store(false, Ordering::Release);
    breaker.bound_probes(false);
    // A reconfiguration back to Redis that saw this task still running
    // started none: this one goes on.
    let goes_on =
        breaker.config().store == Store::Redis && !link.syncing.swap(true, Ordering::AcqRel);
    if goes_on {
        breaker.bound_probes(true);
    }
    goes_on
}

/// How long a tick may take before it counts as a failure: a sync interval,
/// within 250 ms to 1 s, so that a slow answer is not an outage and an
/// outage does not hold the task long.
fn limit(interval: Duration) -> Duration {
    interval.clamp(Duration::from_millis(250), Duration::from_secs(1))
}
