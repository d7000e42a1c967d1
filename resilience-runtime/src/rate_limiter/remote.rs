//! The check of a limiter whose bucket is in Redis: one round trip, bounded
//! by `store_timeout`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{Bucket, RateLimiter, Reservation, Settings};
use crate::clock::saturating_nanos;
use crate::event::{emit, Event};
use crate::stores::redis::bucket::{self, Shape, Verdict};
use crate::stores::redis::{self, RedisStore, StoreError};
use crate::Error;

impl RateLimiter {
    /// Takes a token from the fleet's bucket, waiting up to `max_wait` for
    /// one; decided by `on_store_error` when Redis does not answer in time.
    pub(super) async fn acquire_shared(&self, settings: &Settings) -> Result<(), Error> {
        // The local check at the fleet's rate counts only the tokens Redis
        // granted (the others are given back), so it never refuses a call
        // Redis would admit: its bucket is at least as full as the fleet's.
        let precheck = if settings.config.local_precheck {
            self.reserve(settings, settings.max_wait)?;
            Some(Precheck { limiter: self })
        } else {
            None
        };
        let timeout = settings.config.store_timeout;
        let verdict = match redis::current() {
            Some(_) if !self.ask_store(settings) => Err(StoreError::StillDown),
            Some(store) => {
                let key = store.key("rl", &self.name);
                let shape = shape(settings);
                bucket::take(&store, &key, shape, timeout)
                    .await
                    .map(|verdict| {
                        (
                            verdict,
                            Remote {
                                store,
                                key,
                                shape,
                                timeout,
                            },
                        )
                    })
            }
            None => Err(StoreError::NotSet),
        };
        match verdict {
            Ok((Verdict::Taken(wait), remote)) => {
                self.store_answered();
                if !wait.is_zero() {
                    // Cancelled while it sleeps, the call gives its token
                    // back to Redis, and to the pre-check as it drops.
                    let given_back = GiveBackOnDrop(Some(remote));
                    let waiting = Reservation::counting(self);
                    tokio::time::sleep(wait).await;
                    waiting.kept();
                    given_back.kept();
                }
                if let Some(precheck) = precheck {
                    precheck.kept();
                }
                self.permit(saturating_nanos(wait));
                Ok(())
            }
            Ok((Verdict::Refused(wait), _)) => {
                self.store_answered();
                Err(self.reject(wait))
            }
            Err(error) => {
                if !matches!(error, StoreError::StillDown) {
                    self.store_failed(&error);
                }
                drop(precheck);
                let wait = self.alone(settings, settings.max_wait)?;
                self.sleep_for(wait, Bucket::Share).await;
                self.permit(wait);
                Ok(())
            }
        }
    }
}

/// While the store is down, how often a call asks it again.
const RETRY_STORE_EVERY: Duration = Duration::from_millis(100);

impl RateLimiter {
    /// Whether this call should ask the store: always while it answers;
    /// during an outage, one call per [`RETRY_STORE_EVERY`] (or per
    /// `store_timeout`, if longer), so that the others do not each wait
    /// `store_timeout` for a store that is known to be down.
    pub(super) fn ask_store(&self, settings: &Settings) -> bool {
        if !self.store_down.load(Ordering::Acquire) {
            return true;
        }
        let now = settings.clock.nanos();
        let retry_at = self.store_retry_at.load(Ordering::Relaxed);
        let every = RETRY_STORE_EVERY.max(settings.config.store_timeout);
        now >= retry_at
            && self
                .store_retry_at
                .compare_exchange(
                    retry_at,
                    now.saturating_add(saturating_nanos(every)),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Notes a failed request to the store; the first of an outage is an event.
    #[cold]
    pub(super) fn store_failed(&self, error: &dyn std::fmt::Display) {
        self.store_errors.add();
        if !self.store_down.load(Ordering::Relaxed) {
            let settings = self.settings.get();
            let now = settings.clock.nanos();
            let every = RETRY_STORE_EVERY.max(settings.config.store_timeout);
            self.store_retry_at.store(
                now.saturating_add(saturating_nanos(every)),
                Ordering::Relaxed,
            );
            self.store_down_since.store(now, Ordering::Relaxed);
            if !self.store_down.swap(true, Ordering::AcqRel) {
                let error = error.to_string();
                emit(Event::StoreUnavailable {
                    name: &self.name,
                    error: &error,
                });
            }
        }
    }

    /// Notes an answer from the store; the first after an outage is an event.
    #[inline]
    pub(super) fn store_answered(&self) {
        if self.store_down.load(Ordering::Relaxed) && self.store_down.swap(false, Ordering::AcqRel)
        {
            emit(Event::StoreRecovered { name: &self.name });
        }
    }
}

/// The bucket's shape in Redis: the limiter's, in microseconds.
fn shape(settings: &Settings) -> Shape {
    let micros = |nanos: u64| nanos as f64 / 1_000.0;
    Shape {
        interval_us: micros(settings.interval),
        burst_us: micros(settings.burst),
        max_wait_us: settings.max_wait / 1_000,
        fixed_quota: settings.fixed_quota,
    }
}

/// A token taken from the local check ahead of Redis's answer: kept if Redis
/// grants one, given back otherwise.
struct Precheck<'a> {
    limiter: &'a RateLimiter,
}

impl Precheck<'_> {
    fn kept(self) {
        std::mem::forget(self);
    }
}

impl Drop for Precheck<'_> {
    fn drop(&mut self) {
        self.limiter.give_back(Bucket::Own);
    }
}

/// Where a token taken from Redis is.
struct Remote {
    store: Arc<RedisStore>,
    key: String,
    shape: Shape,
    timeout: Duration,
}

/// A token reserved in Redis for a caller still waiting for it: given back
/// there, in the background, if the wait is cancelled.
struct GiveBackOnDrop(Option<Remote>);

impl GiveBackOnDrop {
    fn kept(mut self) {
        self.0 = None;
    }
}

impl Drop for GiveBackOnDrop {
    fn drop(&mut self) {
        let Some(remote) = self.0.take() else {
            return;
        };
        // Dropped outside a runtime (at its shutdown), the token stays
        // taken: it comes back as the bucket refills.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = bucket::give_back(&remote.store, &remote.key, remote.shape, remote.timeout)
                    .await;
            });
        }
    }
}
