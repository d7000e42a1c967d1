//! What the health evaluator remembers between two evaluations: each
//! instance's samples of its rejection counters, and the status and reasons
//! it had, to tell when an alert starts or clears.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::judge::{self, BreakerReading, FamilyReading};
use super::window::{Sample, Window};
use super::{HealthReason, HealthRules, HealthStatus, InstanceHealth};
use crate::config::PolicyKind;

/// One instance as read for an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observation {
    pub(crate) kind: PolicyKind,
    pub(crate) name: String,
    /// Whether it is a keyed family, judged on its members summed.
    pub(crate) keyed: bool,
    pub(crate) reading: Reading,
}

/// The part of an instance's metrics the rules judge.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reading {
    Breaker(BreakerReading),
    BreakerFamily(FamilyReading),
    /// A bulkhead's or a rate limiter's calls, since it was made; a
    /// family's, summed over its members now.
    Admission {
        permitted: u64,
        rejected: u64,
        /// How long it has decided without its store (`store = "redis"`).
        store_down: Option<Duration>,
    },
}

/// An instance whose status or reasons changed since the previous evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Alert {
    pub(crate) kind: PolicyKind,
    pub(crate) name: String,
    pub(crate) from: HealthStatus,
    pub(crate) to: HealthStatus,
    pub(crate) reasons: Vec<HealthReason>,
}

#[derive(Debug)]
struct Tracked {
    window: Window,
    /// The reasons of the latest evaluation.
    reasons: Vec<HealthReason>,
}

/// Every instance evaluated so far, by kind, name and whether it is a family.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    instances: HashMap<(PolicyKind, String, bool), Tracked>,
    /// The order of the latest evaluation recorded, and when it read.
    latest: u64,
    previous: Option<Instant>,
}

impl Tracker {
    /// Judges every observation made at `now`, and lists the instances whose
    /// status or set of reason codes changed since they were last judged.
    /// `order` counts evaluations as they started: one that started before
    /// the latest recorded (two evaluations racing) is judged and returned,
    /// but alerts nothing and is not remembered.
    pub(crate) fn evaluate(
        &mut self,
        rules: &HealthRules,
        observations: Vec<Observation>,
        now: Instant,
        order: u64,
    ) -> (Vec<InstanceHealth>, Vec<Alert>) {
        let late = order < self.latest;
        // An instance the previous evaluation did not list was made since.
        let made_after = if late { None } else { self.previous };
        if !late {
            (self.latest, self.previous) = (order, Some(now));
        }
        let mut judged = Vec::with_capacity(observations.len());
        let mut alerts = Vec::new();
        for Observation {
            kind,
            name,
            keyed,
            reading,
        } in observations
        {
            let tracked = self
                .instances
                .entry((kind, name.clone(), keyed))
                .or_insert_with(|| Tracked {
                    window: made_after.map_or_else(Window::default, Window::from_zero_at),
                    reasons: Vec::new(),
                });
            let reasons = match reading {
                Reading::Breaker(reading) => judge::breaker(rules, reading),
                Reading::BreakerFamily(reading) => judge::breaker_family(rules, &reading),
                Reading::Admission {
                    permitted,
                    rejected,
                    store_down,
                } => {
                    let rejections = tracked.window.observe(Sample {
                        at: now,
                        permitted,
                        rejected,
                    });
                    let mut reasons = judge::admission(rules, rejections);
                    reasons.extend(store_down.map(judge::store_unavailable));
                    reasons
                }
            };
            if late {
                judged.push(InstanceHealth::new(kind, name, keyed, reasons));
                continue;
            }
            let (from, to) = (status(&tracked.reasons), status(&reasons));
            if from != to || !same_codes(&tracked.reasons, &reasons) {
                alerts.push(Alert {
                    kind,
                    name: name.clone(),
                    from,
                    to,
                    reasons: reasons.clone(),
                });
            }
            tracked.reasons = reasons.clone();
            judged.push(InstanceHealth::new(kind, name, keyed, reasons));
        }
        (judged, alerts)
    }
}

/// The worst status the reasons call for; healthy without any.
pub(crate) fn status(reasons: &[HealthReason]) -> HealthStatus {
    reasons
        .iter()
        .map(|reason| reason.code.status())
        .max()
        .unwrap_or(HealthStatus::Healthy)
}

/// Whether two judgements give the same codes; their sentences change with
/// every evaluation (a duration grows) and are no alert.
fn same_codes(before: &[HealthReason], now: &[HealthReason]) -> bool {
    before.len() == now.len() && before.iter().zip(now).all(|(a, b)| a.code == b.code)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::telemetry::ReasonCode;
    use crate::CircuitState;

    fn breaker(name: &str, state: CircuitState, open_secs: Option<u64>) -> Observation {
        Observation {
            kind: PolicyKind::CircuitBreaker,
            name: name.to_owned(),
            keyed: false,
            reading: Reading::Breaker(BreakerReading {
                state,
                outage: open_secs.map(Duration::from_secs),
                failure_rate: None,
                window_calls: 0,
                store_down: None,
            }),
        }
    }

    fn bulkhead(name: &str, permitted: u64, rejected: u64) -> Observation {
        Observation {
            kind: PolicyKind::Bulkhead,
            name: name.to_owned(),
            keyed: false,
            reading: Reading::Admission {
                permitted,
                rejected,
                store_down: None,
            },
        }
    }

    fn transitions(alerts: &[Alert]) -> Vec<(&str, HealthStatus, HealthStatus)> {
        alerts
            .iter()
            .map(|alert| (alert.name.as_str(), alert.from, alert.to))
            .collect()
    }

    #[test]
    fn an_alert_is_reported_when_it_starts_and_when_it_clears_once_each() {
        use CircuitState::*;
        let rules = HealthRules::default();
        let mut tracker = Tracker::default();
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut all = Vec::new();
        for (secs, state, open) in [
            (0, Closed, None),
            (1, Open, Some(0)),
            (2, Open, Some(1)),
            (31, HalfOpen, Some(30)),
            (32, Open, Some(31)),
            (400, Open, Some(399)),
            (401, HalfOpen, Some(400)),
            (402, Closed, None),
            (403, Closed, None),
        ] {
            let (judged, alerts) = tracker.evaluate(
                &rules,
                vec![breaker("inventory", state, open)],
                at(secs),
                secs,
            );
            assert_eq!(judged[0].status, status(&judged[0].reasons));
            all.extend(alerts);
        }
        assert_eq!(
            transitions(&all),
            [
                ("inventory", HealthStatus::Healthy, HealthStatus::Degraded),
                ("inventory", HealthStatus::Degraded, HealthStatus::Critical),
                ("inventory", HealthStatus::Critical, HealthStatus::Healthy),
            ]
        );
        assert_eq!(all[1].reasons[0].code, ReasonCode::OpenTooLong);
        assert!(all[2].reasons.is_empty());
    }

    #[test]
    fn a_new_reason_at_the_same_status_is_reported() {
        let rules = HealthRules::default();
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let open = breaker("pricing", CircuitState::Open, Some(1));
        let (_, alerts) = tracker.evaluate(&rules, vec![open.clone()], now, 0);
        assert_eq!(alerts.len(), 1);
        let mut failing = open;
        if let Reading::Breaker(reading) = &mut failing.reading {
            reading.failure_rate = Some(0.9);
            reading.window_calls = 10;
        }
        let (_, alerts) = tracker.evaluate(&rules, vec![failing], now, 1);
        assert_eq!(
            transitions(&alerts),
            [("pricing", HealthStatus::Degraded, HealthStatus::Degraded)]
        );
        assert_eq!(alerts[0].reasons.len(), 2);
    }

    #[test]
    fn rejections_are_judged_over_the_minute_on_the_evaluator_clock() {
        let rules = HealthRules::default();
        let mut tracker = Tracker::default();
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut run = |secs, permitted, rejected| {
            let (judged, alerts) = tracker.evaluate(
                &rules,
                vec![bulkhead("db", permitted, rejected)],
                at(secs),
                secs,
            );
            (judged[0].status, alerts.len())
        };
        assert_eq!(run(0, 0, 0), (HealthStatus::Healthy, 0));
        assert_eq!(run(10, 80, 20), (HealthStatus::Degraded, 1));
        assert_eq!(run(50, 100, 20), (HealthStatus::Degraded, 0));
        // The rejections of the first ten seconds have left the minute.
        assert_eq!(run(71, 190, 20), (HealthStatus::Healthy, 1));
    }

    #[test]
    fn an_instance_new_since_the_previous_evaluation_is_judged_from_it() {
        let rules = HealthRules::default();
        let mut tracker = Tracker::default();
        let start = Instant::now();
        let (_, alerts) = tracker.evaluate(&rules, Vec::new(), start, 0);
        assert!(alerts.is_empty());
        let later = start + Duration::from_secs(5);
        let (judged, _) = tracker.evaluate(&rules, vec![bulkhead("new", 1, 1)], later, 1);
        assert_eq!(judged[0].status, HealthStatus::Degraded);
        assert_eq!(
            judged[0].reasons[0].message,
            "rejected 50% of 2 calls over the last 5s, more than 10%"
        );
    }

    #[test]
    fn an_evaluation_overtaken_by_a_later_one_alerts_nothing() {
        let rules = HealthRules::default();
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let open = breaker("late", CircuitState::Open, Some(1));
        let (_, alerts) = tracker.evaluate(&rules, vec![open.clone()], now, 2);
        assert_eq!(alerts.len(), 1);
        // Started earlier, when the breaker was still closed.
        let closed = breaker("late", CircuitState::Closed, None);
        let (judged, alerts) = tracker.evaluate(&rules, vec![closed], now, 1);
        assert!(alerts.is_empty());
        assert_eq!(judged[0].status, HealthStatus::Healthy);
        // Nothing was remembered of it: the breaker was open, and is still.
        let (_, alerts) = tracker.evaluate(&rules, vec![open], now, 3);
        assert!(alerts.is_empty());
    }
}
