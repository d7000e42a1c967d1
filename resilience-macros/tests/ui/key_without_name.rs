use resilience_runtime::rate_limiter;

#[derive(Debug)]
struct ApiError;
impl From<resilience_runtime::Error> for ApiError {
    fn from(_: resilience_runtime::Error) -> Self {
        ApiError
    }
}

#[rate_limiter(max_tokens = 10, key = tenant)]
fn search(tenant: &str) -> Result<usize, ApiError> {
    Ok(tenant.len())
}

fn main() {}
