use std::time::Duration;

use resilience_runtime::{bulkhead, retry};

#[retry(name = "inventory", max_attempts = 2, delay = Duration::from_millis(low))]
#[bulkhead(name = "inventory", max_concurrent = 2, max_wait = wait)]
fn reserve(wait: Duration, (low, _high): (u64, u64)) -> Result<u32, resilience_runtime::Error> {
    let _ = (wait, low);
    Ok(1)
}

fn main() {}
