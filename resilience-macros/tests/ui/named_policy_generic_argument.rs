use std::time::Duration;

use resilience_runtime::retry;

trait Backend {
    const DELAY: Duration;
}

#[retry(name = "backend", max_attempts = 2, delay = T::DELAY, max_delay = <T as Backend>::DELAY)]
fn fetch<T: Backend>() -> Result<u32, resilience_runtime::Error> {
    Ok(1)
}

fn main() {}
