use resilience_runtime::circuit_breaker;

#[circuit_breaker(recovery_backoff = 2.0, max_recovery_timeout = "10s")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
