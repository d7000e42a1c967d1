//! The store of the policies with `store = "redis"`: whether they reach it,
//! and how often they did not.

use metrics::{counter, describe_counter, describe_gauge, gauge, Label};

use crate::rate_limiter::StoreStatus;

/// Publishes the store series of one name of `kind`, from the statuses of
/// its instances and their failed requests summed; nothing for a name
/// whose instances all keep their state in the process.
pub(super) fn publish(kind: &'static str, labels: &[Label], statuses: &[StoreStatus], errors: u64) {
    if statuses.iter().all(|status| *status == StoreStatus::Local) {
        return;
    }
    let mut labels = labels.to_vec();
    labels.push(Label::new("kind", kind));
    let available = statuses
        .iter()
        .all(|status| !matches!(status, StoreStatus::Unavailable { .. }));
    gauge!("resilience_store_available", labels.clone()).set(if available { 1.0 } else { 0.0 });
    counter!("resilience_store_errors_total", labels).absolute(errors);
}

pub(super) fn describe() {
    describe_gauge!(
        "resilience_store_available",
        "1 while the policy reaches its store (Redis), 0 while it decides without it"
    );
    describe_counter!(
        "resilience_store_errors_total",
        "Requests to the store that failed or timed out"
    );
}
