use resilience_runtime::retry;

#[retry(delay = "100ms", max_duration = 30)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
