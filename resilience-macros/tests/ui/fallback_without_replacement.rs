use resilience_runtime::fallback;

#[fallback]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
