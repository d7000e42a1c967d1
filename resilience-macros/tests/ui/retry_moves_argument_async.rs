use resilience_runtime::retry;

async fn send(_request: String) -> Result<(), std::io::Error> {
    Ok(())
}

#[retry(max_attempts = 3)]
async fn submit(request: String) -> Result<(), std::io::Error> {
    send(request).await
}

fn main() {}
