use resilience_runtime::retry;

#[retry(delay = "100ms", jitter = 1.5)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
