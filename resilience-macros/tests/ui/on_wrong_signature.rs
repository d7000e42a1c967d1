use resilience_runtime::retry;

fn is_transient(error: &String) -> bool {
    error.is_empty()
}

#[retry(on = is_transient)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
