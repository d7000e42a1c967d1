use resilience_runtime::bulkhead;

#[derive(Debug)]
struct DbError;
impl From<resilience_runtime::Error> for DbError {
    fn from(_: resilience_runtime::Error) -> Self {
        DbError
    }
}

#[bulkhead(name = "db", max_keys = 100)]
fn query() -> Result<(), DbError> {
    Ok(())
}

fn main() {}
