use std::time::Duration;

use resilience_runtime::__private::{InlineConfig, DECLARATIONS};
use resilience_runtime::bulkhead::BulkheadConfig;
use resilience_runtime::retry::{Jitter, RetryConfig};
use resilience_runtime::{bulkhead, retry};

const WAIT: Duration = Duration::from_millis(5);

// Never called, and generic: declared all the same. Two named policies in
// one stack each get their own declaration.
#[retry(name = "declared", max_attempts = 2, jitter = "full")]
#[bulkhead(name = "declared", max_concurrent = 1, max_wait = WAIT)]
fn fetch<T: Default>() -> Result<T, resilience_runtime::Error> {
    Ok(T::default())
}

fn main() {
    let declared: Vec<_> = DECLARATIONS
        .iter()
        .filter(|d| d.name == "declared")
        .collect();
    assert_eq!(declared.len(), 2);
    for declaration in declared {
        assert_eq!(declaration.site.function, "fetch");
        assert!(declaration.site.file.ends_with("named_policies_are_declared.rs"));
        match declaration.config {
            InlineConfig::Retry(config) => {
                assert_eq!(declaration.keys, ["max_attempts", "jitter"]);
                let expected = RetryConfig::default().max_attempts(2).jitter(Jitter::Full);
                assert_eq!(config(), expected);
            }
            InlineConfig::Bulkhead(config) => {
                assert_eq!(declaration.keys, ["max_concurrent", "max_wait"]);
                let expected = BulkheadConfig::default().max_concurrent(1).max_wait(WAIT);
                assert_eq!(config(), expected);
            }
            other => panic!("unexpected declaration {other:?}"),
        }
    }
}
