//! A limiter whose bucket is shared through a store: how a call is decided
//! without the store (`on_store_error`), and the store's state as the
//! limiter last saw it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{advance, RateLimiter, Settings};
use crate::stores::{OnStoreError, StoreStatus};
use crate::Error;

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
}
