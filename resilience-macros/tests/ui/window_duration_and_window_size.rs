use resilience_runtime::circuit_breaker;

#[circuit_breaker(window_duration = "60s", window_size = 20)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
