use std::time::Duration;

use resilience_runtime::{circuit_breaker, fallback, retry};

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("down")]
    Down,
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

struct Client;

impl Client {
    const DELAY: Duration = Duration::from_millis(1);

    fn is_down(error: &FetchError) -> bool {
        matches!(error, FetchError::Down)
    }

    fn cached(&self, _error: FetchError) -> Result<u32, FetchError> {
        Ok(0)
    }

    // `Self` stays usable where nothing is declared: unnamed settings, `on`
    // and the fallback method.
    #[fallback(method = Self::cached, on = Self::is_down)]
    #[retry(max_attempts = 2, delay = Self::DELAY, on = Self::is_down)]
    #[circuit_breaker(name = "self_in_predicates", crate = ::resilience_runtime, on = Self::is_down)]
    fn fetch(&self) -> Result<u32, FetchError> {
        Err(FetchError::Down)
    }
}

fn main() {
    assert_eq!(Client.fetch().unwrap(), 0);
}
