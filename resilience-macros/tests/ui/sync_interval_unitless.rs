use resilience_runtime::circuit_breaker;

#[derive(Debug)]
struct ApiError;
impl From<resilience_runtime::Error> for ApiError {
    fn from(_: resilience_runtime::Error) -> Self {
        ApiError
    }
}

#[circuit_breaker(name = "inventory", store = "redis", failure_rate_threshold = 0.5, sync_interval = 100)]
async fn stock(item: &str) -> Result<usize, ApiError> {
    Ok(item.len())
}

fn main() {}
