use resilience_runtime::fallback;

#[derive(Clone, PartialEq)]
struct Query {
    price_below: f64,
}

#[fallback(cache = "5m")]
fn search(query: Query) -> Result<u32, std::io::Error> {
    Ok(query.price_below as u32)
}

fn main() {}
