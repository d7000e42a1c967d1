use resilience_runtime::fallback;

async fn cached(_id: u32, _error: std::io::Error) -> Result<String, std::io::Error> {
    Ok(String::new())
}

#[fallback(method = cached)]
async fn fetch(id: u32) -> Result<u32, std::io::Error> {
    Ok(id)
}

fn main() {}
