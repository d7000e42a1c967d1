use resilience_runtime::retry;

#[retry(max_attempt = 3)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
