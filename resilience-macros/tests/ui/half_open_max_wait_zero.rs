use resilience_runtime::circuit_breaker;

#[circuit_breaker(half_open_max_wait = "0ms")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
