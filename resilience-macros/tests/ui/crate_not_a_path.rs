use resilience_runtime::retry;

#[retry(crate = resilience::<u8>, max_attempts = 3)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
