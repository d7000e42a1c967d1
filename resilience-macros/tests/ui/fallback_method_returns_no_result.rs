use resilience_runtime::fallback;

fn cached(_id: u32, _error: std::io::Error) -> u32 {
    0
}

#[fallback(method = cached)]
async fn fetch(id: u32) -> Result<u32, std::io::Error> {
    Ok(id)
}

fn main() {}
