//! The rules, applied to one instance's reading: the reasons it is not
//! healthy, each with a code and a sentence for people.

use std::time::Duration;

use super::window::Rejections;
use super::{HealthReason, HealthRules, ReasonCode};
use crate::CircuitState;

/// What a circuit breaker's health is judged from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BreakerReading {
    pub(crate) state: CircuitState,
    /// How long it has refused calls, if it does.
    pub(crate) outage: Option<Duration>,
    pub(crate) failure_rate: Option<f64>,
    pub(crate) window_calls: u32,
    /// With `store = "redis"`: how long it has been without its store, if it is.
    pub(crate) store_down: Option<Duration>,
}

/// A breaker refusing calls is degraded, and critical once it has refused
/// them for longer than `open_alert_after`; a failure rate at or above
/// `failure_rate_alert` in its window is degraded (unless the breaker is
/// DISABLED: it records nothing, and its window is stale).
pub(crate) fn breaker(rules: &HealthRules, reading: BreakerReading) -> Vec<HealthReason> {
    let mut reasons = Vec::new();
    if let Some(outage) = reading.outage {
        reasons.push(refusing(
            rules,
            format!("{}, refusing calls", reading.state),
            outage,
        ));
    }
    reasons.extend(failing(rules, reading, "its window"));
    reasons.extend(reading.store_down.map(breaker_alone));
    reasons
}

/// A shared breaker without its store for `down`: degraded, as it judges
/// its own calls alone and its probes are not bounded across the fleet.
fn breaker_alone(down: Duration) -> HealthReason {
    HealthReason::new(
        ReasonCode::StoreUnavailable,
        format!(
            "Redis unavailable for {}: judging its own calls alone",
            rounded(down)
        ),
    )
}

/// What a family of breakers is judged from: its members summed (the worst
/// state, the longest outage, the rate over the judged windows), and the
/// members refusing calls.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FamilyReading {
    pub(crate) sum: BreakerReading,
    pub(crate) keys: usize,
    /// The keys refusing calls, with their state, longest outage first.
    pub(crate) refusing: Vec<(String, CircuitState)>,
}

/// How many refusing keys a reason names; the others are counted.
const NAMED_KEYS: usize = 3;

/// A family is judged as one breaker: degraded while a member refuses
/// calls, critical once one has for longer than `open_alert_after`, and
/// degraded for a summed failure rate at or above `failure_rate_alert`.
pub(crate) fn breaker_family(rules: &HealthRules, reading: &FamilyReading) -> Vec<HealthReason> {
    let mut reasons = Vec::new();
    if let (Some(outage), false) = (reading.sum.outage, reading.refusing.is_empty()) {
        let mut named: Vec<String> = reading
            .refusing
            .iter()
            .take(NAMED_KEYS)
            .map(|(key, state)| format!("{key} {state}"))
            .collect();
        if reading.refusing.len() > NAMED_KEYS {
            named.push(format!("{} more", reading.refusing.len() - NAMED_KEYS));
        }
        reasons.push(refusing(
            rules,
            format!(
                "{} of {} keys refusing calls ({}), the longest",
                reading.refusing.len(),
                reading.keys,
                named.join(", ")
            ),
            outage,
        ));
    }
    reasons.extend(failing(rules, reading.sum, "its members' windows"));
    reasons
}

/// `what` has refused calls for `outage`: degraded, or critical past `open_alert_after`.
fn refusing(rules: &HealthRules, what: String, outage: Duration) -> HealthReason {
    let limit = rules.open_alert_after;
    if outage > limit {
        HealthReason::new(
            ReasonCode::OpenTooLong,
            format!(
                "{what} for {}, longer than {}",
                rounded(outage),
                rounded(limit)
            ),
        )
    } else {
        HealthReason::new(
            ReasonCode::CircuitOpen,
            format!(
                "{what} for {}; critical after {}",
                rounded(outage),
                rounded(limit)
            ),
        )
    }
}

/// A failure rate at or above `failure_rate_alert` over `window`.
fn failing(rules: &HealthRules, reading: BreakerReading, window: &str) -> Option<HealthReason> {
    let rate = reading
        .failure_rate
        .filter(|_| reading.state != CircuitState::Disabled)?;
    (rate >= rules.failure_rate_alert).then(|| {
        HealthReason::new(
            ReasonCode::FailureRate,
            format!(
                "failure rate {} over the {} calls of {window}, at or above {}",
                percent(rate),
                reading.window_calls,
                percent(rules.failure_rate_alert)
            ),
        )
    })
}

/// A bulkhead or a rate limiter that rejected more than
/// `rejection_rate_alert` of its calls over the last minute is degraded.
pub(crate) fn admission(rules: &HealthRules, rejections: Option<Rejections>) -> Vec<HealthReason> {
    let Some((rejections, rate)) =
        rejections.and_then(|rejections| Some((rejections, rejections.rate()?)))
    else {
        return Vec::new();
    };
    if rate <= rules.rejection_rate_alert {
        return Vec::new();
    }
    vec![HealthReason::new(
        ReasonCode::RejectionRate,
        format!(
            "rejected {} of {} calls over the last {}, more than {}",
            percent(rate),
            rejections.calls,
            rounded(rejections.over),
            percent(rules.rejection_rate_alert)
        ),
    )]
}

/// A duration for a sentence: to the second from a minute up, else to the
/// millisecond (so that a short `open_alert_after` just passed reads so).
/// A rate limiter without its store for `down`.
pub(crate) fn store_unavailable(down: Duration) -> HealthReason {
    HealthReason::new(
        ReasonCode::StoreUnavailable,
        format!(
            "Redis unavailable for {}: calls decided by `on_store_error`",
            rounded(down)
        ),
    )
}

fn rounded(duration: Duration) -> String {
    let shown = if duration >= Duration::from_secs(60) {
        Duration::from_secs(duration.as_secs())
    } else {
        Duration::from_millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    };
    resilience_grammar::duration::format(shown)
}

/// A share as a percentage, to a tenth of a percent when it is not whole.
fn percent(share: f64) -> String {
    let tenths = (share * 1000.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:.0}%")
    } else {
        format!("{tenths:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::HealthStatus;

    fn closed() -> BreakerReading {
        BreakerReading {
            state: CircuitState::Closed,
            outage: None,
            failure_rate: None,
            window_calls: 0,
            store_down: None,
        }
    }

    fn refusing_reading(state: CircuitState, secs: u64) -> BreakerReading {
        BreakerReading {
            state,
            outage: Some(Duration::from_secs(secs)),
            ..closed()
        }
    }

    fn codes(reasons: &[HealthReason]) -> Vec<(ReasonCode, HealthStatus)> {
        reasons
            .iter()
            .map(|reason| (reason.code, reason.code.status()))
            .collect()
    }

    #[test]
    fn a_closed_breaker_without_a_rate_is_healthy() {
        assert!(breaker(&HealthRules::default(), closed()).is_empty());
    }

    #[test]
    fn every_refusing_state_is_degraded_until_open_alert_after_then_critical() {
        let rules = HealthRules::default();
        for state in [
            CircuitState::Open,
            CircuitState::HalfOpen,
            CircuitState::ForcedOpen,
        ] {
            let fresh = breaker(&rules, refusing_reading(state, 300));
            assert_eq!(
                codes(&fresh),
                [(ReasonCode::CircuitOpen, HealthStatus::Degraded)]
            );
            let long = breaker(&rules, refusing_reading(state, 301));
            assert_eq!(
                codes(&long),
                [(ReasonCode::OpenTooLong, HealthStatus::Critical)]
            );
        }
        assert_eq!(
            breaker(&rules, refusing_reading(CircuitState::Open, 12))[0].message,
            "OPEN, refusing calls for 12s; critical after 5m"
        );
        assert_eq!(
            breaker(&rules, refusing_reading(CircuitState::HalfOpen, 390))[0].message,
            "HALF_OPEN, refusing calls for 6m30s, longer than 5m"
        );
    }

    #[test]
    fn a_failure_rate_at_the_alert_is_degraded_and_below_it_is_not() {
        let rules = HealthRules::default();
        let at = BreakerReading {
            failure_rate: Some(0.3),
            window_calls: 20,
            ..closed()
        };
        let reasons = breaker(&rules, at);
        assert_eq!(
            codes(&reasons),
            [(ReasonCode::FailureRate, HealthStatus::Degraded)]
        );
        assert_eq!(
            reasons[0].message,
            "failure rate 30% over the 20 calls of its window, at or above 30%"
        );
        let below = BreakerReading {
            failure_rate: Some(0.25),
            ..at
        };
        assert!(breaker(&rules, below).is_empty());
        let disabled = BreakerReading {
            state: CircuitState::Disabled,
            ..at
        };
        assert!(breaker(&rules, disabled).is_empty());
        let metrics_only = BreakerReading {
            state: CircuitState::MetricsOnly,
            ..at
        };
        assert_eq!(breaker(&rules, metrics_only).len(), 1);
    }

    #[test]
    fn an_open_breaker_with_a_failure_rate_gives_both_reasons() {
        let reading = BreakerReading {
            failure_rate: Some(1.0),
            window_calls: 5,
            ..refusing_reading(CircuitState::Open, 1)
        };
        assert_eq!(
            codes(&breaker(&HealthRules::default(), reading)),
            [
                (ReasonCode::CircuitOpen, HealthStatus::Degraded),
                (ReasonCode::FailureRate, HealthStatus::Degraded)
            ]
        );
    }

    #[test]
    fn a_breaker_without_its_store_is_degraded_and_says_it_judges_alone() {
        let reading = BreakerReading {
            store_down: Some(Duration::from_millis(3_200)),
            ..closed()
        };
        let reasons = breaker(&HealthRules::default(), reading);
        assert_eq!(
            codes(&reasons),
            [(ReasonCode::StoreUnavailable, HealthStatus::Degraded)]
        );
        assert_eq!(
            reasons[0].message,
            "Redis unavailable for 3s200ms: judging its own calls alone"
        );
    }

    #[test]
    fn rejections_above_the_alert_are_degraded_and_at_it_are_not() {
        let rules = HealthRules::default();
        let over = |rejected, calls| {
            Some(Rejections {
                rejected,
                calls,
                over: Duration::from_secs(42),
            })
        };
        assert!(admission(&rules, over(10, 100)).is_empty());
        let reasons = admission(&rules, over(11, 100));
        assert_eq!(
            codes(&reasons),
            [(ReasonCode::RejectionRate, HealthStatus::Degraded)]
        );
        assert_eq!(
            reasons[0].message,
            "rejected 11% of 100 calls over the last 42s, more than 10%"
        );
        assert!(admission(&rules, over(0, 0)).is_empty());
        assert!(admission(&rules, None).is_empty());
        let strict = HealthRules::default().rejection_rate_alert(0.0);
        assert_eq!(admission(&strict, over(1, 1000)).len(), 1);
    }

    #[test]
    fn a_family_names_its_refusing_keys_and_its_longest_outage_decides() {
        let rules = HealthRules::default();
        let reading = |secs, refusing: &[&str]| FamilyReading {
            sum: refusing_or_closed(secs, !refusing.is_empty()),
            keys: 10,
            refusing: refusing
                .iter()
                .map(|key| (key.to_string(), CircuitState::Open))
                .collect(),
        };
        assert!(breaker_family(&rules, &reading(0, &[])).is_empty());
        let one = breaker_family(&rules, &reading(12, &["a.example"]));
        assert_eq!(
            codes(&one),
            [(ReasonCode::CircuitOpen, HealthStatus::Degraded)]
        );
        assert_eq!(
            one[0].message,
            "1 of 10 keys refusing calls (a.example OPEN), the longest for 12s; critical after 5m"
        );
        let many = breaker_family(&rules, &reading(301, &["a", "b", "c", "d", "e"]));
        assert_eq!(
            codes(&many),
            [(ReasonCode::OpenTooLong, HealthStatus::Critical)]
        );
        assert_eq!(
            many[0].message,
            "5 of 10 keys refusing calls (a OPEN, b OPEN, c OPEN, 2 more), the longest for 5m1s, longer than 5m"
        );
    }

    fn refusing_or_closed(secs: u64, refusing: bool) -> BreakerReading {
        if refusing {
            refusing_reading(CircuitState::Open, secs)
        } else {
            closed()
        }
    }

    #[test]
    fn shares_and_durations_read_as_people_write_them() {
        assert_eq!(percent(1.0 / 3.0), "33.3%");
        assert_eq!(percent(0.005), "0.5%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(rounded(Duration::from_millis(61_900)), "1m1s");
        assert_eq!(rounded(Duration::from_micros(2_500)), "2ms");
        assert_eq!(rounded(Duration::from_micros(2_100_900)), "2s100ms");
    }
}
