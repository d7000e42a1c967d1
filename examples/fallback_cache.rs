//! `#[fallback(cache = ...)]`: serve the last good answer while the
//! downstream is down, then a sync method, then (outermost in the chain) a
//! default. Watch which source answered in each `FallbackUsed` event, and
//! the counts and settings in `registry().fallbacks()`.
//!
//! `cargo run --example fallback_cache --features fallback-cache`

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use resilience_runtime::{fallback, registry, Event};

static DOWN: AtomicBool = AtomicBool::new(false);

#[derive(Debug, thiserror::Error)]
#[error("exchange-rate service down")]
struct RateError;

/// A sync method for an async function: a fixed rate for the one currency
/// the shop knows by heart.
fn house_rate(currency: &str, _error: RateError) -> Result<f64, RateError> {
    match currency {
        "EUR" => Ok(1.08),
        _ => Err(RateError),
    }
}

#[fallback(value = 1.0)]
#[fallback(cache = "10m", cache_capacity = 100, method = house_rate)]
async fn usd_rate(currency: &str) -> Result<f64, RateError> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    match (DOWN.load(Ordering::Relaxed), currency) {
        (true, _) => Err(RateError),
        (false, "GBP") => Ok(1.27),
        (false, "EUR") => Ok(1.09),
        (false, _) => Ok(0.0068),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    registry().on_event(|event| {
        if let Event::FallbackUsed { name, source, .. } = event {
            println!("  ({name}: answered by the {source})");
        }
    });
    println!("GBP while up: {}", usd_rate("GBP").await.unwrap());
    DOWN.store(true, Ordering::Relaxed);
    println!("the exchange-rate service goes down");
    println!("GBP: {}", usd_rate("GBP").await.unwrap());
    println!("EUR: {}", usd_rate("EUR").await.unwrap());
    println!("JPY: {}", usd_rate("JPY").await.unwrap());
    for fallback in registry().fallbacks() {
        println!(
            "{}: {} cache hits, {} misses, {} by method, {} by value",
            fallback.name,
            fallback.cache_hits,
            fallback.cache_misses,
            fallback.method_calls,
            fallback.value_calls
        );
        for site in &fallback.sites {
            println!(
                "  {}:{} cache {:?}, capacity {:?}",
                site.call_site.file, site.call_site.line, site.cache, site.cache_capacity
            );
        }
    }
}
