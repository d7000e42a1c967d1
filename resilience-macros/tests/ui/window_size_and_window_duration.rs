use resilience_runtime::circuit_breaker;

#[circuit_breaker(window_size = 20, window_duration = "60s")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
