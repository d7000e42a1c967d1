//! [`Registry::health`]: the rules (see the [module docs](super#health)),
//! the evaluator that remembers what it saw, and the alerts.

mod judge;
mod observe;
pub(crate) mod rules;
mod tracker;
mod watch;
mod window;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Serialize, Serializer};

use judge::BreakerReading;
pub use rules::HealthRules;
use tracker::{Observation, Reading, Tracker};
pub use watch::watch_health;

use super::family;
use crate::config::{ConfigError, PolicyKind};
use crate::event::{emit, Event};
use crate::{Bulkhead, CircuitBreaker, RateLimiter, Registry};

/// How well an instance, or the whole registry, is doing; ordered from best
/// to worst, so that the worst of several is their `max`. Serialized and
/// displayed in lower case: `"healthy"`, `"degraded"`, `"critical"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Nothing to report.
    Healthy,
    /// A dependency is failing or overloaded, and the policies are handling
    /// it: worth a look, no reason to take the replica out of service.
    Degraded,
    /// A breaker has refused calls for longer than `open_alert_after`.
    Critical,
}

impl HealthStatus {
    /// The status as JSON and `Display` spell it: `"degraded"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Critical => "critical",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which rule an instance broke; serialized in snake case (`"open_too_long"`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// `circuit_open`: a breaker refuses calls (OPEN, HALF_OPEN or
    /// FORCED_OPEN), for no longer than `open_alert_after` yet. Degraded.
    CircuitOpen,
    /// `open_too_long`: a breaker has refused calls for longer than
    /// `open_alert_after`. Critical.
    OpenTooLong,
    /// `failure_rate`: a breaker's window has a failure rate at or above
    /// `failure_rate_alert`. Degraded.
    FailureRate,
    /// `rejection_rate`: a bulkhead or a rate limiter rejected more than
    /// `rejection_rate_alert` of its calls over the last minute. Degraded.
    RejectionRate,
    /// `store_unavailable`: a policy with `store = "redis"` cannot reach
    /// Redis and decides on its own (a rate limiter by its
    /// `on_store_error`). Degraded.
    StoreUnavailable,
}

impl ReasonCode {
    /// The code as JSON spells it: `"open_too_long"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::CircuitOpen => "circuit_open",
            ReasonCode::OpenTooLong => "open_too_long",
            ReasonCode::FailureRate => "failure_rate",
            ReasonCode::RejectionRate => "rejection_rate",
            ReasonCode::StoreUnavailable => "store_unavailable",
        }
    }

    /// The status this reason gives its instance.
    pub fn status(self) -> HealthStatus {
        match self {
            ReasonCode::OpenTooLong => HealthStatus::Critical,
            ReasonCode::CircuitOpen
            | ReasonCode::FailureRate
            | ReasonCode::RejectionRate
            | ReasonCode::StoreUnavailable => HealthStatus::Degraded,
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an instance is not healthy: a code for programs, a sentence for people.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReason {
    /// The rule broken.
    pub code: ReasonCode,
    /// What was measured, against which threshold: `"OPEN, refusing calls
    /// for 6m, longer than 5m"`.
    pub message: String,
}

impl HealthReason {
    pub(crate) fn new(code: ReasonCode, message: String) -> Self {
        HealthReason { code, message }
    }
}

impl fmt::Display for HealthReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// One instance that is not healthy, with its reasons.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceHealth {
    /// The kind of policy.
    pub kind: PolicyKind,
    /// The instance's name.
    pub name: String,
    /// Whether it is a keyed family, judged on its members: see
    /// [`Registry::health`].
    pub keyed: bool,
    /// The worst status of its reasons.
    pub status: HealthStatus,
    /// Every rule it breaks, in the order of [`ReasonCode`].
    pub reasons: Vec<HealthReason>,
}

impl InstanceHealth {
    pub(crate) fn new(
        kind: PolicyKind,
        name: String,
        keyed: bool,
        reasons: Vec<HealthReason>,
    ) -> Self {
        InstanceHealth {
            kind,
            name,
            keyed,
            status: tracker::status(&reasons),
            reasons,
        }
    }
}

/// What [`Registry::health`] found: the overall status, every instance that
/// is not healthy, and the rules it judged by.
///
/// ```json
/// {
///   "status": "critical",
///   "instances": [
///     {
///       "kind": "circuit_breaker",
///       "name": "inventory",
///       "status": "critical",
///       "reasons": [{"code": "open_too_long", "message": "OPEN, refusing calls for 6m, longer than 5m"}]
///     }
///   ],
///   "rules": {"open_alert_after": "5m", "failure_rate_alert": 0.3, "rejection_rate_alert": 0.1}
/// }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// The worst status of any instance; healthy when none is listed.
    pub status: HealthStatus,
    /// The instances that are not healthy, by kind (in the order of
    /// [`Registry::instances`]) and name. Healthy ones are left out: see
    /// [`Registry::snapshot`] for every instance.
    pub instances: Vec<InstanceHealth>,
    /// The rules in force.
    pub rules: HealthRules,
}

/// Remembers what the previous evaluations saw; held only while judging.
static TRACKER: Mutex<Option<Tracker>> = Mutex::new(None);

/// Evaluations started so far, to tell a late one from the latest.
static EVALUATIONS: AtomicU64 = AtomicU64::new(0);

impl Registry {
    /// Judges every instance made so far by the [health rules](crate::telemetry#health),
    /// and reports each instance whose status or reasons changed since the
    /// previous call as [`Event::HealthChanged`](crate::Event::HealthChanged).
    /// Cheap: it reads the policies' atomics, and takes the registry's read
    /// lock and a lock of its own.
    ///
    /// ```
    /// use resilience_runtime::telemetry::HealthStatus;
    /// use resilience_runtime::registry;
    ///
    /// let breaker = registry().circuit_breaker("docs-health-inventory");
    /// breaker.force_open();
    /// let health = registry().health();
    /// assert_eq!(health.status, HealthStatus::Degraded);
    /// let inventory = health.instances.iter().find(|i| i.name == "docs-health-inventory").unwrap();
    /// assert_eq!(inventory.reasons[0].code.as_str(), "circuit_open");
    ///
    /// breaker.reset();
    /// assert_eq!(registry().health().status, HealthStatus::Healthy);
    /// ```
    pub fn health(&self) -> Health {
        let order = EVALUATIONS.fetch_add(1, Ordering::Relaxed);
        let rules = rules::in_force();
        let now = tokio::time::Instant::now();
        // Read outside the tracker's lock: reading a breaker may turn it
        // HALF_OPEN, and its listeners may evaluate health again.
        let observations = self.observe();
        let (judged, alerts) = {
            let mut tracker = TRACKER.lock().unwrap_or_else(PoisonError::into_inner);
            tracker
                .get_or_insert_with(Tracker::default)
                .evaluate(&rules, observations, now, order)
        };
        // Outside the lock: a listener may evaluate health again.
        for alert in &alerts {
            emit(Event::HealthChanged {
                kind: alert.kind,
                name: &alert.name,
                from: alert.from,
                to: alert.to,
                reasons: &alert.reasons,
            });
        }
        let instances: Vec<InstanceHealth> = judged
            .into_iter()
            .filter(|instance| instance.status != HealthStatus::Healthy)
            .collect();
        Health {
            status: instances
                .iter()
                .map(|instance| instance.status)
                .max()
                .unwrap_or(HealthStatus::Healthy),
            instances,
            rules,
        }
    }

    /// The health rules in force: those set with
    /// [`set_health_rules`](Self::set_health_rules), else the applied
    /// configuration's `[health]` table over the defaults.
    pub fn health_rules(&self) -> HealthRules {
        rules::in_force()
    }

    /// Sets the health rules in code, over the configuration's `[health]`
    /// table (as `configure_*` is over a policy's table), from the next
    /// [`health`](Self::health) on. Fails, changing nothing, if a rule is
    /// invalid.
    ///
    /// ```
    /// use resilience_runtime::telemetry::HealthRules;
    /// use resilience_runtime::registry;
    /// use std::time::Duration;
    ///
    /// let err = registry()
    ///     .set_health_rules(HealthRules::default().failure_rate_alert(2.0))
    ///     .unwrap_err();
    /// assert_eq!(err.key(), "failure_rate_alert");
    /// assert_eq!(registry().health_rules(), HealthRules::default());
    ///
    /// let rules = HealthRules::default().open_alert_after(Duration::from_secs(60));
    /// registry().set_health_rules(rules.clone()).unwrap();
    /// assert_eq!(registry().health_rules(), rules);
    /// ```
    pub fn set_health_rules(&self, rules: HealthRules) -> Result<(), ConfigError> {
        rules::set_in_code_checked(rules)
    }

    /// Every instance and family the rules judge, made so far: the others
    /// have not run.
    fn observe(&self) -> Vec<Observation> {
        let mut all = Vec::new();
        let mut push = |kind, name: &str, keyed, reading| {
            all.push(Observation {
                kind,
                name: name.to_owned(),
                keyed,
                reading,
            });
        };
        for breaker in self.circuit_breakers() {
            let metrics = breaker.metrics();
            let outage = breaker.outage_duration(metrics.state);
            let reading = BreakerReading {
                store_down: observe::store_down(breaker.store_status()),
                ..observe::breaker(metrics, outage)
            };
            push(
                PolicyKind::CircuitBreaker,
                breaker.name(),
                false,
                Reading::Breaker(reading),
            );
        }
        for family in self.families::<CircuitBreaker>() {
            let reading = observe::breaker_family(&family);
            push(
                PolicyKind::CircuitBreaker,
                family.name(),
                true,
                Reading::BreakerFamily(reading),
            );
        }
        for limiter in self.rate_limiters() {
            let m = limiter.metrics();
            let reading = observe::admission(m.permitted_calls, m.rejected_calls)
                .store_down(observe::store_down(limiter.store_status()));
            push(PolicyKind::RateLimiter, limiter.name(), false, reading);
        }
        for family in self.families::<RateLimiter>() {
            let m = family::rate_limiters(&observe::each(&family, RateLimiter::metrics));
            let down = observe::each(&family, |member| observe::store_down(member.store_status()));
            let reading = observe::admission(m.permitted_calls, m.rejected_calls)
                .store_down(down.into_iter().flatten().max());
            push(PolicyKind::RateLimiter, family.name(), true, reading);
        }
        for bulkhead in self.bulkheads() {
            let m = bulkhead.metrics();
            let reading = observe::admission(m.permitted_calls, m.rejected_calls);
            push(PolicyKind::Bulkhead, bulkhead.name(), false, reading);
        }
        for family in self.families::<Bulkhead>() {
            let m = family::bulkheads(&observe::each(&family, Bulkhead::metrics));
            let reading = observe::admission(m.permitted_calls, m.rejected_calls);
            push(PolicyKind::Bulkhead, family.name(), true, reading);
        }
        all
    }
}

/// A duration in the attributes' grammar: `"250ms"`, `"5m"`.
pub(crate) fn grammar<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&resilience_grammar::duration::format(*duration))
}
