//! `#[fallback(cache = "5m")]`: the last good answer of each argument list,
//! served while the function fails.
//!
//! One cache per attribute, in a `static` of the expansion, made on its first
//! store. Storing takes a lock and may allocate (a new argument list, or a
//! value whose clone allocates); it is the one success path of the crate
//! that does. Failures look up under the same lock.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use lru::LruCache;

use super::cache_handle::{CacheHandle, CacheKey, CacheValue};
use crate::clock::{saturating_nanos, Epoch};

/// The cache of one `#[fallback]`: argument lists to their last answer.
#[doc(hidden)]
pub struct FallbackCache<K, V> {
    ttl: u64,
    capacity: NonZeroUsize,
    on_tokio_clock: bool,
    store: OnceLock<Store<K, V>>,
}

struct Store<K, V> {
    clock: Clock,
    entries: Mutex<LruCache<K, Entry<V>>>,
}

struct Entry<V> {
    stored_at: u64,
    value: V,
}

/// Where the cache reads its time: an async function's on tokio's clock (so
/// that a paused clock is followed), a sync one's as the policies do.
enum Clock {
    Tokio(tokio::time::Instant),
    Policy(Epoch),
}

impl Clock {
    fn new(on_tokio_clock: bool) -> Self {
        if on_tokio_clock {
            Clock::Tokio(tokio::time::Instant::now())
        } else {
            Clock::Policy(Epoch::now())
        }
    }

    fn nanos(&self) -> u64 {
        match self {
            Clock::Tokio(origin) => {
                saturating_nanos(tokio::time::Instant::now().saturating_duration_since(*origin))
            }
            Clock::Policy(epoch) => epoch.nanos(),
        }
    }
}

impl<K, V> FallbackCache<K, V> {
    /// A cache whose answers serve for `ttl` after the success that gave
    /// them, of at most `capacity` argument lists (the macro checks it is
    /// not zero). Makes nothing until the first store.
    pub const fn new(ttl: Duration, capacity: usize, on_tokio_clock: bool) -> Self {
        let capacity = match NonZeroUsize::new(capacity) {
            Some(capacity) => capacity,
            None => NonZeroUsize::MIN,
        };
        let nanos = ttl.as_nanos();
        FallbackCache {
            ttl: if nanos > u64::MAX as u128 {
                u64::MAX
            } else {
                nanos as u64
            },
            capacity,
            on_tokio_clock,
            store: OnceLock::new(),
        }
    }
}

impl<K: Hash + Eq, V: Clone> FallbackCache<K, V> {
    /// Keeps `value` as the answer for `key`, the most recently used; at
    /// capacity, the least recently used argument list makes room.
    pub fn store(&self, key: K, value: &V) {
        let store = self.store.get_or_init(|| Store {
            clock: Clock::new(self.on_tokio_clock),
            entries: Mutex::new(LruCache::sparse(self.capacity)),
        });
        let now = store.clock.nanos();
        let mut entries = store.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get_mut(&key) {
            Some(entry) => {
                // Reuses the stored value's allocations where it has any.
                entry.value.clone_from(value);
                entry.stored_at = now;
            }
            None => {
                entries.push(
                    key,
                    Entry {
                        stored_at: now,
                        value: value.clone(),
                    },
                );
            }
        }
    }

    /// The answer kept for `key` if it is younger than the cache's duration,
    /// which makes it the most recently used; an older one is dropped.
    pub fn fresh(&self, key: &K) -> Option<V> {
        let store = self.store.get()?;
        let now = store.clock.nanos();
        let mut entries = store.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(key)?;
        if now.saturating_sub(entry.stored_at) < self.ttl {
            return Some(entry.value.clone());
        }
        entries.pop(key);
        None
    }

    /// The argument lists kept, fresh or not.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.store.get().map_or(0, |store| {
            store
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
        })
    }
}

/// The call site's handle on its cache. The expansion calls it from a
/// function generic over each argument's type, bound by
/// [`CacheKey`](super::cache_handle::CacheKey), so that a type that does not
/// fit is reported by name.
#[doc(hidden)]
#[inline(always)]
pub fn cache_of<K: CacheKey, V: CacheValue>(
    cache: &'static FallbackCache<K, V>,
) -> CacheHandle<K, V> {
    CacheHandle::new(cache, FallbackCache::store, FallbackCache::fresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_answer_serves_until_it_is_as_old_as_the_duration() {
        let cache = FallbackCache::<u32, String>::new(Duration::from_secs(60), 4, true);
        assert_eq!(cache.fresh(&1), None);
        cache.store(1, &"one".to_owned());
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(cache.fresh(&1).as_deref(), Some("one"));
        assert_eq!(cache.fresh(&2), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(cache.fresh(&1), None);
        assert_eq!(cache.len(), 0, "a stale answer is dropped when found");
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_success_replaces_the_answer_and_its_age() {
        let cache = FallbackCache::<u32, String>::new(Duration::from_secs(60), 4, true);
        cache.store(1, &"old".to_owned());
        tokio::time::advance(Duration::from_secs(50)).await;
        cache.store(1, &"new".to_owned());
        tokio::time::advance(Duration::from_secs(50)).await;
        assert_eq!(cache.fresh(&1).as_deref(), Some("new"));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn at_capacity_the_least_recently_used_goes_first() {
        let cache = FallbackCache::<u32, u32>::new(Duration::from_secs(60), 2, false);
        cache.store(1, &10);
        cache.store(2, &20);
        assert_eq!(cache.fresh(&1), Some(10), "a hit is a use");
        cache.store(3, &30);
        assert_eq!(cache.fresh(&2), None);
        assert_eq!(cache.fresh(&1), Some(10));
        assert_eq!(cache.fresh(&3), Some(30));
        assert_eq!(cache.len(), 2);
    }
}
