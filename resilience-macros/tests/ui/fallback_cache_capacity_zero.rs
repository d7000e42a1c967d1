use resilience_runtime::fallback;

#[fallback(cache = "5m", cache_capacity = 0)]
fn fetch(id: u32) -> Result<u32, std::io::Error> {
    Ok(id)
}

fn main() {}
