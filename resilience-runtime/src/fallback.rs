//! The uses of every `#[fallback]` of the binary, counted per call site and
//! read by name through [`Registry::fallbacks`](crate::Registry::fallbacks).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// One `#[fallback]` attribute: the function it guards and how often it
/// replaced a result. The expansion puts one in [`FALLBACKS`].
#[doc(hidden)]
#[derive(Debug)]
pub struct FallbackSite {
    /// The guarded function's name.
    pub function: &'static str,
    errors: AtomicU64,
    rejections: AtomicU64,
}

impl FallbackSite {
    #[doc(hidden)]
    pub const fn new(function: &'static str) -> Self {
        FallbackSite {
            function,
            errors: AtomicU64::new(0),
            rejections: AtomicU64::new(0),
        }
    }

    pub(crate) fn used(&self, for_rejection: bool) {
        let count = if for_rejection {
            &self.rejections
        } else {
            &self.errors
        };
        count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every `#[fallback]` of the binary.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static FALLBACKS: [FallbackSite];

/// How often the fallbacks of one function name replaced a result.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackMetrics {
    /// The guarded function's name; functions of one name in different
    /// modules add up.
    pub name: &'static str,
    /// Results replaced because the function returned an error.
    pub error_calls: u64,
    /// Results replaced because a policy rejected the call.
    pub rejection_calls: u64,
}

/// Every fallback of the binary by name, used or not, sorted by name.
pub(crate) fn all() -> Vec<FallbackMetrics> {
    let mut by_name = BTreeMap::<&'static str, FallbackMetrics>::new();
    for site in FALLBACKS.iter() {
        let entry = by_name
            .entry(site.function)
            .or_insert_with(|| FallbackMetrics {
                name: site.function,
                error_calls: 0,
                rejection_calls: 0,
            });
        entry.error_calls += site.errors.load(Ordering::Relaxed);
        entry.rejection_calls += site.rejections.load(Ordering::Relaxed);
    }
    by_name.into_values().collect()
}
