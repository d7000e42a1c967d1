//! Applying a configuration: everything is checked first, then all of it
//! takes effect, or none of it.

use super::{each_kind, Policy, Registry, State};
use crate::config::health::{self, HealthTable};
use crate::config::layers::{did_you_mean, Layers};
use crate::config::redis;
use crate::config::schema::Settings;
use crate::config::{ApplyReport, Change, Config, ConfigErrors, PolicyKind, Problem, RuleChange};
use crate::event::{emit, Event};
use crate::telemetry::health::rules;

impl Registry {
    /// Applies `config` in place of the configuration applied before, whole
    /// or not at all: every instance's settings are checked first, and on any
    /// problem nothing changes. A setting the new configuration no longer
    /// gives returns to its inline or built-in value. Works before any call
    /// and at any time after, which is a reload; the result is also reported
    /// to listeners as [`Event::ConfigApplied`] or [`Event::ConfigRejected`].
    /// The `[health]` table's rules take effect at once, likewise: a key it
    /// no longer gives returns to its default (rules set in code with
    /// [`set_health_rules`](Self::set_health_rules) win over the table).
    /// A `[redis]` table (feature `redis`) whose `url` or `key_prefix`
    /// differs from the one applied before connects the policies with
    /// `store = "redis"` to that store, in place of any store set before,
    /// in code too; a table removed clears the store; a configuration that
    /// had no table before and has none now leaves the store alone.
    ///
    /// In-flight calls are never disturbed. A circuit breaker keeps its state
    /// and counters, and its window the most recent outcomes that fit the new
    /// one. A bulkhead resized up admits waiters at once; resized down, the
    /// running calls finish and new ones wait or are rejected until fewer than
    /// the new limit run. A rate limiter keeps its tokens, up to the new
    /// `max_tokens`. Retries and time limiters use their new settings from
    /// their next call.
    ///
    /// ```
    /// use resilience_runtime::config::Config;
    /// use resilience_runtime::{bulkhead, registry};
    ///
    /// # #[derive(Debug)] struct DbError;
    /// # impl From<resilience_runtime::Error> for DbError { fn from(_: resilience_runtime::Error) -> Self { DbError } }
    /// #[bulkhead(name = "docs-apply-db", max_concurrent = 4)]
    /// fn query() -> Result<(), DbError> { Ok(()) }
    ///
    /// let config = Config::from_toml_str("[bulkhead.docs-apply-db]\nmax_concurrent = 16\n").unwrap();
    /// let report = registry().apply(&config).unwrap();
    /// assert_eq!(
    ///     report.to_string(),
    ///     "bulkhead.docs-apply-db.max_concurrent: 4 -> 16 (config table)\n"
    /// );
    /// assert_eq!(registry().bulkhead("docs-apply-db").max_concurrent(), 16);
    /// ```
    pub fn apply(&self, config: &Config) -> Result<ApplyReport, ConfigErrors> {
        let result = self.apply_whole(config);
        match &result {
            Ok(report) => emit(Event::ConfigApplied(report)),
            Err(errors) => self.reject(errors),
        }
        result
    }

    /// Reports a configuration that was refused before it could be applied.
    pub(crate) fn reject(&self, errors: &ConfigErrors) {
        emit(Event::ConfigRejected(errors));
    }

    fn apply_whole(&self, config: &Config) -> Result<ApplyReport, ConfigErrors> {
        let layers = Layers::read(config)?;
        let mut state = self.write();
        let mut problems = Vec::new();
        let mut report = ApplyReport::default();
        macro_rules! plan {
            ($policy:ty) => {
                plan::<$policy>(&state, &layers, &mut problems, &mut report.changes)
            };
        }
        each_kind!(plan);
        ConfigErrors::into_result(problems)?;
        report.health_rules = health_rule_changes(&layers.health);
        report.redis = redis::changes(state.file.redis.as_ref(), layers.redis.as_ref());
        report.warnings = unused_tables(&state, &layers);
        report
            .warnings
            .extend(overridden_health_table(&layers.health));
        macro_rules! commit {
            ($policy:ty) => {
                commit::<$policy>(&state, &layers)
            };
        }
        each_kind!(commit);
        rules::apply_table(layers.health.clone());
        #[cfg(feature = "redis")]
        redis::put_in_force(state.file.redis.as_ref(), layers.redis.as_ref());
        state.file = layers;
        Ok(report)
    }
}

/// Checks the settings every known instance of a kind would have under
/// `layers`, and lists those that change.
fn plan<P: Policy>(
    state: &State,
    layers: &Layers,
    problems: &mut Vec<Problem>,
    changes: &mut Vec<Change>,
) {
    let kind = P::of(state);
    let keys = <P::Config as Settings>::keys();
    let kind_name = <P::Config as Settings>::KIND;
    for name in kind.names() {
        let new = kind.effective(layers, name);
        if let Err(error) = new.config.check() {
            let index = keys.iter().position(|key| key.name == error.key());
            let (origin, at) = index.map_or((None, None), |i| {
                let (origin, at) = &new.origins[i];
                (Some(origin), *at)
            });
            let whence = origin.map_or(String::new(), |origin| format!(" (set by {origin})"));
            problems.push(Problem {
                path: format!("{kind_name}.{name}.{}", error.key()),
                location: at.or_else(|| layers.table_at(kind_name, name)),
                message: format!("{}{whence}", error.reason()),
            });
            continue;
        }
        let old = kind.effective(&state.file, name);
        for (i, key) in keys.iter().enumerate() {
            let (before, after) = ((key.get)(&old.config), (key.get)(&new.config));
            if before != after {
                changes.push(Change {
                    kind: kind_name,
                    name: name.to_owned(),
                    key: key.name,
                    old: before,
                    new: after,
                    origin: new.origins[i].0.clone(),
                });
            }
        }
    }
}

/// Gives each instance of a kind made so far whose settings `layers` change
/// its new settings. The others are left alone, so settings given by hand
/// to a policy's own `reconfigure` last until a configuration changes them.
fn commit<P: Policy>(state: &State, layers: &Layers) {
    let kind = P::of(state);
    for (name, policy) in &kind.instances {
        let new = kind.effective(layers, name).config;
        if new == kind.effective(&state.file, name).config {
            continue;
        }
        if let Err(error) = policy.reconfigure(new) {
            unreachable!("settings checked by `plan` were rejected: {error}");
        }
    }
    for (name, family) in &kind.families {
        let new = kind.effective(layers, name).config;
        if new == kind.effective(&state.file, name).config {
            continue;
        }
        if let Err(error) = family.reconfigure(new) {
            unreachable!("settings checked by `plan` were rejected: {error}");
        }
    }
}

/// The health rules `table` changes, from those in force.
fn health_rule_changes(table: &HealthTable) -> Vec<RuleChange> {
    let (old, new) = (rules::with_table(None), rules::with_table(Some(table)));
    health::KEYS
        .iter()
        .zip(new.origins)
        .filter_map(|(key, (origin, _))| {
            let (before, after) = ((key.get)(&old.rules), (key.get)(&new.rules));
            (before != after).then_some(RuleChange {
                key: key.name,
                old: before,
                new: after,
                origin,
            })
        })
        .collect()
}

/// A `[health]` table that rules set in code override whole.
fn overridden_health_table(table: &HealthTable) -> Option<Problem> {
    (!table.is_empty() && rules::set_in_code()).then(|| Problem {
        path: health::TABLE.to_owned(),
        location: table.at,
        message: "the health rules are set in code (`set_health_rules`), which takes precedence: this table changes nothing".to_owned(),
    })
}

/// Tables that name no declared instance and serve as nobody's base.
fn unused_tables(state: &State, layers: &Layers) -> Vec<Problem> {
    let known = |kind| state.names(kind);
    layers
        .named()
        .filter(|(kind, name, _)| !known(*kind).contains(name) && !layers.is_base(*kind, name))
        .map(|(kind, name, at)| {
            let path = format!("{kind}.{name}");
            // A misspelt name, else a table under the wrong kind.
            let mut suggestion = did_you_mean(name, &known(kind));
            if suggestion.is_empty() {
                suggestion = PolicyKind::ALL
                    .into_iter()
                    .filter(|other| *other != kind)
                    .find_map(|other| {
                        resilience_grammar::closest(name, &known(other)).map(|found| (other, found))
                    })
                    .map_or(String::new(), |(other, found)| {
                        format!("; did you mean `[{other}.{found}]`?")
                    });
            }
            Problem {
                message: format!(
                    "no attribute, handle lookup or `configure_*` declares this {kind}, and no table uses it as a `base`, so it sets nothing{suggestion}"
                ),
                path,
                location: at,
            }
        })
        .collect()
}
