use resilience_runtime::retry;

const DELAY_MS: u64 = 200;

#[retry(delay = DELAY_MS)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
