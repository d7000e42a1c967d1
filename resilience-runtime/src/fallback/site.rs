//! One `#[fallback]` attribute as the expansion declares it, with its counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::FallbackSource;
use crate::CallSite;

/// One `#[fallback]` attribute: where it is, its cache settings, and how
/// often each source replaced a result. The expansion puts one in
/// [`FALLBACKS`].
#[doc(hidden)]
#[derive(Debug)]
pub struct FallbackSite {
    /// The guarded function and the attribute's place.
    pub call_site: CallSite,
    /// `cache` and `cache_capacity`, when the attribute has a cache.
    pub(crate) cache: Option<(Duration, usize)>,
    /// Replaced results by cause (the function's error, a rejection) and by
    /// source (in the order of [`FallbackSource::ALL`]).
    answers: [[AtomicU64; 3]; 2],
    cache_misses: AtomicU64,
}

impl FallbackSite {
    #[doc(hidden)]
    pub const fn new(call_site: CallSite, cache: Option<(Duration, usize)>) -> Self {
        FallbackSite {
            call_site,
            cache,
            answers: [
                [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
                [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            ],
            cache_misses: AtomicU64::new(0),
        }
    }

    pub(crate) fn used(&self, for_rejection: bool, source: FallbackSource) {
        self.answers[usize::from(for_rejection)][source.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn cache_missed(&self) {
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Replaced results: `[cause][source]`, cause 0 the function's error and
    /// 1 a rejection.
    pub(crate) fn answers(&self) -> [[u64; 3]; 2] {
        self.answers.each_ref().map(|by_source| {
            by_source
                .each_ref()
                .map(|count| count.load(Ordering::Relaxed))
        })
    }

    pub(crate) fn cache_misses(&self) -> u64 {
        self.cache_misses.load(Ordering::Relaxed)
    }
}

/// Every `#[fallback]` of the binary.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static FALLBACKS: [FallbackSite];
