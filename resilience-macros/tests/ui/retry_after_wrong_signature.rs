use std::time::Duration;

use resilience_runtime::retry;

fn retry_after(error: &String) -> Option<Duration> {
    error.parse().ok().map(Duration::from_secs)
}

#[retry(retry_after = retry_after)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
