use resilience_runtime::fallback;

async fn cached(_id: u32, _error: std::io::Error) -> Result<u32, std::io::Error> {
    Ok(0)
}

#[fallback(method = cached)]
fn fetch(id: u32) -> Result<u32, std::io::Error> {
    Ok(id)
}

fn main() {}
