//! `#[time_limiter]`: an async call that runs past `timeout` is cancelled by
//! dropping its future, and returns `Error::Timeout` through your error type.
//! On a sync function the attribute is a compile error: a running sync body
//! cannot be stopped.
//!
//! `cargo run --example time_limiter` (on tokio's paused clock, so it is instant)

use std::time::Duration;

use resilience_runtime::{registry, time_limiter};

#[derive(Debug, thiserror::Error)]
enum SearchError {
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

/// Says so when the search is dropped before it finishes.
struct InFlight(&'static str);

impl Drop for InFlight {
    fn drop(&mut self) {
        println!("  (the {} search's future was dropped)", self.0);
    }
}

#[time_limiter(name = "search", timeout = "2s")]
async fn search(label: &'static str, takes: Duration) -> Result<&'static str, SearchError> {
    let in_flight = InFlight(label);
    tokio::time::sleep(takes).await;
    // Finished: nothing to report.
    std::mem::forget(in_flight);
    Ok(label)
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    println!("A search that takes 1.5s, under a 2s timeout:");
    println!("  {:?}", search("quick", Duration::from_millis(1500)).await);

    println!("A search that would take 5s:");
    let slow = search("slow", Duration::from_secs(5)).await;
    println!("  {:?}", slow.map_err(|e| e.to_string()));

    let timeouts = registry().time_limiter("search").timeouts();
    println!("registry().time_limiter(\"search\").timeouts() = {timeouts}");
}
