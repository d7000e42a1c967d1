//! The kinds that can be keyed (circuit breakers, bulkheads, rate
//! limiters): each name published once, its plain instance and its family's
//! members summed; each member with a `key` label too when per-key metrics
//! are on.

use std::collections::BTreeMap;
use std::sync::Arc;

use metrics::{counter, gauge, Label};

use super::label;
use crate::circuit_breaker::CircuitBreakerMetrics;
use crate::registry::Policy;
use crate::stores::{Store, StoreStatus};
use crate::telemetry::family::{self, per_key_metrics};
use crate::{CircuitState, Registry};

/// The series of one name, or of one member (`name` and `key`), and the
/// instances whose counts they sum.
struct Group<P> {
    labels: Vec<Label>,
    instances: Vec<Arc<P>>,
}

/// Every name of a kind made so far, as one group (its plain instance and
/// its family's members together: the two share the name's series), then,
/// with per-key metrics on, every member as a group of its own.
fn groups<P: Policy>(
    registry: &Registry,
    plain: Vec<Arc<P>>,
    name: fn(&P) -> &str,
) -> Vec<Group<P>> {
    let mut by_name: BTreeMap<String, Vec<Arc<P>>> = BTreeMap::new();
    for instance in plain {
        by_name
            .entry(name(&instance).to_owned())
            .or_default()
            .push(instance);
    }
    let per_key = per_key_metrics();
    let mut groups = Vec::new();
    for family in registry.families::<P>() {
        let members = family.members();
        let instances = by_name.entry(family.name().to_owned()).or_default();
        instances.extend(members.iter().map(|(_, member)| member.clone()));
        if per_key {
            groups.extend(members.into_iter().map(|(key, member)| Group {
                labels: vec![
                    Label::new("name", family.name().to_owned()),
                    Label::new("key", key),
                ],
                instances: vec![member],
            }));
        }
    }
    groups.extend(by_name.into_iter().map(|(name, instances)| Group {
        labels: vec![Label::new("name", name)],
        instances,
    }));
    groups
}

/// `labels` and `more`.
fn with(labels: &[Label], more: &[(&'static str, &'static str)]) -> Vec<Label> {
    let mut all = labels.to_vec();
    all.extend(more.iter().map(|&(key, value)| Label::new(key, value)));
    all
}

/// Circuit breakers: the state gauge counts the group's breakers in each
/// state (1 and 0 for one breaker).
pub(super) fn breakers(registry: &Registry) {
    for Group { labels, instances } in groups(registry, registry.circuit_breakers(), |b| b.name()) {
        let reads: Vec<family::BreakerRead> = instances
            .iter()
            .map(|breaker| (breaker.metrics(), None))
            .collect();
        let ((metrics, _), states) = family::breakers(&reads);
        for (state, count) in states {
            gauge!(
                "resilience_circuitbreaker_state",
                with(&labels, &[("state", label(state))])
            )
            .set(count as f64);
        }
        breaker_counts(&labels, &metrics);
        // Only breakers shared through a store have these, as for limiters.
        if instances.iter().any(|b| b.config().store != Store::Local) {
            counter!(
                "resilience_circuitbreaker_store_errors_total",
                labels.to_vec()
            )
            .absolute(metrics.store_errors);
            let reaching = instances
                .iter()
                .filter(|b| !matches!(b.store_status(), StoreStatus::Unavailable { .. }))
                .count();
            gauge!("resilience_circuitbreaker_store_available", labels.to_vec())
                .set(reaching as f64 / instances.len() as f64);
        }
        let mut transitions: Vec<(CircuitState, CircuitState, u64)> = Vec::new();
        for breaker in &instances {
            for (from, to, count) in breaker.transitions() {
                match transitions.iter_mut().find(|t| (t.0, t.1) == (from, to)) {
                    Some(summed) => summed.2 += count,
                    None => transitions.push((from, to, count)),
                }
            }
        }
        for (from, to, count) in transitions {
            counter!(
                "resilience_circuitbreaker_transitions_total",
                with(&labels, &[("from", label(from)), ("to", label(to))])
            )
            .absolute(count);
        }
    }
}

fn breaker_counts(labels: &[Label], metrics: &CircuitBreakerMetrics) {
    for (kind, count) in [
        ("successful", metrics.successful_calls),
        ("failed", metrics.failed_calls),
        ("ignored", metrics.ignored_calls),
        ("not_permitted", metrics.not_permitted_calls),
    ] {
        counter!(
            "resilience_circuitbreaker_calls_total",
            with(labels, &[("kind", kind)])
        )
        .absolute(count);
    }
    counter!(
        "resilience_circuitbreaker_slow_calls_total",
        labels.to_vec()
    )
    .absolute(metrics.slow_calls);
    if let Some(rate) = metrics.failure_rate {
        gauge!("resilience_circuitbreaker_failure_rate", labels.to_vec()).set(rate);
    }
    if let Some(rate) = metrics.slow_call_rate {
        gauge!("resilience_circuitbreaker_slow_call_rate", labels.to_vec()).set(rate);
    }
    gauge!("resilience_circuitbreaker_buffered_calls", labels.to_vec())
        .set(f64::from(metrics.window_calls));
    counter!(
        "resilience_circuitbreaker_open_seconds_total",
        labels.to_vec()
    )
    .absolute(metrics.open_duration.as_secs());
}

pub(super) fn bulkheads(registry: &Registry) {
    for Group { labels, instances } in groups(registry, registry.bulkheads(), |b| b.name()) {
        let all: Vec<_> = instances.iter().map(|b| b.metrics()).collect();
        let metrics = family::bulkheads(&all);
        gauge!(
            "resilience_bulkhead_available_concurrent_calls",
            labels.to_vec()
        )
        .set(metrics.available_concurrent_calls as f64);
        gauge!(
            "resilience_bulkhead_max_allowed_concurrent_calls",
            labels.to_vec()
        )
        .set(metrics.max_allowed_concurrent_calls as f64);
        for (kind, count) in [
            ("permitted", metrics.permitted_calls),
            ("rejected", metrics.rejected_calls),
        ] {
            counter!(
                "resilience_bulkhead_calls_total",
                with(&labels, &[("kind", kind)])
            )
            .absolute(count);
        }
    }
}

pub(super) fn rate_limiters(registry: &Registry) {
    for Group { labels, instances } in groups(registry, registry.rate_limiters(), |l| l.name()) {
        let all: Vec<_> = instances.iter().map(|l| l.metrics()).collect();
        let metrics = family::rate_limiters(&all);
        gauge!(
            "resilience_ratelimiter_available_permissions",
            labels.to_vec()
        )
        .set(metrics.available_permissions);
        gauge!("resilience_ratelimiter_waiting_calls", labels.to_vec())
            .set(metrics.waiting_calls as f64);
        // Only limiters on a store have these: the others would add series of zeros.
        if instances.iter().any(|l| l.config().store != Store::Local) {
            counter!("resilience_ratelimiter_store_errors_total", labels.to_vec())
                .absolute(metrics.store_errors);
            let reaching = instances
                .iter()
                .filter(|l| matches!(l.store_status(), StoreStatus::Available))
                .count();
            gauge!("resilience_ratelimiter_store_available", labels.to_vec())
                .set(reaching as f64 / instances.len() as f64);
        }
        for (kind, count) in [
            ("permitted", metrics.permitted_calls),
            ("rejected", metrics.rejected_calls),
        ] {
            counter!(
                "resilience_ratelimiter_calls_total",
                with(&labels, &[("kind", kind)])
            )
            .absolute(count);
        }
    }
}
