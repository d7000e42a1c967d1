use resilience_runtime::fallback;

#[fallback(cache = "5m")]
fn lookup<K: std::hash::Hash + Eq + Clone + Send + 'static>(key: K) -> Result<u32, std::io::Error> {
    let _ = key;
    Ok(1)
}

fn main() {}
