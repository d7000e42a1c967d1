//! A keyed family as one instance: its members' counters and gauges summed,
//! for the snapshot, the metrics and health. Counters sum; a breaker's rates
//! are taken over the summed windows of the members whose window is judged;
//! its state is the worst member's, and its outage the longest.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::bulkhead::BulkheadMetrics;
use crate::circuit_breaker::CircuitBreakerMetrics;
use crate::rate_limiter::RateLimiterMetrics;
use crate::CircuitState;

static PER_KEY: AtomicBool = AtomicBool::new(false);

/// Whether [`Registry::snapshot`](crate::Registry::snapshot) lists each
/// member of a keyed family and [`publish_metrics`](super#metrics) publishes
/// each member's series with a `key` label, besides the family's sums; off
/// by default.
///
/// Off, a family is one instance under its name whatever its number of
/// keys. On, every key is a series of its own for each metric: in
/// Prometheus, a family of 10,000 tenants makes some 10,000 × 10 time
/// series, enough to slow or overload the server and the dashboards. Turn
/// it on for families with few keys (hosts, not tenants), or while
/// investigating one.
///
/// ```
/// use resilience_runtime::telemetry;
///
/// telemetry::set_per_key_metrics(true);
/// assert!(telemetry::per_key_metrics());
/// telemetry::set_per_key_metrics(false);
/// ```
pub fn set_per_key_metrics(enabled: bool) {
    PER_KEY.store(enabled, Ordering::Relaxed);
}

/// Whether per-key detail is on: see [`set_per_key_metrics`].
pub fn per_key_metrics() -> bool {
    PER_KEY.load(Ordering::Relaxed)
}

/// A breaker as the snapshot reads it: its metrics and its outage.
pub(crate) type BreakerRead = (CircuitBreakerMetrics, Option<Duration>);

/// How many members are in each state, in the order of [`CircuitState::ALL`].
pub(crate) type StateCounts = Vec<(CircuitState, usize)>;

/// The breakers' metrics summed, with the longest outage and the count of
/// members in each state. The worst state (see [`severity`]) is the sum's
/// `state`, and its `state_duration` the longest a member has been in it.
/// One breaker sums to itself.
pub(crate) fn breakers(reads: &[BreakerRead]) -> (BreakerRead, StateCounts) {
    let mut states: StateCounts = CircuitState::ALL.iter().map(|state| (*state, 0)).collect();
    let mut sum = CircuitBreakerMetrics {
        state: CircuitState::Closed,
        failure_rate: None,
        slow_call_rate: None,
        window_calls: 0,
        window_failed_calls: 0,
        window_successful_calls: 0,
        window_slow_calls: 0,
        successful_calls: 0,
        failed_calls: 0,
        slow_calls: 0,
        ignored_calls: 0,
        not_permitted_calls: 0,
        store_errors: 0,
        state_duration: Duration::ZERO,
        open_duration: Duration::ZERO,
    };
    let mut outage: Option<Duration> = None;
    // The calls and failures (or slow calls) of the judged windows only.
    let (mut judged, mut failed) = (0u64, 0u64);
    let (mut judged_slow, mut slow) = (0u64, 0u64);
    for (i, (m, member_outage)) in reads.iter().enumerate() {
        if let Some(count) = states.iter_mut().find(|(state, _)| *state == m.state) {
            count.1 += 1;
        }
        if i == 0 || severity(m.state) > severity(sum.state) {
            (sum.state, sum.state_duration) = (m.state, m.state_duration);
        } else if m.state == sum.state {
            sum.state_duration = sum.state_duration.max(m.state_duration);
        }
        outage = outage.max(*member_outage);
        if m.failure_rate.is_some() {
            judged += u64::from(m.window_calls);
            failed += u64::from(m.window_failed_calls);
        }
        if m.slow_call_rate.is_some() {
            judged_slow += u64::from(m.window_calls);
            slow += u64::from(m.window_slow_calls);
        }
        sum.window_calls = sum.window_calls.saturating_add(m.window_calls);
        sum.window_failed_calls = sum
            .window_failed_calls
            .saturating_add(m.window_failed_calls);
        sum.window_successful_calls = sum
            .window_successful_calls
            .saturating_add(m.window_successful_calls);
        sum.window_slow_calls = sum.window_slow_calls.saturating_add(m.window_slow_calls);
        sum.successful_calls += m.successful_calls;
        sum.failed_calls += m.failed_calls;
        sum.slow_calls += m.slow_calls;
        sum.ignored_calls += m.ignored_calls;
        sum.not_permitted_calls += m.not_permitted_calls;
        sum.store_errors += m.store_errors;
        sum.open_duration += m.open_duration;
    }
    let rate = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
    sum.failure_rate = rate(failed, judged);
    sum.slow_call_rate = rate(slow, judged_slow);
    ((sum, outage), states)
}

/// How bad a member's state is for its family: refusing calls is worst,
/// then an operator's override, then CLOSED.
pub(crate) fn severity(state: CircuitState) -> u8 {
    match state {
        CircuitState::ForcedOpen => 5,
        CircuitState::Open => 4,
        CircuitState::HalfOpen => 3,
        CircuitState::MetricsOnly => 2,
        CircuitState::Disabled => 1,
        CircuitState::Closed => 0,
    }
}

/// The bulkheads' gauges and counters summed.
pub(crate) fn bulkheads(all: &[BulkheadMetrics]) -> BulkheadMetrics {
    all.iter().fold(
        BulkheadMetrics {
            available_concurrent_calls: 0,
            max_allowed_concurrent_calls: 0,
            permitted_calls: 0,
            rejected_calls: 0,
        },
        |sum, m| BulkheadMetrics {
            available_concurrent_calls: sum.available_concurrent_calls
                + m.available_concurrent_calls,
            max_allowed_concurrent_calls: sum.max_allowed_concurrent_calls
                + m.max_allowed_concurrent_calls,
            permitted_calls: sum.permitted_calls + m.permitted_calls,
            rejected_calls: sum.rejected_calls + m.rejected_calls,
        },
    )
}

/// The rate limiters' gauges and counters summed.
pub(crate) fn rate_limiters(all: &[RateLimiterMetrics]) -> RateLimiterMetrics {
    all.iter().fold(
        RateLimiterMetrics {
            available_permissions: 0.0,
            waiting_calls: 0,
            permitted_calls: 0,
            waited_calls: 0,
            rejected_calls: 0,
            store_errors: 0,
        },
        |sum, m| RateLimiterMetrics {
            available_permissions: sum.available_permissions + m.available_permissions,
            waiting_calls: sum.waiting_calls + m.waiting_calls,
            permitted_calls: sum.permitted_calls + m.permitted_calls,
            waited_calls: sum.waited_calls + m.waited_calls,
            rejected_calls: sum.rejected_calls + m.rejected_calls,
            store_errors: sum.store_errors + m.store_errors,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit_breaker::CircuitBreakerConfig;
    use crate::CircuitBreaker;

    fn read(breaker: &CircuitBreaker) -> BreakerRead {
        let metrics = breaker.metrics();
        (metrics, breaker.outage_duration(metrics.state))
    }

    #[tokio::test(start_paused = true)]
    async fn one_breaker_sums_to_itself_and_two_sum_their_judged_windows() {
        let config = CircuitBreakerConfig::default()
            .failure_rate_threshold(0.9)
            .window_size(10)
            .minimum_calls(2);
        let a = CircuitBreaker::new("sum[a]", config.clone()).unwrap();
        let b = CircuitBreaker::new("sum[b]", config).unwrap();
        a.try_acquire().unwrap().success();
        a.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().failure();
        let ((alone, _), _) = breakers(&[read(&a)]);
        assert_eq!(alone, a.metrics());
        let ((sum, outage), states) = breakers(&[read(&a), read(&b)]);
        assert_eq!((sum.successful_calls, sum.failed_calls), (1, 2));
        assert_eq!(sum.window_calls, 3);
        // `b` has one call of the two its window needs: not judged, not in the rate.
        assert_eq!(sum.failure_rate, Some(0.5));
        assert_eq!(outage, None);
        assert_eq!(states[0], (CircuitState::Closed, 2));
        b.force_open();
        let ((sum, outage), states) = breakers(&[read(&a), read(&b)]);
        assert_eq!(sum.state, CircuitState::ForcedOpen);
        assert!(outage.is_some());
        assert_eq!(states[3], (CircuitState::ForcedOpen, 1));
    }
}
