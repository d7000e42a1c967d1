//! A keyed family in the snapshot: one entry whose metrics are its members'
//! summed, each member listed only when per-key detail is on.

use std::sync::Arc;

use super::{InstanceSnapshot, MemberSnapshot, PolicyMetrics};
use crate::config::PolicyKind;
use crate::keyed::Family;
use crate::registry::Policy;
use crate::telemetry::family::{self, per_key_metrics};
use crate::{Bulkhead, CircuitBreaker, InstanceInfo, RateLimiter, Registry};

/// A family's members as read now, with its eviction count; none for a
/// family not made yet (nothing is made to read it).
struct Read<T> {
    members: Vec<(String, T)>,
    evicted: u64,
}

fn read<P: Policy, T>(family: Option<Arc<Family<P>>>, metrics: impl Fn(&P) -> T) -> Read<T> {
    family.map_or(
        Read {
            members: Vec::new(),
            evicted: 0,
        },
        |family| Read {
            members: family
                .members()
                .into_iter()
                .map(|(key, member)| (key, metrics(&member)))
                .collect(),
            evicted: family.evicted(),
        },
    )
}

impl Registry {
    /// The snapshot of the keyed family `info` lists.
    pub(super) fn read_family(&self, info: InstanceInfo) -> InstanceSnapshot {
        let per_key = per_key_metrics();
        let (counts, metrics, member_states) = match info.kind {
            PolicyKind::CircuitBreaker => {
                let read = read(self.made_family::<CircuitBreaker>(&info.name), |breaker| {
                    let metrics = breaker.metrics();
                    (metrics, breaker.outage_duration(metrics.state))
                });
                let reads: Vec<_> = read.members.iter().map(|(_, read)| *read).collect();
                let ((metrics, outage_duration), states) = family::breakers(&reads);
                let members = per_key.then(|| {
                    members(&read.members, |&(metrics, outage_duration)| {
                        (
                            Some(metrics.state),
                            PolicyMetrics::CircuitBreaker {
                                metrics,
                                outage_duration,
                            },
                        )
                    })
                });
                (
                    (read.members.len(), read.evicted, members),
                    PolicyMetrics::CircuitBreaker {
                        metrics,
                        outage_duration,
                    },
                    Some(states),
                )
            }
            PolicyKind::Bulkhead => {
                let read = read(self.made_family::<Bulkhead>(&info.name), Bulkhead::metrics);
                let all: Vec<_> = read.members.iter().map(|(_, m)| *m).collect();
                let members = per_key
                    .then(|| members(&read.members, |m| (None, PolicyMetrics::Bulkhead(*m))));
                (
                    (read.members.len(), read.evicted, members),
                    PolicyMetrics::Bulkhead(family::bulkheads(&all)),
                    None,
                )
            }
            PolicyKind::RateLimiter => {
                let read = read(
                    self.made_family::<RateLimiter>(&info.name),
                    RateLimiter::metrics,
                );
                let all: Vec<_> = read.members.iter().map(|(_, m)| *m).collect();
                let members = per_key
                    .then(|| members(&read.members, |m| (None, PolicyMetrics::RateLimiter(*m))));
                (
                    (read.members.len(), read.evicted, members),
                    PolicyMetrics::RateLimiter(family::rate_limiters(&all)),
                    None,
                )
            }
            kind => {
                unreachable!("only breakers, bulkheads and rate limiters are keyed, not {kind}")
            }
        };
        let (keys, evicted, members) = counts;
        InstanceSnapshot {
            kind: info.kind,
            name: info.name,
            state: None,
            metrics,
            settings: info.settings,
            call_sites: info.call_sites,
            keyed: true,
            keys: Some(keys),
            evicted: Some(evicted),
            member_states,
            members,
        }
    }
}

fn members<T>(
    read: &[(String, T)],
    snapshot: impl Fn(&T) -> (Option<crate::CircuitState>, PolicyMetrics),
) -> Vec<MemberSnapshot> {
    read.iter()
        .map(|(key, read)| {
            let (state, metrics) = snapshot(read);
            MemberSnapshot {
                key: key.clone(),
                state,
                metrics,
            }
        })
        .collect()
}
