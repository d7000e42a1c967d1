use resilience_runtime::circuit_breaker;

#[circuit_breaker(recovery_backoff = 0.5)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
