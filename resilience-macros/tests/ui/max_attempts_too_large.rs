use resilience_runtime::retry;

#[retry(max_attempts = 5_000_000_000)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
