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

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;
use redis::{from_redis_value, RedisResult, Value};

use super::replica::{Answer, Replica};
use super::slots::{self, Wants};
use super::window::{Buckets, Tally};
use crate::{CircuitBreaker, CircuitState};

/// Keys under the breaker's base key.
pub(super) struct Keys<'a>(pub(super) &'a str);

impl Keys<'_> {
    fn bucket(&self, index: u64) -> String {
        format!("{}:w:{index}", self.0)
    }
    fn open(&self) -> String {
        format!("{}:open", self.0)
    }
    pub(super) fn closed(&self) -> String {
        format!("{}:closed", self.0)
    }
    pub(super) fn probe(&self, slot: u32) -> String {
        format!("{}:probe:{slot}", self.0)
    }
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
    let lease_ms = millis(slots::lease(&config));
    if view.state == CircuitState::Closed && replica.seen.is_some_and(|epoch| epoch != view.epoch) {
        // The local window starts over on a close; the fleet's is judged
        // from the next bucket on.
        replica.judged_from = buckets.index(now_ms) + 1;
    }
    replica.seen = Some(view.epoch);
    let (successes, failures) = replica.counted_since(view);
    let wanted = view.refused > replica.refused;
    replica.refused = view.refused;

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
    slots::release(&mut pipe, replica, view, &keys, lease_ms);
    let half_open = view.state == CircuitState::HalfOpen;
    let asked = if half_open {
        let wants = if wanted {
            Wants::More
        } else if view.probes_taken == 0 && breaker.withdraw_probes(view.epoch) {
            Wants::GiveBack
        } else {
            Wants::Held
        };
        let asked = slots::ask(&mut pipe, replica, view, &config, &keys, lease_ms, wants);
        pipe.cmd("GET").arg(keys.closed());
        asked
    } else {
        Vec::new()
    };
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
    let mut answer = Answer {
        published: publish.map(|value| (value, next() == Value::Okay)),
        ..Answer::default()
    };
    let open: Option<String> = from_redis_value(next())?;
    let left: i64 = from_redis_value(next())?;
    answer.open = open
        .filter(|_| left > 0)
        .map(|value| (value, Duration::from_millis(left.unsigned_abs())));
    for (slot, renewed) in asked {
        let reply = next();
        let ours = if renewed {
            from_redis_value::<Option<String>>(reply)?.as_deref() == Some(replica.id.as_str())
        } else {
            reply == Value::Okay
        };
        if ours {
            answer.held.push(slot);
        }
    }
    if half_open {
        answer.closed = from_redis_value(next())?;
    }
    if let Some(window) = window {
        let mut tally = Tally::default();
        for _ in window {
            let (s, f): (Option<u64>, Option<u64>) = from_redis_value(next())?;
            tally.successes += s.unwrap_or(0);
            tally.failures += f.unwrap_or(0);
        }
        answer.window = Some(tally);
    }
    replica.apply(breaker, view, &config, answer);
    Ok(())
}
