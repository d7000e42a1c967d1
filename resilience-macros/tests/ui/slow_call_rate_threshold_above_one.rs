use resilience_runtime::circuit_breaker;

#[circuit_breaker(slow_call_duration = "2s", slow_call_rate_threshold = 1.5)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
