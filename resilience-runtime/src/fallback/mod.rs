//! `#[fallback]` at run time: the call sites of the binary with their counts
//! ([`Registry::fallbacks`](crate::Registry::fallbacks)), the cache of last
//! good answers behind `cache = "5m"`, and the helper that lets a fallback
//! method of an async function be sync or async.
//!
//! A fallback has no name and no table in the configuration file: its
//! settings are its attribute's arguments, fixed at compile time.
//! [`Registry::fallbacks`](crate::Registry::fallbacks) is where they are
//! visible (each site's `cache` and `cache_capacity`), next to the counts of
//! which source answered.

#[cfg(feature = "fallback-cache")]
pub(crate) mod cache;
#[cfg(not(feature = "fallback-cache"))]
#[path = "cache_disabled.rs"]
pub(crate) mod cache;
pub(crate) mod cache_handle;
pub(crate) mod method;
mod metrics;
mod site;

use std::fmt;

pub(crate) use metrics::all;
pub use metrics::{FallbackMetrics, FallbackSiteSettings};
pub use site::{FallbackSite, FALLBACKS};

/// What answered for a failed call: the value `cache` kept from an earlier
/// success with the same arguments, the `method`, or the `value`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackSource {
    /// A cached answer, younger than `cache`, of an earlier successful call
    /// with the same arguments.
    Cache,
    /// The `method`'s result (which may itself be an error).
    Method,
    /// `Ok(value)`.
    Value,
}

impl FallbackSource {
    /// Every source, in the order of the chain: the cache is asked first.
    pub const ALL: [FallbackSource; 3] = [
        FallbackSource::Cache,
        FallbackSource::Method,
        FallbackSource::Value,
    ];

    /// `"cache"`, `"method"` or `"value"`: the `source` label of the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackSource::Cache => "cache",
            FallbackSource::Method => "method",
            FallbackSource::Value => "value",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FallbackSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
