use resilience_runtime::retry;

#[retry(budget = "")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
