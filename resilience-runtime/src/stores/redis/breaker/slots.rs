//! The fleet's probe slots, as one replica's tick asks for, renews and
//! gives back the ones it holds.

use std::time::Duration;

use redis::Pipeline;

use super::replica::Replica;
use super::tick::Keys;
use crate::circuit_breaker::{CircuitBreakerConfig, FleetView};
use crate::CircuitState;

/// How long a probe slot (and the news of a close) lasts without renewal:
/// ten sync intervals, at least a second. A replica renews its slots every
/// tick, so the lease only bounds how long one that died keeps them.
pub(super) fn lease(config: &CircuitBreakerConfig) -> Duration {
    config
        .sync_interval
        .saturating_mul(10)
        .max(Duration::from_secs(1))
}

/// Frees the slots of a HALF_OPEN state that has ended, and, if its probes
/// closed the circuit, tells the fleet.
pub(super) fn release(
    pipe: &mut Pipeline,
    replica: &mut Replica,
    view: FleetView,
    keys: &Keys<'_>,
    lease_ms: u64,
) {
    let ended = view.state != CircuitState::HalfOpen || view.epoch != replica.slots_epoch;
    if replica.slots.is_empty() || !ended {
        return;
    }
    for slot in replica.slots.drain(..) {
        pipe.cmd("DEL").arg(keys.probe(slot)).ignore();
    }
    let closed_by_probes =
        view.state == CircuitState::Closed && view.epoch == replica.slots_epoch.wrapping_add(1);
    if let (true, Some(round)) = (closed_by_probes, &replica.round) {
        pipe.cmd("SET")
            .arg(keys.closed())
            .arg(round)
            .arg("PX")
            .arg(lease_ms)
            .ignore();
    }
}

/// What a HALF_OPEN replica does with the fleet's probe slots this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wants {
    /// Callers wait for a probe: keep the slots held and ask for the others.
    More,
    /// Keep the slots held: a probe is out on one.
    Held,
    /// Give them back: the callers have gone, so that an idle replica never
    /// holds the fleet's probes. Only once the replica's own grant is
    /// withdrawn with no probe taken (`CircuitBreaker::withdraw_probes`):
    /// else a caller could still take a probe on a slot the fleet has back.
    GiveBack,
}

/// While HALF_OPEN: renews the slots held, asks for the others, or gives
/// them back, as `wants` says. Returns each slot with whether it was held
/// (renewed) or asked for.
pub(super) fn ask(
    pipe: &mut Pipeline,
    replica: &mut Replica,
    view: FleetView,
    config: &CircuitBreakerConfig,
    keys: &Keys<'_>,
    lease_ms: u64,
    wants: Wants,
) -> Vec<(u32, bool)> {
    if replica.slots_epoch != view.epoch {
        replica.slots.clear();
        replica.slots_epoch = view.epoch;
    }
    if wants == Wants::GiveBack {
        for slot in replica.slots.drain(..) {
            pipe.cmd("DEL").arg(keys.probe(slot)).ignore();
        }
        return Vec::new();
    }
    let mut asked = Vec::new();
    for slot in 0..config.half_open_max_calls {
        let key = keys.probe(slot);
        if replica.slots.contains(&slot) {
            pipe.cmd("GET").arg(&key);
            pipe.cmd("PEXPIRE").arg(&key).arg(lease_ms).ignore();
            asked.push((slot, true));
        } else if wants == Wants::More {
            pipe.cmd("SET")
                .arg(&key)
                .arg(&replica.id)
                .arg("NX")
                .arg("PX")
                .arg(lease_ms);
            asked.push((slot, false));
        }
    }
    asked
}
