use resilience_runtime::fallback;

fn cached() -> Result<u32, std::io::Error> {
    Ok(0)
}

#[fallback(method = cached, value = 0)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
