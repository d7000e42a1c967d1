//! A call site's handle on its cache, whose operations were chosen where the
//! key's and value's types were checked: calling them needs no bounds, so a
//! type that does not fit is reported once, at that check.

use super::cache::FallbackCache;

/// Stores and looks up the answers of one `#[fallback(cache = ...)]`.
#[doc(hidden)]
pub struct CacheHandle<K: 'static, V: 'static> {
    cache: &'static FallbackCache<K, V>,
    store: fn(&FallbackCache<K, V>, K, &V),
    fresh: fn(&FallbackCache<K, V>, &K) -> Option<V>,
}

impl<K, V> CacheHandle<K, V> {
    #[cfg_attr(not(feature = "fallback-cache"), allow(dead_code))]
    pub(crate) fn new(
        cache: &'static FallbackCache<K, V>,
        store: fn(&FallbackCache<K, V>, K, &V),
        fresh: fn(&FallbackCache<K, V>, &K) -> Option<V>,
    ) -> Self {
        CacheHandle {
            cache,
            store,
            fresh,
        }
    }

    /// Keeps `value` as the answer for the arguments `key`.
    #[inline]
    pub fn store(&self, key: K, value: &V) {
        (self.store)(self.cache, key, value)
    }

    /// The answer for the arguments `key`, if one is young enough.
    #[inline]
    pub fn fresh(&self, key: &K) -> Option<V> {
        (self.fresh)(self.cache, key)
    }
}
