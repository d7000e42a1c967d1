//! A rate limiter's bucket in Redis: one `EVALSHA` per check (redis-rs loads
//! the script again when the server answers `NOSCRIPT`, as after a restart).

use std::sync::LazyLock;
use std::time::Duration;

use super::{RedisStore, StoreError};

static TAKE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("gcra.lua")));
static GIVE_BACK: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("give_back.lua")));

/// A bucket's shape, in microseconds as the script reckons.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) interval_us: f64,
    pub(crate) burst_us: f64,
    pub(crate) max_wait_us: u64,
    pub(crate) fixed_quota: bool,
}

/// What Redis decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A token is taken; it comes after this wait.
    Taken(Duration),
    /// No token within `max_wait`; one would come after this wait.
    Refused(Duration),
}

/// Takes a token from the bucket `key`, within `timeout`.
pub(crate) async fn take(
    store: &RedisStore,
    key: &str,
    shape: Shape,
    timeout: Duration,
) -> Result<Verdict, StoreError> {
    let (taken, wait): (u8, i64) = store
        .run(timeout, async |connection| {
            TAKE.key(key)
                .arg(shape.interval_us)
                .arg(shape.burst_us)
                .arg(shape.max_wait_us)
                .arg(if shape.fixed_quota { "1" } else { "0" })
                .invoke_async(connection)
                .await
        })
        .await?;
    let wait = Duration::from_micros(wait.max(0) as u64);
    Ok(if taken == 1 {
        Verdict::Taken(wait)
    } else {
        Verdict::Refused(wait)
    })
}

/// Gives back a token taken by [`take`] whose caller stopped waiting for it.
pub(crate) async fn give_back(
    store: &RedisStore,
    key: &str,
    shape: Shape,
    timeout: Duration,
) -> Result<(), StoreError> {
    store
        .run(timeout, async |connection| {
            GIVE_BACK
                .key(key)
                .arg(shape.interval_us)
                .invoke_async::<()>(connection)
                .await
        })
        .await
}
