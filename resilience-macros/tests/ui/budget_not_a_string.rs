use resilience_runtime::retry;

#[retry(budget = api)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
