use resilience_runtime::{circuit_breaker, retry};

#[retry(max_attempts = 0, delay = "soon", jitter = 2.0, retries = 3)]
#[circuit_breaker(failure_threshold = 0, name = "")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
