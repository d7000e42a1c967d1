use resilience_runtime::circuit_breaker;

#[derive(Debug)]
struct HttpError;
impl From<resilience_runtime::Error> for HttpError {
    fn from(_: resilience_runtime::Error) -> Self {
        HttpError
    }
}

#[circuit_breaker(name = "per-host", key = host, max_keys = 0)]
fn get(host: &str) -> Result<usize, HttpError> {
    Ok(host.len())
}

fn main() {}
