use resilience_runtime::fallback;

#[fallback(value = 0, cache_capacity = 100)]
fn fetch(id: u32) -> Result<u32, std::io::Error> {
    Ok(id)
}

fn main() {}
