//! `#[fallback(cache = ...)]` without the `fallback-cache` feature: the same
//! names as `cache.rs`, so that the expansion type-checks up to one error
//! saying which feature to turn on.

use std::marker::PhantomData;
use std::time::Duration;

use super::cache_handle::CacheHandle;

/// Holds nothing: the feature that keeps answers is off.
#[doc(hidden)]
pub struct FallbackCache<K, V>(PhantomData<fn(K) -> V>);

impl<K, V> FallbackCache<K, V> {
    /// The same constructor as with the feature.
    pub const fn new(_ttl: Duration, _capacity: usize, _on_tokio_clock: bool) -> Self {
        FallbackCache(PhantomData)
    }
}

mod sealed {
    pub trait Never {}
}

/// Implemented by nothing: answers are kept only with the feature.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`#[fallback(cache = ...)]` needs the `fallback-cache` feature of `resilience-runtime`",
    label = "the cache of last good answers is behind a feature",
    note = "add `features = [\"fallback-cache\"]` to the `resilience-runtime` dependency, or remove `cache`"
)]
pub trait FallbackCacheFeature<V>: sealed::Never {
    #[doc(hidden)]
    fn handle(cache: &'static FallbackCache<Self, V>) -> CacheHandle<Self, V>
    where
        Self: Sized;
}

/// The call site's handle on its cache: refused without the feature.
#[doc(hidden)]
#[inline(always)]
pub fn cache_of<K, V>(cache: &'static FallbackCache<K, V>) -> CacheHandle<K, V>
where
    K: FallbackCacheFeature<V>,
{
    K::handle(cache)
}
