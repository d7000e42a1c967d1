//! `#[bulkhead]`: at most `max_concurrent` calls at once. A sync and an async
//! function share the bulkhead named "reports": its slots are counted the same
//! way for both. Without `max_wait` a call finding no free slot is rejected at
//! once; with it, the call waits that long for one.
//!
//! `cargo run --example bulkhead` (real time: about half a second)

use std::time::Duration;

use resilience_runtime::{bulkhead, registry};

#[derive(Debug, thiserror::Error)]
enum ReportError {
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

/// Blocks its thread while it holds a slot.
#[bulkhead(name = "reports", max_concurrent = 2)]
fn render_blocking(id: u32) -> Result<String, ReportError> {
    std::thread::sleep(Duration::from_millis(200));
    Ok(format!("report {id}"))
}

#[bulkhead(name = "reports", max_concurrent = 2)]
async fn render(id: u32) -> Result<String, ReportError> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(format!("report {id}"))
}

#[bulkhead(max_concurrent = 1, max_wait = "1s")]
async fn export(id: u32) -> Result<String, ReportError> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(format!("export {id}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let thread = std::thread::spawn(|| render_blocking(1));
    // Give the thread time to take its slot.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reports = registry().bulkhead("reports");
    println!(
        "A sync caller holds a slot: {} of {} free",
        reports.available_slots(),
        reports.max_concurrent()
    );

    println!("Two async callers at once: one gets the last slot, one is rejected.");
    let (second, third) = tokio::join!(render(2), render(3));
    println!("  {:?}", second.map_err(|e| e.to_string()));
    println!("  {:?}", third.map_err(|e| e.to_string()));
    println!("  {:?}", thread.join().expect("the sync caller"));

    println!("With max_wait, the second caller waits for the slot instead:");
    let started = std::time::Instant::now();
    let timed = |result: Result<String, ReportError>| {
        format!("{result:?} after {:.1}s", started.elapsed().as_secs_f64())
    };
    let (first, second) = tokio::join!(async { timed(export(1).await) }, async {
        timed(export(2).await)
    });
    println!("  {first}\n  {second}");
    println!(
        "bulkhead \"reports\": {} of {} slots free, {} call rejected",
        reports.available_slots(),
        reports.max_concurrent(),
        reports.rejected_calls()
    );
}
