//! The `[health]` table: the thresholds of
//! [`Registry::health`](crate::Registry::health), read and checked as a
//! policy's table is, and layered under the rules set in code.

use super::error::{Location, Problem};
use super::file::Table;
use super::layers::{unknown_key, Origin};
use super::schema::Key;
use super::value::{Field, Range, Type, Value};
use crate::telemetry::HealthRules;

/// The table's name in a configuration file.
pub(crate) const TABLE: &str = "health";

/// The keys of the `[health]` table, spelled as the fields of [`HealthRules`].
pub(crate) const KEYS: &[Key<HealthRules>] = &[
    Key {
        name: "open_alert_after",
        ty: Type::Duration { nonzero: true },
        example: "\"5m\"",
        get: |rules| Field::to_value(&rules.open_alert_after),
        set: |rules, value| rules.open_alert_after = Field::from_value(value),
    },
    Key {
        name: "failure_rate_alert",
        ty: Type::Number(Range::Share),
        example: "0.3",
        get: |rules| Field::to_value(&rules.failure_rate_alert),
        set: |rules, value| rules.failure_rate_alert = Field::from_value(value),
    },
    Key {
        name: "rejection_rate_alert",
        ty: Type::Number(Range::Share),
        example: "0.1",
        get: |rules| Field::to_value(&rules.rejection_rate_alert),
        set: |rules, value| rules.rejection_rate_alert = Field::from_value(value),
    },
];

/// The `[health]` table of a configuration, checked and typed; empty when
/// the configuration has none.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HealthTable {
    /// Where the table is, if the configuration has one.
    pub(crate) at: Option<Location>,
    values: Vec<(&'static str, Value, Option<Location>)>,
}

/// The health rules in force, each key with its origin and, when a file set
/// it, its place there.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EffectiveRules {
    pub(crate) rules: HealthRules,
    pub(crate) origins: Vec<(Origin, Option<Location>)>,
}

impl HealthTable {
    /// No table: every rule at its default.
    pub(crate) const EMPTY: HealthTable = HealthTable {
        at: None,
        values: Vec::new(),
    };

    /// Reads the table's keys with their types and ranges.
    pub(crate) fn read(table: &Table, problems: &mut Vec<Problem>) -> HealthTable {
        let mut checked = HealthTable {
            at: table.at,
            values: Vec::new(),
        };
        for entry in &table.entries {
            let mut problem = |message: String| {
                problems.push(Problem {
                    path: format!("{TABLE}.{}", entry.key),
                    location: entry.at,
                    message,
                })
            };
            let Some(key) = KEYS.iter().find(|key| key.name == entry.key) else {
                let known: Vec<&str> = KEYS.iter().map(|key| key.name).collect();
                problem(unknown_key(&entry.key, &known));
                continue;
            };
            match key.ty.read(&entry.value, key.name, key.example) {
                Ok(value) => checked.values.push((key.name, value, entry.at)),
                Err(message) => problem(message),
            }
        }
        checked
    }

    /// Whether the table sets anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The rules in force with this table: those set in `code` whole if
    /// any, else each key of the table over the built-in default.
    pub(crate) fn effective(&self, code: Option<&HealthRules>) -> EffectiveRules {
        if let Some(code) = code {
            return EffectiveRules {
                rules: code.clone(),
                origins: vec![(Origin::Code, None); KEYS.len()],
            };
        }
        let mut rules = HealthRules::default();
        let mut origins = vec![(Origin::BuiltIn, None); KEYS.len()];
        for (name, value, at) in &self.values {
            if let Some(i) = KEYS.iter().position(|key| key.name == *name) {
                (KEYS[i].set)(&mut rules, *value);
                origins[i] = (Origin::Table, *at);
            }
        }
        EffectiveRules { rules, origins }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Config;

    fn table(text: &str) -> HealthTable {
        let config = Config::from_toml_str(text).unwrap_or_else(|errors| panic!("{errors}"));
        crate::config::layers::Layers::read(&config)
            .unwrap()
            .health
            .clone()
    }

    fn problems(text: &str) -> Vec<String> {
        Config::from_toml_str(text)
            .unwrap_err()
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn each_key_of_the_table_replaces_its_default_and_the_others_stay() {
        let effective = table("[health]\nopen_alert_after = \"2s\"\nrejection_rate_alert = 0\n")
            .effective(None);
        assert_eq!(
            effective.rules,
            HealthRules::default()
                .open_alert_after(Duration::from_secs(2))
                .rejection_rate_alert(0.0)
        );
        assert_eq!(
            effective.origins,
            [
                (Origin::Table, Some(Location { line: 2, column: 1 })),
                (Origin::BuiltIn, None),
                (Origin::Table, Some(Location { line: 3, column: 1 })),
            ]
        );
    }

    #[test]
    fn rules_set_in_code_win_over_the_table_whole() {
        let code = HealthRules::default().failure_rate_alert(0.5);
        let effective = table("[health]\nopen_alert_after = \"2s\"\n").effective(Some(&code));
        assert_eq!(effective.rules, code);
        assert_eq!(effective.origins, vec![(Origin::Code, None); 3]);
    }

    #[test]
    fn a_configuration_without_the_table_gives_the_defaults() {
        let table = table("[bulkhead.db]\nmax_concurrent = 2\n");
        assert!(table.is_empty());
        assert_eq!(table.effective(None).rules, HealthRules::default());
    }

    #[test]
    fn a_duration_without_a_unit_is_refused_with_a_suggestion() {
        assert_eq!(
            problems("[health]\nopen_alert_after = 10\n"),
            ["line 2, column 1: `health.open_alert_after`: a duration needs a unit; write `open_alert_after = \"10s\"` for seconds or `\"10ms\"` for milliseconds"]
        );
    }

    #[test]
    fn a_zero_duration_is_refused() {
        assert_eq!(
            problems("[health]\nopen_alert_after = \"0s\"\n"),
            ["line 2, column 1: `health.open_alert_after`: must be longer than zero; e.g. `open_alert_after = \"5m\"`"]
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused() {
        assert_eq!(
            problems("[health]\nfailure_rate_alert = \"high\"\nopen_alert_after = true\n"),
            [
                "line 2, column 1: `health.failure_rate_alert`: expected a number, found the string `\"high\"`; e.g. `failure_rate_alert = 0.3`",
                "line 3, column 1: `health.open_alert_after`: expected a duration, found `true`; e.g. `open_alert_after = \"5m\"`",
            ]
        );
    }

    #[test]
    fn a_rate_out_of_range_is_refused() {
        assert_eq!(
            problems("[health]\nfailure_rate_alert = 1.5\nrejection_rate_alert = -0.1\n"),
            [
                "line 2, column 1: `health.failure_rate_alert`: must be in [0, 1], got 1.5",
                "line 3, column 1: `health.rejection_rate_alert`: must be in [0, 1], got -0.1",
            ]
        );
    }

    #[test]
    fn health_must_be_a_table() {
        assert_eq!(
            problems("health = 5\n"),
            ["line 1, column 1: `health`: expected a table of rules, e.g. `[health]` then `open_alert_after = \"5m\"`"]
        );
    }

    #[test]
    fn an_unknown_key_gets_a_suggestion() {
        assert_eq!(
            problems("[health]\nopen_alert_afer = \"1m\"\nflavour = 1\n"),
            [
                "line 2, column 1: `health.open_alert_afer`: unknown key; did you mean `open_alert_after`?",
                "line 3, column 1: `health.flavour`: unknown key; expected `open_alert_after`, `failure_rate_alert` or `rejection_rate_alert`",
            ]
        );
    }
}
