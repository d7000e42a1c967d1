use resilience_runtime::retry;

fn send(_request: String) -> Result<(), std::io::Error> {
    Ok(())
}

#[retry(max_attempts = 3)]
fn submit(request: String) -> Result<(), std::io::Error> {
    send(request)
}

fn main() {}
