use resilience_runtime::retry;

#[retry(delay = "100ms", backoff = true)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
