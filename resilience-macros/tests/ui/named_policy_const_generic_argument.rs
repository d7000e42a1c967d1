use resilience_runtime::bulkhead;

#[bulkhead(name = "inventory", max_concurrent = 2, max_wait = std::time::Duration::from_millis(MILLIS))]
fn reserve<const MILLIS: u64>() -> Result<u32, resilience_runtime::Error> {
    Ok(1)
}

fn main() {}
