use std::time::Duration;

use resilience_runtime::bulkhead;

struct Inventory;

impl Inventory {
    const WAIT: Duration = Duration::from_millis(100);

    #[bulkhead(name = "inventory", max_concurrent = 2, max_wait = Self::WAIT)]
    fn reserve(&self) -> Result<u32, resilience_runtime::Error> {
        Ok(1)
    }
}

fn main() {}
