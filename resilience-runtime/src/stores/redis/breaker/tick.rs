//! One tick of a shared breaker: a single pipelined round trip, then what
//! the replica makes of the answer. The pipeline, in order (the commands in
//! brackets only when they apply), under the breaker's base key
//! `{prefix}:cb:{name}`:
//!
//! | commands | what for |
//! |---|---|
//! | `TIME` | Redis's clock, which places the next tick's bucket |
//! | [`HINCRBY w:B s n`, `HINCRBY w:B f n`, `PEXPIRE w:B ttl`] | the outcomes counted since the last tick, into the current bucket |
//! | [`SET open V PX left NX`] | an OPEN of this replica's that the fleet does not know yet |
//! | `GET open`, `PTTL open` | the fleet's OPEN, and its time left |
//! | [`DEL probe:I ...`, `SET closed V PX lease`] | the slots of a HALF_OPEN state that ended, and its close if its probes made it |
//! | [`GET probe:I`, `PEXPIRE probe:I lease`; `SET probe:I ID NX PX lease`] | while HALF_OPEN: the slots held (renewed), and those asked for |
//! | [`GET closed`] | while HALF_OPEN: whether another replica's probes closed the fleet |
//! | [`HMGET w:B s f` for each bucket] | while CLOSED: the fleet's window |

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;
use redis::{from_redis_value, Pipeline, RedisResult, Value};

use super::window::{Buckets, Tally};
use crate::circuit_breaker::{CircuitBreakerConfig, FleetView};
use crate::{CircuitBreaker, CircuitState};

/// What one replica's task remembers from tick to tick.
#[derive(Debug)]
pub(super) struct Replica {
    /// This replica, in the probe slots it holds and the OPENs it publishes.
    id: String,
    /// The counts as last sent: each tick sends what they grew by.
    sent: (u64, u64),
    /// Refused calls as the last tick read them: more since are callers
    /// waiting for a probe slot.
    refused: u64,
    /// Redis's clock minus this host's, in milliseconds, from the last `TIME`.
    offset_ms: i64,
    /// The first bucket judged: those before hold the outcomes of before
    /// the breaker last closed.
    judged_from: u64,
    /// The breaker's state and epoch at the last tick.
    seen: Option<(CircuitState, u32)>,
    /// The OPEN state (its epoch) the fleet knows of: published by this
    /// replica, or taken from the fleet's.
    published: Option<u32>,
    /// The value of the fleet's OPEN this replica last published or obeyed,
    /// which tells a new OPEN from one already obeyed.
    round: Option<String>,
    /// The probe slots held, for the HALF_OPEN state of `slots_epoch`.
    slots: Vec<u32>,
    slots_epoch: u32,
}

impl Replica {
    pub(super) fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // Process ids repeat across hosts: a random part keeps ids apart.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(n);
        Replica {
            id: format!("{}-{n}-{:016x}", std::process::id(), hasher.finish()),
            sent: (0, 0),
            refused: 0,
            offset_ms: 0,
            judged_from: 0,
            seen: None,
            published: None,
            round: None,
            slots: Vec::new(),
            slots_epoch: 0,
        }
    }

    /// The store failed a tick: the slots held lapse with their lease, as
    /// a replica without its store admits its own probes.
    pub(super) fn lost(&mut self) {
        self.slots.clear();
    }
}

/// Keys under the breaker's base key.
struct Keys<'a>(&'a str);

impl Keys<'_> {
    fn bucket(&self, index: u64) -> String {
        format!("{}:w:{index}", self.0)
    }
    fn open(&self) -> String {
        format!("{}:open", self.0)
    }
    fn closed(&self) -> String {
        format!("{}:closed", self.0)
    }
    fn probe(&self, slot: u32) -> String {
        format!("{}:probe:{slot}", self.0)
    }
}

/// How long a probe slot (and the news of a close) lasts without renewal:
/// ten sync intervals, at least a second. A replica renews its slots every
/// tick, so the lease only bounds how long one that died keeps them.
fn lease(config: &CircuitBreakerConfig) -> Duration {
    (config.sync_interval * 10).max(Duration::from_secs(1))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

fn unix_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Syncs `breaker` with the fleet once: see the [module](self).
pub(super) async fn tick(
    breaker: &CircuitBreaker,
    replica: &mut Replica,
    connection: &mut ConnectionManager,
    base: &str,
) -> RedisResult<()> {
    let config = breaker.config().clone();
    let view = breaker.fleet_view();
    let keys = Keys(base);
    let buckets = Buckets::new(config.window_duration);
    let now_ms = u64::try_from(unix_ms().saturating_add(replica.offset_ms)).unwrap_or(0);
    let lease_ms = millis(lease(&config));
    if view.state == CircuitState::Closed
        && replica.seen.is_some_and(|(_, epoch)| epoch != view.epoch)
    {
        // The local window starts over on a close; the fleet's is judged
        // from the next bucket on.
        replica.judged_from = buckets.index(now_ms) + 1;
    }
    let (successes, failures) = counted_since(&mut replica.sent, view);
    let wanted = view.refused > replica.refused;
    replica.refused = view.refused;
    replica.seen = Some((view.state, view.epoch));

    let mut pipe = redis::pipe();
    pipe.cmd("TIME");
    if successes + failures > 0 {
        let bucket = keys.bucket(buckets.index(now_ms));
        pipe.cmd("HINCRBY")
            .arg(&bucket)
            .arg("s")
            .arg(successes)
            .ignore();
        pipe.cmd("HINCRBY")
            .arg(&bucket)
            .arg("f")
            .arg(failures)
            .ignore();
        pipe.cmd("PEXPIRE")
            .arg(&bucket)
            .arg(buckets.expiry_ms())
            .ignore();
    }
    let publish = match view.open_left {
        Some(left) if view.state == CircuitState::Open && replica.published != Some(view.epoch) => {
            let value = format!("{}:{}", now_ms + millis(left), replica.id);
            pipe.cmd("SET")
                .arg(keys.open())
                .arg(&value)
                .arg("PX")
                .arg(millis(left))
                .arg("NX");
            Some(value)
        }
        _ => None,
    };
    pipe.cmd("GET").arg(keys.open());
    pipe.cmd("PTTL").arg(keys.open());
    release_slots(&mut pipe, replica, view, &keys, lease_ms);
    let half_open = view.state == CircuitState::HalfOpen;
    let asked = if half_open {
        ask_for_slots(&mut pipe, replica, view, &config, &keys, lease_ms, wanted)
    } else {
        Vec::new()
    };
    if half_open {
        pipe.cmd("GET").arg(keys.closed());
    }
    let window =
        (view.state == CircuitState::Closed).then(|| buckets.window(now_ms, replica.judged_from));
    for index in window.clone().into_iter().flatten() {
        pipe.cmd("HMGET").arg(keys.bucket(index)).arg("s").arg("f");
    }

    let sent_at = unix_ms();
    let replies: Vec<Value> = pipe.query_async(connection).await?;
    // The store answers: the probes are the fleet's to bound (again).
    breaker.bound_probes(true);
    let mut replies = replies.into_iter();
    let mut next = || replies.next().unwrap_or(Value::Nil);

    let (seconds, micros): (i64, i64) = from_redis_value(next())?;
    // Redis read its clock about halfway through the round trip.
    let midway = sent_at + (unix_ms() - sent_at) / 2;
    replica.offset_ms = seconds * 1_000 + micros / 1_000 - midway;
    let set = publish.as_ref().map(|_| next());
    let fleet_open: Option<String> = from_redis_value(next())?;
    let fleet_left: i64 = from_redis_value(next())?;
    if let (Some(value), Some(set)) = (publish, set) {
        if set == Value::Okay {
            replica.round = Some(value);
            replica.published = Some(view.epoch);
        } else if fleet_open.is_some() && fleet_open != replica.round {
            // Another replica opened the fleet first: this OPEN is that one.
            replica.round = fleet_open.clone();
            replica.published = Some(view.epoch);
        }
        // Else the OPEN already obeyed has yet to expire: the next tick
        // publishes again.
    }
    let mut held = Vec::new();
    for (slot, renewed) in asked {
        let reply = next();
        let ours = if renewed {
            from_redis_value::<Option<String>>(reply)?.as_deref() == Some(replica.id.as_str())
        } else {
            reply == Value::Okay
        };
        if ours {
            held.push(slot);
        }
    }
    let fleet_closed: Option<String> = if half_open {
        from_redis_value(next())?
    } else {
        None
    };
    if half_open {
        replica.slots = held;
    }
    let mut tally = Tally::default();
    for _ in window.into_iter().flatten() {
        let (s, f): (Option<u64>, Option<u64>) = from_redis_value(next())?;
        tally.successes += s.unwrap_or(0);
        tally.failures += f.unwrap_or(0);
    }

    if let (Some(value), true) = (fleet_open, fleet_left > 0) {
        if replica.round.as_ref() != Some(&value) {
            let left = Duration::from_millis(fleet_left.unsigned_abs());
            if obey(breaker, view, left, &config) {
                replica.published = Some(view.epoch.wrapping_add(1));
            } else if view.state == CircuitState::Open {
                replica.published = Some(view.epoch);
            }
            replica.round = Some(value);
            return Ok(());
        }
    }
    if half_open {
        if fleet_closed.is_some() && fleet_closed == replica.round {
            breaker.fleet_close(view.epoch);
            return Ok(());
        }
        breaker.grant_probes(view.epoch, replica.slots.len() as u32);
    }
    if view.state == CircuitState::Closed {
        if let Some(rate) = tally.exceeds(config.judged_from(), threshold(&config)) {
            breaker.fleet_trip(view.epoch, rate);
        }
    }
    Ok(())
}

/// The outcomes counted since the last tick, which are sent now (or lost
/// with it, if it fails: see `docs/redis.md`).
fn counted_since(sent: &mut (u64, u64), view: FleetView) -> (u64, u64) {
    let now = (view.successes, view.failures);
    // Fewer than sent: the breaker was reset, and counts from zero.
    if now.0 < sent.0 || now.1 < sent.1 {
        *sent = (0, 0);
    }
    let counted = (now.0 - sent.0, now.1 - sent.1);
    *sent = now;
    counted
}

/// Frees the slots of a HALF_OPEN state that has ended, and, if its probes
/// closed the circuit, tells the fleet.
fn release_slots(
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

/// While HALF_OPEN: renews the slots held, and asks for the others if
/// callers wait for one. A replica whose callers have gone gives its slots
/// back, so that an idle replica never holds the fleet's probes. Returns
/// each slot with whether it was held (renewed) or asked for.
fn ask_for_slots(
    pipe: &mut Pipeline,
    replica: &mut Replica,
    view: FleetView,
    config: &CircuitBreakerConfig,
    keys: &Keys<'_>,
    lease_ms: u64,
    wanted: bool,
) -> Vec<(u32, bool)> {
    if replica.slots_epoch != view.epoch {
        replica.slots.clear();
        replica.slots_epoch = view.epoch;
    }
    if !wanted && view.probes_taken == 0 {
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
        } else if wanted {
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

/// Opens the breaker for the fleet's OPEN with `left` to go, unless it is
/// OPEN already for as long (within a sync interval) or in a state of its
/// own (forced, disabled, metrics only).
fn obey(
    breaker: &CircuitBreaker,
    view: FleetView,
    left: Duration,
    config: &CircuitBreakerConfig,
) -> bool {
    match view.state {
        CircuitState::Closed | CircuitState::HalfOpen => breaker.fleet_open(view.epoch, left),
        CircuitState::Open if view.open_left.unwrap_or_default() + config.sync_interval < left => {
            breaker.fleet_open(view.epoch, left)
        }
        _ => false,
    }
}

fn threshold(config: &CircuitBreakerConfig) -> f64 {
    // Validation requires a rate with the Redis store.
    config.failure_rate_threshold.unwrap_or(1.0)
}
