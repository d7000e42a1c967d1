//! Reading instances and families for an evaluation: the part of their
//! metrics the rules judge.

use std::time::Duration;

use super::judge::{BreakerReading, FamilyReading};
use super::tracker::Reading;
use crate::circuit_breaker::CircuitBreakerMetrics;
use crate::keyed::Family;
use crate::registry::Policy;
use crate::stores::StoreStatus;
use crate::telemetry::family;
use crate::CircuitBreaker;

pub(super) fn breaker(metrics: CircuitBreakerMetrics, outage: Option<Duration>) -> BreakerReading {
    BreakerReading {
        state: metrics.state,
        outage,
        failure_rate: metrics.failure_rate,
        window_calls: metrics.window_calls,
        store_down: None,
    }
}

/// A family of breakers: its members summed, and those refusing calls,
/// longest outage first.
pub(super) fn breaker_family(family: &Family<CircuitBreaker>) -> FamilyReading {
    let members: Vec<(String, family::BreakerRead)> = family
        .members()
        .into_iter()
        .map(|(key, breaker)| {
            let metrics = breaker.metrics();
            (key, (metrics, breaker.outage_duration(metrics.state)))
        })
        .collect();
    let reads: Vec<family::BreakerRead> = members.iter().map(|(_, read)| *read).collect();
    let ((metrics, outage), _) = family::breakers(&reads);
    let mut refusing: Vec<(Duration, String, crate::CircuitState)> = members
        .into_iter()
        .filter_map(|(key, (metrics, outage))| Some((outage?, key, metrics.state)))
        .collect();
    refusing.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    FamilyReading {
        sum: breaker(metrics, outage),
        keys: reads.len(),
        refusing: refusing
            .into_iter()
            .map(|(_, key, state)| (key, state))
            .collect(),
    }
}

pub(super) fn admission(permitted: u64, rejected: u64) -> Reading {
    Reading::Admission {
        permitted,
        rejected,
        store_down: None,
    }
}

/// How long a rate limiter or a breaker has been without its store, if it is.
pub(super) fn store_down(status: StoreStatus) -> Option<Duration> {
    match status {
        StoreStatus::Unavailable { for_ } => Some(for_),
        StoreStatus::Local | StoreStatus::Available => None,
    }
}

impl Reading {
    /// This reading, of a policy without its store for `down`.
    pub(super) fn store_down(mut self, down: Option<Duration>) -> Self {
        if let Reading::Admission { store_down, .. } = &mut self {
            *store_down = down;
        }
        self
    }
}

/// Every member's metrics.
pub(super) fn each<P: Policy, T>(family: &Family<P>, metrics: impl Fn(&P) -> T) -> Vec<T> {
    family
        .members()
        .iter()
        .map(|(_, member)| metrics(member))
        .collect()
}
