//! Keeping a family within `max_keys`: the least recently used members go
//! first, idle ones before busy ones.

use std::sync::Arc;

use super::table::{Table, Writer};
use super::Keyed;

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
    // The table holds one count; any other is a call.
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
pub(super) fn oldest<P: Keyed>(table: &Table<P>, writer: &mut Writer, max_keys: usize) -> usize {
    let excess = table.len().saturating_sub(max_keys - max_keys / 16);
    if excess == 0 {
        return 0;
    }
    let mut by_age: Vec<(u64, usize)> = Vec::with_capacity(table.len());
    table
        .pin()
        .each(|entry| by_age.push((entry.recency, entry.index)));
    by_age.sort_unstable();
    let mut dropped = 0;
    let mut busy_ones = Vec::new();
    for (age, &(_, index)) in by_age.iter().enumerate() {
        if dropped == excess {
            return dropped;
        }
        let mut rank = Busy::Idle;
        let removed = table.remove_if(writer, index, |policy| {
            rank = busy(policy);
            rank == Busy::Idle
        });
        if removed {
            dropped += 1;
        } else {
            busy_ones.push((rank, age, index));
        }
    }
    // Too few idle members: the busy ones go, stateful before in flight, oldest first.
    busy_ones.sort_unstable();
    for (rank, _, index) in busy_ones {
        if dropped == excess {
            break;
        }
        dropped += usize::from(table.remove_if(writer, index, |policy| busy(policy) == rank));
    }
    dropped
}
