use resilience_runtime::retry;

#[retry(crate = "resilience_runtime", max_attempts = 3)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
