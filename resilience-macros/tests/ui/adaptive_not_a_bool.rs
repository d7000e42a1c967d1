use resilience_runtime::retry;

#[retry(name = "fetch", adaptive = "yes")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
