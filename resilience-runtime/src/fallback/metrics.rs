//! The fallbacks of the binary, counted per function name, as
//! [`Registry::fallbacks`](crate::Registry::fallbacks) lists them.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{FallbackSource, FALLBACKS};
use crate::CallSite;

/// How often the fallbacks of one function name replaced a result, by cause
/// and by source, and each one's settings.
///
/// Every replaced result counts once by cause (`error_calls` +
/// `rejection_calls`) and once by source (`cache_hits` + `method_calls` +
/// `value_calls`): the two sums are equal.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackMetrics {
    /// The guarded function's name; functions of one name in different
    /// modules, and the fallbacks of a chain, add up.
    pub name: &'static str,
    /// Results replaced because the function returned an error.
    pub error_calls: u64,
    /// Results replaced because a policy rejected the call.
    pub rejection_calls: u64,
    /// Results replaced by a cached answer.
    pub cache_hits: u64,
    /// Failures for which the cache had no answer young enough (then the
    /// `method` or `value` answered, if there is one, else the failure was
    /// returned).
    pub cache_misses: u64,
    /// Results replaced by the `method`'s result.
    pub method_calls: u64,
    /// Results replaced by `Ok(value)`.
    pub value_calls: u64,
    /// Each `#[fallback]` of this name, in source order: where it is and its
    /// settings (a fallback has no configuration-file table; this is where
    /// its settings are visible).
    pub sites: Vec<FallbackSiteSettings>,
    /// `[cause][source]`, for the metrics' labels.
    pub(crate) answers: [[u64; 3]; 2],
}

impl FallbackMetrics {
    /// Results replaced for `cause` (`false`: the function's error, `true`: a
    /// rejection) by `source`.
    pub fn calls(&self, for_rejection: bool, source: FallbackSource) -> u64 {
        self.answers[usize::from(for_rejection)][source.index()]
    }
}

/// One `#[fallback]` attribute's place and settings.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallbackSiteSettings {
    /// The guarded function and the attribute's place.
    pub call_site: CallSite,
    /// `cache`: how long an answer may be served after the success that
    /// gave it; `None` without a cache.
    pub cache: Option<Duration>,
    /// `cache_capacity`: the most argument lists the cache keeps; `None`
    /// without a cache.
    pub cache_capacity: Option<usize>,
}

/// Every fallback of the binary by name, used or not, sorted by name.
pub(crate) fn all() -> Vec<FallbackMetrics> {
    let mut by_name = BTreeMap::<&'static str, FallbackMetrics>::new();
    let mut sites: Vec<_> = FALLBACKS.iter().collect();
    sites.sort_by_key(|site| site.call_site);
    for site in sites {
        let name = site.call_site.function;
        let entry = by_name.entry(name).or_insert_with(|| FallbackMetrics {
            name,
            error_calls: 0,
            rejection_calls: 0,
            cache_hits: 0,
            cache_misses: 0,
            method_calls: 0,
            value_calls: 0,
            sites: Vec::new(),
            answers: [[0; 3]; 2],
        });
        for (cause, by_source) in site.answers().into_iter().enumerate() {
            for (source, count) in by_source.into_iter().enumerate() {
                entry.answers[cause][source] += count;
            }
        }
        entry.cache_misses += site.cache_misses();
        entry.sites.push(FallbackSiteSettings {
            call_site: site.call_site,
            cache: site.cache.map(|(ttl, _)| ttl),
            cache_capacity: site.cache.map(|(_, capacity)| capacity),
        });
    }
    let mut all: Vec<FallbackMetrics> = by_name.into_values().collect();
    for metrics in &mut all {
        let [errors, rejections] = metrics.answers;
        metrics.error_calls = errors.iter().sum();
        metrics.rejection_calls = rejections.iter().sum();
        let by_source =
            |source: FallbackSource| errors[source.index()] + rejections[source.index()];
        metrics.cache_hits = by_source(FallbackSource::Cache);
        metrics.method_calls = by_source(FallbackSource::Method);
        metrics.value_calls = by_source(FallbackSource::Value);
    }
    all
}
