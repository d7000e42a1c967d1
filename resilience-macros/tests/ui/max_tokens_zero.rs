use resilience_runtime::rate_limiter;

#[rate_limiter(max_tokens = 0)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
