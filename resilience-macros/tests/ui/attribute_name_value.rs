use resilience_runtime::{fallback, retry};

#[fallback(value = 0)]
#[retry = 3]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
