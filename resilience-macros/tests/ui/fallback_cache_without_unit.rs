use resilience_runtime::fallback;

#[fallback(cache = "5")]
fn fetch(id: u32) -> Result<u32, std::io::Error> {
    Ok(id)
}

fn main() {}
