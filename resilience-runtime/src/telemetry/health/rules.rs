//! The thresholds [`Registry::health`](crate::Registry::health) judges by,
//! and where the ones in force come from: code, else the applied
//! configuration's `[health]` table, else the defaults.

use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use serde::Serialize;

use crate::config::health::{EffectiveRules, HealthTable};
use crate::config::{check, ConfigError};

/// The thresholds of [`Registry::health`](crate::Registry::health); the
/// keys of the configuration file's `[health]` table, with the same defaults.
///
/// ```
/// use resilience_runtime::telemetry::HealthRules;
/// use std::time::Duration;
///
/// let rules = HealthRules::default()
///     .open_alert_after(Duration::from_secs(120))
///     .failure_rate_alert(0.5);
/// assert!(rules.validate().is_ok());
/// let err = rules.rejection_rate_alert(1.5).validate().unwrap_err();
/// assert_eq!(err.to_string(), "invalid `rejection_rate_alert`: must be in [0, 1], got 1.5");
/// ```
///
/// Serialized with the same field names, the duration in the attributes'
/// grammar: `{"open_alert_after": "5m", "failure_rate_alert": 0.3,
/// "rejection_rate_alert": 0.1}`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthRules {
    /// How long a circuit breaker may refuse calls (OPEN, HALF_OPEN or
    /// FORCED_OPEN, without closing in between) before its instance is
    /// critical rather than degraded. Default 5 minutes.
    #[serde(serialize_with = "super::grammar")]
    pub open_alert_after: Duration,
    /// The failure rate in a circuit breaker's window at or above which its
    /// instance is degraded. Default 0.3.
    pub failure_rate_alert: f64,
    /// The share of a bulkhead's or a rate limiter's calls rejected over the
    /// last minute above which its instance is degraded. Default 0.1.
    pub rejection_rate_alert: f64,
}

impl Default for HealthRules {
    fn default() -> Self {
        HealthRules {
            open_alert_after: Duration::from_secs(5 * 60),
            failure_rate_alert: 0.3,
            rejection_rate_alert: 0.1,
        }
    }
}

impl HealthRules {
    /// Sets [`open_alert_after`](Self::open_alert_after).
    pub fn open_alert_after(mut self, after: Duration) -> Self {
        self.open_alert_after = after;
        self
    }

    /// Sets [`failure_rate_alert`](Self::failure_rate_alert).
    pub fn failure_rate_alert(mut self, rate: f64) -> Self {
        self.failure_rate_alert = rate;
        self
    }

    /// Sets [`rejection_rate_alert`](Self::rejection_rate_alert).
    pub fn rejection_rate_alert(mut self, rate: f64) -> Self {
        self.rejection_rate_alert = rate;
        self
    }

    /// Checks every rule, naming the first one at fault: the rates in
    /// `[0, 1]`, the duration longer than zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(!self.open_alert_after.is_zero(), "open_alert_after", || {
            "must be longer than zero".into()
        })?;
        for (key, rate) in [
            ("failure_rate_alert", self.failure_rate_alert),
            ("rejection_rate_alert", self.rejection_rate_alert),
        ] {
            check((0.0..=1.0).contains(&rate), key, || {
                format!("must be in [0, 1], got {rate}")
            })?;
        }
        Ok(())
    }
}

/// The layers of the rules in force.
struct Layers {
    code: Option<HealthRules>,
    table: HealthTable,
}

static LAYERS: RwLock<Layers> = RwLock::new(Layers {
    code: None,
    table: HealthTable::EMPTY,
});

/// The rules in force now.
pub(crate) fn in_force() -> HealthRules {
    with_table(None).rules
}

/// The rules with `table` as the applied configuration's `[health]` table
/// (with the one applied now if `None`), and each one's origin.
pub(crate) fn with_table(table: Option<&HealthTable>) -> EffectiveRules {
    let layers = LAYERS.read().unwrap_or_else(PoisonError::into_inner);
    table
        .unwrap_or(&layers.table)
        .effective(layers.code.as_ref())
}

/// Whether rules were set in code, which no table overrides.
pub(crate) fn set_in_code() -> bool {
    LAYERS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .code
        .is_some()
}

/// Makes `table` the applied configuration's `[health]` table.
pub(crate) fn apply_table(table: HealthTable) {
    LAYERS.write().unwrap_or_else(PoisonError::into_inner).table = table;
}

/// Sets the rules in code, over any table; fails, changing nothing, if one is invalid.
pub(crate) fn set_in_code_checked(rules: HealthRules) -> Result<(), ConfigError> {
    rules.validate()?;
    LAYERS.write().unwrap_or_else(PoisonError::into_inner).code = Some(rules);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_those_of_the_issue() {
        let rules = HealthRules::default();
        assert_eq!(rules.open_alert_after, Duration::from_secs(300));
        assert_eq!(rules.failure_rate_alert, 0.3);
        assert_eq!(rules.rejection_rate_alert, 0.1);
        assert!(rules.validate().is_ok());
    }

    #[test]
    fn validation_names_the_rule_at_fault() {
        let zero = HealthRules::default().open_alert_after(Duration::ZERO);
        assert_eq!(zero.validate().unwrap_err().key(), "open_alert_after");
        let negative = HealthRules::default().failure_rate_alert(-0.1);
        assert_eq!(
            negative.validate().unwrap_err().to_string(),
            "invalid `failure_rate_alert`: must be in [0, 1], got -0.1"
        );
        let nan = HealthRules::default().rejection_rate_alert(f64::NAN);
        assert_eq!(nan.validate().unwrap_err().key(), "rejection_rate_alert");
        let edges = HealthRules::default()
            .failure_rate_alert(0.0)
            .rejection_rate_alert(1.0);
        assert!(edges.validate().is_ok());
    }

    // The only test of this binary to touch the registry's rules.
    #[test]
    fn the_table_sets_the_rules_until_rules_are_set_in_code_which_win() {
        use crate::config::Config;
        use crate::registry;

        let config = |text: &str| Config::from_toml_str(text).unwrap();
        let report = registry()
            .apply(&config("[health]\nfailure_rate_alert = 0.5\n"))
            .unwrap();
        assert_eq!(
            report.to_string(),
            "health.failure_rate_alert: 0.3 -> 0.5 (config table)\n"
        );
        assert_eq!(registry().health_rules().failure_rate_alert, 0.5);

        let invalid = HealthRules::default().open_alert_after(Duration::ZERO);
        assert!(registry().set_health_rules(invalid).is_err());
        assert_eq!(registry().health_rules().failure_rate_alert, 0.5);

        let code = HealthRules::default().rejection_rate_alert(0.2);
        registry().set_health_rules(code.clone()).unwrap();
        assert_eq!(registry().health_rules(), code);
        let report = registry()
            .apply(&config("[health]\nopen_alert_after = \"1m\"\n"))
            .unwrap();
        assert_eq!(
            report.to_string(),
            "no setting changed\nwarning: line 1, column 2: `health`: the health rules are set in code (`set_health_rules`), which takes precedence: this table changes nothing\n"
        );
        assert_eq!(registry().health_rules(), code);
    }

    #[test]
    fn rules_serialize_with_the_duration_in_the_attributes_grammar() {
        let json = serde_json::to_value(HealthRules::default()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "open_alert_after": "5m",
                "failure_rate_alert": 0.3,
                "rejection_rate_alert": 0.1,
            })
        );
    }
}
