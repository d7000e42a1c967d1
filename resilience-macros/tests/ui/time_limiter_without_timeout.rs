use resilience_runtime::time_limiter;

#[time_limiter(name = "fetch")]
async fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
