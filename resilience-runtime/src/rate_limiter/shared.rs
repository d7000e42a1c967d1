//! A limiter whose bucket is shared through a store: how a call is decided
//! without the store (`on_store_error`), and the store's state as the
//! limiter last saw it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{advance, RateLimiter, Settings};
use crate::clock::saturating_nanos;
use crate::event::{emit, Event};
use crate::stores::OnStoreError;
use crate::Error;

/// While the store is down, how often a call asks it again.
pub(super) const RETRY_STORE_EVERY: Duration = Duration::from_millis(100);

/// Whether a rate limiter reaches the store its bucket is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreStatus {
    /// The bucket is in the process (`store = "local"`).
    Local,
    /// The store answered the last request (or none was made yet).
    Available,
    /// The store failed the last request; calls are decided by
    /// `on_store_error` since `for_` ago.
    Unavailable {
        /// How long since the first failure of this outage.
        for_: Duration,
    },
}

impl RateLimiter {
    /// Whether the limiter reaches its store now.
    pub fn store_status(&self) -> StoreStatus {
        let settings = self.settings.get();
        if !settings.shared {
            return StoreStatus::Local;
        }
        if !self.store_down.load(Ordering::Acquire) {
            return StoreStatus::Available;
        }
        let since = self.store_down_since.load(Ordering::Relaxed);
        StoreStatus::Unavailable {
            for_: Duration::from_nanos(settings.clock.nanos().saturating_sub(since)),
        }
    }

    /// Decides a call of a shared limiter without its store, as
    /// `on_store_error` says: returns the wait for the token taken (from this
    /// replica's share, with `"local"`).
    pub(super) fn alone(&self, settings: &Settings, max_wait: u64) -> Result<u64, Error> {
        match settings.config.on_store_error {
            OnStoreError::Local => advance(
                &self.share_tat,
                settings.now(),
                settings.share_interval,
                settings.share_burst,
                max_wait,
            )
            .map_err(|wait| self.reject(settings.retry_after(wait))),
            OnStoreError::Allow => Ok(0),
            // Nothing says when a token comes: try again after one interval.
            OnStoreError::Deny => Err(self.reject(settings.retry_after(settings.interval))),
        }
    }

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
            let every = RETRY_STORE_EVERY.max(settings.config.store_timeout);
            self.store_retry_at.store(
                settings
                    .clock
                    .nanos()
                    .saturating_add(saturating_nanos(every)),
                Ordering::Relaxed,
            );
            self.store_down_since
                .store(self.settings.get().clock.nanos(), Ordering::Relaxed);
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
