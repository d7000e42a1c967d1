//! A call site's handle on its cache, whose operations were chosen where the
//! key's and value's types were checked: calling them needs no bounds, so a
//! type that does not fit is reported once, at that check; and the traits
//! that check them, with the feature or without.

use std::hash::Hash;

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

/// An argument of a function with `cache`: part of the key its answers are
/// kept under.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of the key of `#[fallback(cache = ...)]`",
    label = "`cache` keeps answers per argument list: each argument must be `Hash + Eq + Clone + Send + 'static`",
    note = "derive `Hash, PartialEq, Eq, Clone` for `{Self}`, or remove `cache`"
)]
pub trait CacheKey: Hash + Eq + Clone + Send + 'static {}

impl<T: Hash + Eq + Clone + Send + 'static> CacheKey for T {}

/// The value a function with `cache` returns on success.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be kept by `#[fallback(cache = ...)]`",
    label = "`cache` hands out copies of the last good answer: the value must be `Clone + Send + 'static`",
    note = "derive `Clone` for `{Self}`, or remove `cache`"
)]
pub trait CacheValue: Clone + Send + 'static {}

impl<T: Clone + Send + 'static> CacheValue for T {}
