use resilience_runtime::circuit_breaker;

#[derive(Debug)]
enum FetchError {
    Unavailable,
}

#[circuit_breaker(failure_threshold = 3)]
fn fetch() -> Result<u32, FetchError> {
    Err(FetchError::Unavailable)
}

fn main() {}
