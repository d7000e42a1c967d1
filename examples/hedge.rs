//! `#[hedge]`: a call that has not answered after `delay` gets a copy
//! beside it, and the first `Ok` wins; the slower copy's future is dropped.
//! With `delay = "p90"`, the delay follows the recent latencies.
//!
//! `cargo run --example hedge` (on tokio's paused clock, so it is instant)

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use resilience_runtime::{hedge, registry};
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
#[error("replica unavailable")]
struct ReplicaError;

/// A replica set where the first copy of each call lands on the replica
/// that takes `first`, and any copy after it on one that takes 5 ms.
async fn replica(copies: &AtomicU32, first: Duration) -> Result<&'static str, ReplicaError> {
    let copy = copies.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(if copy == 0 {
        first
    } else {
        Duration::from_millis(5)
    })
    .await;
    Ok(if copy == 0 { "primary" } else { "hedge" })
}

#[hedge(name = "search", delay = "50ms")]
async fn search(copies: &AtomicU32, first: Duration) -> Result<&'static str, ReplicaError> {
    replica(copies, first).await
}

/// Every replica takes `takes`.
#[hedge(name = "lookup", delay = "p90", delay_floor = "5ms")]
async fn lookup(takes: Duration) -> Result<(), ReplicaError> {
    tokio::time::sleep(takes).await;
    Ok(())
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    for first in [20, 2000] {
        let started = Instant::now();
        let answer = search(&AtomicU32::new(0), Duration::from_millis(first)).await;
        println!(
            "search, primary replica taking {first}ms: {answer:?} after {:?}",
            started.elapsed()
        );
    }
    println!("{:?}", registry().hedge("search").metrics());

    let hedge = registry().hedge("lookup");
    for ms in [10, 40] {
        for _ in 0..50 {
            lookup(Duration::from_millis(ms)).await.unwrap();
        }
        println!(
            "lookup after 50 calls of {ms}ms: hedged after {:?}",
            hedge.current_delay()
        );
    }
}
