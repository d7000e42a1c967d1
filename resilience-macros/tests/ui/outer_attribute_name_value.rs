use resilience_runtime::retry;

#[retry = 3]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
