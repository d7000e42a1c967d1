//! `#[retry]` on a sync function: exponential backoff with a cap and jitter, and
//! an `on` filter that leaves permanent errors alone.
//!
//! `cargo run --example retry`

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use resilience_runtime::{registry, retry, Event};

#[derive(Debug, thiserror::Error)]
enum ConfigError {
    #[error("config server busy")]
    Busy,
    #[error("no config named {0:?}")]
    NotFound(String),
}

impl ConfigError {
    fn is_transient(&self) -> bool {
        matches!(self, ConfigError::Busy)
    }
}

static CALLS: AtomicU32 = AtomicU32::new(0);

/// Busy for the first three calls, then answers; a sync function, so the
/// retry's waits block this thread.
#[retry(name = "config", max_attempts = 5, delay = "20ms", backoff = 2.0, max_delay = "50ms",
        jitter = 0.2, on = ConfigError::is_transient)]
fn load_config(name: &str) -> Result<String, ConfigError> {
    let call = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    println!("  attempt {call}: load {name:?}");
    if name != "app" {
        return Err(ConfigError::NotFound(name.to_owned()));
    }
    if call <= 3 {
        return Err(ConfigError::Busy);
    }
    Ok("port = 8080".to_owned())
}

fn main() {
    registry().on_event(|event| {
        if let Event::RetryScheduled { delay, .. } = event {
            // 20ms, 40ms, then 80ms capped at 50ms; each moved by up to 20% first.
            println!("    failed; next attempt in {delay:.1?}");
        }
    });

    println!("A busy config server: retried with growing waits.");
    let started = Instant::now();
    let config = load_config("app");
    println!("  => {config:?} after {:.0?}", started.elapsed());

    println!("A missing config: `on` says it is permanent, so there is no retry.");
    CALLS.store(0, Ordering::Relaxed);
    println!("  => {:?}", load_config("nope"));

    let retry = registry().retry("config");
    println!(
        "registry().retry(\"config\"): retries() = {}, exhausted() = {}",
        retry.retries(),
        retry.exhausted()
    );
}
