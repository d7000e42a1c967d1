use resilience_runtime::hedge;

async fn send(_request: String) -> Result<(), std::io::Error> {
    Ok(())
}

#[hedge(delay = "50ms")]
async fn submit(request: String) -> Result<(), std::io::Error> {
    send(request).await
}

fn main() {}
