use resilience_runtime::bulkhead;

#[bulkhead(max_concurrent = 0)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
