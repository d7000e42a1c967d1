use resilience_runtime::retry;

#[retry(delay = 200)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
