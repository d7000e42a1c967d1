//! Keeping a family within `max_keys`: the least recently used members go
//! first, idle ones before busy ones.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use compact_str::CompactString;

use super::Keyed;

/// One key's instance, with the family's arrival count at its last use.
pub(super) struct Member<P> {
    policy: Arc<P>,
    last_used: AtomicU64,
}

impl<P> Member<P> {
    pub(super) fn new(policy: Arc<P>, arrival: u64) -> Self {
        Member {
            policy,
            last_used: AtomicU64::new(arrival),
        }
    }

    pub(super) fn policy(&self) -> &Arc<P> {
        &self.policy
    }

    /// The instance, marking it used as of `arrivals`. The mark is written
    /// only when it changes, so that the calls of a busy key do not all
    /// write its cache line.
    #[inline]
    pub(super) fn used(&self, arrivals: u64) -> Arc<P> {
        self.touch(arrivals).clone()
    }

    /// As [`used`](Self::used), lending the instance instead.
    #[inline]
    pub(super) fn touch(&self, arrivals: u64) -> &Arc<P> {
        if self.last_used.load(Ordering::Relaxed) != arrivals {
            self.last_used.store(arrivals, Ordering::Relaxed);
        }
        &self.policy
    }
}

/// How readily a member may go, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Busy {
    /// Nothing would be lost.
    Idle,
    /// No call holds it, but its state matters: an open breaker, a bucket
    /// still refilling.
    Stateful,
    /// A call holds it.
    InFlight,
}

fn busy<P: Keyed>(policy: &Arc<P>) -> Busy {
    // The map holds one reference; any other is a call.
    if Arc::strong_count(policy) > 1 {
        Busy::InFlight
    } else if policy.is_idle() {
        Busy::Idle
    } else {
        Busy::Stateful
    }
}

/// Drops members until at most `max_keys - max_keys / 16` remain, least busy
/// and least recently used first; returns how many went. Members are ranked
/// oldest first and asked whether they are busy only until enough idle ones
/// are found, since asking may read a clock. A member whose business changed
/// since it was asked is left for the next pass.
pub(super) fn oldest<P: Keyed>(
    members: &papaya::HashMap<CompactString, Member<P>>,
    max_keys: usize,
) -> usize {
    let members = members.pin();
    let excess = members.len().saturating_sub(max_keys - max_keys / 16);
    if excess == 0 {
        return 0;
    }
    let mut by_age: Vec<(u64, &CompactString, &Member<P>)> = members
        .iter()
        .map(|(key, member)| (member.last_used.load(Ordering::Relaxed), key, member))
        .collect();
    by_age.sort_unstable_by_key(|(last_used, ..)| *last_used);
    let remove = |key: &str, rank: Busy| {
        let removed = members.remove_if(key, |_, member| busy(&member.policy) == rank);
        matches!(removed, Ok(Some(_)))
    };
    let mut dropped = 0;
    let mut busy_ones = Vec::new();
    for (age, (_, key, member)) in by_age.iter().enumerate() {
        if dropped == excess {
            return dropped;
        }
        match busy(&member.policy) {
            Busy::Idle => dropped += usize::from(remove(key, Busy::Idle)),
            rank => busy_ones.push((rank, age)),
        }
    }
    // Too few idle members: the busy ones go, stateful before in flight, oldest first.
    busy_ones.sort_unstable();
    for (rank, age) in busy_ones {
        if dropped == excess {
            break;
        }
        dropped += usize::from(remove(by_age[age].1, rank));
    }
    dropped
}
