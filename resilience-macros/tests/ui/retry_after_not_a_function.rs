use resilience_runtime::retry;

#[retry(retry_after = "5s")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
