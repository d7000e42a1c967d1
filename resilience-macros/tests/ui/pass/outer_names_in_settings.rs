use std::time::Duration;

use resilience_runtime::{bulkhead, circuit_breaker, rate_limiter, retry};

trait Backend {
    const DELAY: Duration;
}

struct Fast;

impl Backend for Fast {
    const DELAY: Duration = Duration::from_millis(1);
}

struct Limits {
    wait: Duration,
}

impl Limits {
    #[allow(non_upper_case_globals)]
    const wait: Duration = Duration::from_millis(2);

    // Unnamed settings are read on the first call, inside the function:
    // `self`, parameters and generic parameters are all in scope.
    #[retry(max_attempts = 2, delay = self.wait + T::DELAY)]
    #[circuit_breaker(recovery_timeout = Duration::from_millis(MILLIS) + wait)]
    fn fetch<T: Backend, const MILLIS: u64>(
        &self,
        wait: Duration,
    ) -> Result<u32, resilience_runtime::Error> {
        Ok(1)
    }
}

struct Timing;

impl Timing {
    fn wait(&self) -> Duration {
        Duration::from_millis(4)
    }
}

macro_rules! wait {
    () => {
        Duration::from_millis(3)
    };
}

// A named policy may use the same names where they are not the function's:
// a later path segment, a method, a field, a macro, a closure's parameter.
#[bulkhead(
    name = "outer_names",
    max_concurrent = 1,
    max_wait = Limits::wait + Timing.wait() + Limits { wait: wait!() }.wait + [wait!()].map(|wait| wait * 2)[0]
)]
#[rate_limiter(name = "outer_names", max_tokens = 1, refill_rate = 1.0, max_wait = Limits::wait)]
fn reserve<T: Backend>(
    wait: Duration,
    (low, _high): (u64, u64),
) -> Result<u64, resilience_runtime::Error> {
    Ok(wait.as_millis() as u64 + low + T::DELAY.as_millis() as u64)
}

// The same expressions without `name`.
#[bulkhead(max_concurrent = 1, max_wait = wait + Duration::from_millis(low) + T::DELAY)]
fn reserve_unnamed<T: Backend>(
    wait: Duration,
    (low, _high): (u64, u64),
) -> Result<u64, resilience_runtime::Error> {
    Ok(wait.as_millis() as u64 + low)
}

fn main() {
    let limits = Limits {
        wait: Duration::from_millis(1),
    };
    assert_eq!(
        limits.fetch::<Fast, 5>(Duration::from_millis(1)).unwrap(),
        1
    );
    assert_eq!(
        reserve::<Fast>(Duration::from_millis(2), (3, 4)).unwrap(),
        6
    );
    assert_eq!(
        reserve_unnamed::<Fast>(Duration::from_millis(2), (3, 4)).unwrap(),
        5
    );
}
