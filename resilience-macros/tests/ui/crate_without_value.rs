use resilience_runtime::time_limiter;

#[time_limiter(timeout = "1s", crate)]
async fn fetch() -> Result<u32, resilience_runtime::Error> {
    Ok(1)
}

fn main() {}
