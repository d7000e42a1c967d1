use resilience_runtime::rate_limiter;

#[derive(Debug)]
struct ApiError;
impl From<resilience_runtime::Error> for ApiError {
    fn from(_: resilience_runtime::Error) -> Self {
        ApiError
    }
}

#[rate_limiter(name = "search", store = "redis")]
fn search(query: &str) -> Result<usize, ApiError> {
    Ok(query.len())
}

fn main() {}
