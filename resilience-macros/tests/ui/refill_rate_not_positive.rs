use resilience_runtime::rate_limiter;

#[rate_limiter(refill_rate = -5.0)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
