use std::time::Duration;

use resilience_runtime::circuit_breaker;

struct Inventory {
    recovery: Duration,
}

impl Inventory {
    #[circuit_breaker(name = "inventory", recovery_timeout = self.recovery)]
    fn reserve(&self) -> Result<u32, resilience_runtime::Error> {
        Ok(1)
    }
}

fn main() {}
