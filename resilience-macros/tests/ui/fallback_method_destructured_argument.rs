use resilience_runtime::fallback;

fn cached(_point: (u32, u32), _error: std::io::Error) -> Result<u32, std::io::Error> {
    Ok(0)
}

#[fallback(method = cached)]
fn fetch((x, y): (u32, u32)) -> Result<u32, std::io::Error> {
    Ok(x + y)
}

fn main() {}
