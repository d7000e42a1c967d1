use resilience_runtime::circuit_breaker;

#[circuit_breaker(failure_rate_threshold = 0.5, window_size = 20, minimum_calls = 30)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
