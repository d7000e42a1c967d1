use resilience_runtime::circuit_breaker;

#[circuit_breaker(failure_rate_threshold = 0.5, minimum_calls = "5")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
