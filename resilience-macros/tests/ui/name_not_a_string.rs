use resilience_runtime::bulkhead;

#[bulkhead(name = inventory)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
