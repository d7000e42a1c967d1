use resilience_runtime::fallback;

#[fallback(method = "cached")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
