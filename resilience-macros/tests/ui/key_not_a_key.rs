use resilience_runtime::rate_limiter;

#[derive(Debug)]
struct ApiError;
impl From<resilience_runtime::Error> for ApiError {
    fn from(_: resilience_runtime::Error) -> Self {
        ApiError
    }
}

struct Tenant {
    id: u64,
}

#[rate_limiter(name = "per-tenant", key = tenant)]
fn search(tenant: &Tenant) -> Result<u64, ApiError> {
    Ok(tenant.id)
}

fn main() {}
