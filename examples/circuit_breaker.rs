//! `#[circuit_breaker]`: two functions share the breaker named "inventory"; it
//! opens after three failures in a row, rejects calls while open, then lets one
//! probe through and closes when it succeeds. `on` keeps "no such item" from
//! counting as a failure of the inventory service.
//!
//! `cargo run --example circuit_breaker` (on tokio's paused clock, so it is instant)

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use resilience_runtime::{circuit_breaker, registry};

#[derive(Debug, thiserror::Error)]
enum InventoryError {
    #[error("inventory service down")]
    Down,
    #[error("no item {0:?}")]
    NoSuchItem(String),
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

impl InventoryError {
    fn is_outage(&self) -> bool {
        matches!(self, InventoryError::Down)
    }
}

static SERVICE_UP: AtomicBool = AtomicBool::new(true);

fn inventory_service(item: &str) -> Result<u32, InventoryError> {
    if !SERVICE_UP.load(Ordering::Relaxed) {
        return Err(InventoryError::Down);
    }
    match item {
        "widget" => Ok(12),
        _ => Err(InventoryError::NoSuchItem(item.to_owned())),
    }
}

#[circuit_breaker(name = "inventory", failure_threshold = 3, recovery_timeout = "10s",
                  half_open_max_calls = 1, on = InventoryError::is_outage)]
async fn stock_level(item: &str) -> Result<u32, InventoryError> {
    inventory_service(item)
}

#[circuit_breaker(name = "inventory", failure_threshold = 3, recovery_timeout = "10s",
                  half_open_max_calls = 1, on = InventoryError::is_outage)]
async fn reserve(item: &str) -> Result<(), InventoryError> {
    inventory_service(item).map(drop)
}

fn show<T: std::fmt::Debug>(call: &str, result: Result<T, InventoryError>) {
    let result = match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(error) => format!("Err: {error}"),
    };
    let state = registry().circuit_breaker("inventory").state();
    println!("{call:<22} {result:<42} breaker {state}");
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    show("stock_level(\"gadget\")", stock_level("gadget").await);
    SERVICE_UP.store(false, Ordering::Relaxed);
    for _ in 0..3 {
        show("stock_level(\"widget\")", stock_level("widget").await);
    }
    // The breaker is shared: the other function is cut off as well.
    show("reserve(\"widget\")", reserve("widget").await);

    tokio::time::sleep(Duration::from_secs(10)).await;
    SERVICE_UP.store(true, Ordering::Relaxed);
    // Reading the state after `recovery_timeout` is what turns it half-open.
    println!(
        "10s later, the breaker is {}",
        registry().circuit_breaker("inventory").state()
    );
    show("reserve(\"widget\")", reserve("widget").await);

    let m = registry().circuit_breaker("inventory").metrics();
    println!(
        "metrics: {} succeeded, {} failed, {} not permitted",
        m.successful_calls, m.failed_calls, m.not_permitted_calls
    );
}
