use resilience_runtime::{bulkhead, retry};

#[retry(crate = resilience_runtime, max_attempts = 3)]
#[bulkhead(max_concurrent = 2, crate = resilience)]
fn fetch() -> Result<u32, resilience_runtime::Error> {
    Ok(1)
}

fn main() {}
