//! Health judged on an interval, so that alerts fire with no probe calling.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{interval, MissedTickBehavior};

use crate::registry;

/// Spawns a tokio task that calls [`Registry::health`](crate::Registry::health)
/// every `interval`, the first time at once, so that each alert is reported
/// (as [`Event::HealthChanged`](crate::Event::HealthChanged), and under
/// `tracing`) within `interval` of its start or end, and so that the
/// rejection rates have samples to compare with. Abort the handle to stop it.
///
/// # Panics
///
/// Outside a tokio runtime, and if `interval` is zero.
///
/// ```
/// use resilience_runtime::telemetry::watch_health;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let watcher = watch_health(Duration::from_secs(10));
/// // ... serve ...
/// watcher.abort();
/// # }
/// ```
pub fn watch_health(every: Duration) -> JoinHandle<()> {
    assert!(
        !every.is_zero(),
        "watch_health: the interval must be longer than zero"
    );
    tokio::spawn(async move {
        let mut ticks = interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            registry().health();
        }
    })
}
