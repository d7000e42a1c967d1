//! Where each setting of a named instance comes from, and the value it ends
//! up with: the first of code, the instance's table, its `base` chain, the
//! attribute's inline arguments, the kind's `default` table, the built-in
//! default.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::error::{ConfigErrors, Location, Problem};
use super::file::{Config, Table};
use super::health::HealthTable;
use super::redis::RedisTable;
use super::schema::{PolicyKind, Settings};
use super::value::{Raw, Value};
use crate::registry::CallSite;

/// Where the value in force of one setting comes from.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Set in code, with `Registry::configure_*`.
    Code,
    /// The instance's own table in the applied configuration.
    Table,
    /// A template the instance's table inherits, through `base`.
    Base(String),
    /// The attribute's inline argument at this call site.
    Inline(CallSite),
    /// The kind's `default` table in the applied configuration.
    DefaultTable,
    /// The built-in default.
    BuiltIn,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Code => f.write_str("code (configure_*)"),
            Origin::Table => f.write_str("config table"),
            Origin::Base(base) => write!(f, "config base `{base}`"),
            Origin::Inline(site) => write!(f, "attribute at {}:{}", site.file, site.line),
            Origin::DefaultTable => f.write_str("config default table"),
            Origin::BuiltIn => f.write_str("built-in default"),
        }
    }
}

/// An object whose `source` is `code`, `table`, `base` (with the template's
/// name under `base`), `inline` (with the attribute's place under
/// `call_site`), `default_table` or `built_in`.
impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let source = match self {
            Origin::Code => "code",
            Origin::Table => "table",
            Origin::Base(_) => "base",
            Origin::Inline(_) => "inline",
            Origin::DefaultTable => "default_table",
            Origin::BuiltIn => "built_in",
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("source", source)?;
        match self {
            Origin::Base(base) => map.serialize_entry("base", base)?,
            Origin::Inline(site) => map.serialize_entry("call_site", site)?,
            _ => {}
        }
        map.end()
    }
}

/// The name reserved for the table every instance of a kind falls back on.
pub(crate) const DEFAULT: &str = "default";

/// The tables of a configuration, checked and typed.
#[derive(Debug, Default)]
#[doc(hidden)]
pub struct Layers {
    tables: BTreeMap<(PolicyKind, String), Checked>,
    /// The `[health]` table.
    pub(crate) health: HealthTable,
    /// The `[redis]` table, if there is one.
    pub(crate) redis: Option<RedisTable>,
}

#[derive(Debug)]
struct Checked {
    base: Option<String>,
    base_at: Option<Location>,
    at: Option<Location>,
    values: Vec<(&'static str, Value, Option<Location>)>,
}

/// A declaration's part in an instance's settings.
pub(crate) struct Inline<'a, C> {
    pub(crate) config: &'a C,
    pub(crate) keys: &'a [&'static str],
    pub(crate) site: CallSite,
}

/// An instance's settings in force, each with its origin and, when a file
/// set it, its place there.
pub(crate) struct Effective<C> {
    pub(crate) config: C,
    pub(crate) origins: Vec<(Origin, Option<Location>)>,
}

impl Layers {
    /// Checks every table of `config` on its own: kinds, keys, types, ranges,
    /// bases. Whether the settings fit together is judged per instance, by
    /// [`effective`](Self::effective) and the registry.
    pub(crate) fn read(config: &Config) -> Result<Layers, ConfigErrors> {
        let mut problems = Vec::new();
        let mut layers = Layers::default();
        for table in &config.tables {
            let Some(kind) = PolicyKind::parse(&table.kind) else {
                let kinds = PolicyKind::ALL.map(PolicyKind::as_str);
                let suggestion = did_you_mean(&table.kind, &kinds);
                problems.push(Problem {
                    path: table.kind.clone(),
                    location: table.kind_at,
                    message: if suggestion.is_empty() {
                        format!("unknown kind of policy; expected one of {}", listed(&kinds))
                    } else {
                        format!("unknown kind of policy{suggestion}")
                    },
                });
                continue;
            };
            let checked = match kind {
                PolicyKind::Retry => check_table::<crate::retry::RetryConfig>(table, &mut problems),
                PolicyKind::CircuitBreaker => check_table::<
                    crate::circuit_breaker::CircuitBreakerConfig,
                >(table, &mut problems),
                PolicyKind::RateLimiter => {
                    check_table::<crate::rate_limiter::RateLimiterConfig>(table, &mut problems)
                }
                PolicyKind::Bulkhead => {
                    check_table::<crate::bulkhead::BulkheadConfig>(table, &mut problems)
                }
                PolicyKind::TimeLimiter => {
                    check_table::<crate::time_limiter::TimeLimiterConfig>(table, &mut problems)
                }
                PolicyKind::Hedge => check_table::<crate::hedge::HedgeConfig>(table, &mut problems),
                PolicyKind::RetryBudget => {
                    check_table::<crate::retry_budget::RetryBudgetConfig>(table, &mut problems)
                }
            };
            layers.tables.insert((kind, table.name.clone()), checked);
        }
        if let Some(table) = &config.health {
            layers.health = HealthTable::read(table, &mut problems);
        }
        if let Some(table) = &config.redis {
            layers.redis = RedisTable::read(table, &mut problems);
        }
        layers.check_bases(&mut problems);
        ConfigErrors::into_result(problems).map(|()| layers)
    }

    fn check_bases(&self, problems: &mut Vec<Problem>) {
        for ((kind, name), table) in &self.tables {
            let Some(base) = &table.base else { continue };
            let path = format!("{kind}.{name}.base");
            let at = table.base_at.or(table.at);
            if !self.tables.contains_key(&(*kind, base.clone())) || base == DEFAULT {
                let templates: Vec<&str> = self
                    .tables
                    .keys()
                    .filter(|(k, n)| k == kind && n != DEFAULT && n != name)
                    .map(|(_, n)| n.as_str())
                    .collect();
                let message = if base == DEFAULT {
                    format!("`default` cannot be a base: every `{kind}` inherits it already; remove `base`")
                } else {
                    format!(
                        "unknown base `{base}`: no `[{kind}.{base}]` table{}",
                        did_you_mean(base, &templates)
                    )
                };
                problems.push(Problem {
                    path,
                    location: at,
                    message,
                });
                continue;
            }
            if let Err(walked) = self.chain(*kind, name) {
                problems.push(Problem {
                    path,
                    location: at,
                    message: format!(
                        "circular base: {}; a chain of bases must end in a table without one",
                        walked.join(" -> ")
                    ),
                });
            }
        }
    }

    /// The tables of `name` and of its `base` chain, itself first, as far
    /// as they exist; `Err` with the names walked when the chain comes back
    /// on itself.
    fn chain<'a>(
        &'a self,
        kind: PolicyKind,
        name: &str,
    ) -> Result<Vec<(&'a str, &'a Checked)>, Vec<&'a str>> {
        let mut chain: Vec<(&'a str, &'a Checked)> = Vec::new();
        let mut next = Some(name);
        while let Some(current) = next {
            if let Some((again, _)) = chain.iter().find(|(seen, _)| *seen == current) {
                let mut walked: Vec<&str> = chain.iter().map(|(seen, _)| *seen).collect();
                walked.push(again);
                return Err(walked);
            }
            let Some((key, table)) = self.tables.get_key_value(&(kind, current.to_owned())) else {
                break;
            };
            chain.push((key.1.as_str(), table));
            next = table.base.as_deref();
        }
        Ok(chain)
    }

    /// The `(kind, name)` of every table but the `default` ones, and where it is.
    pub(crate) fn named(&self) -> impl Iterator<Item = (PolicyKind, &str, Option<Location>)> {
        self.tables
            .iter()
            .filter(|((_, name), _)| name != DEFAULT)
            .map(|((kind, name), table)| (*kind, name.as_str(), table.at))
    }

    /// Whether some table names this one as its `base`.
    pub(crate) fn is_base(&self, kind: PolicyKind, name: &str) -> bool {
        self.tables
            .iter()
            .any(|((k, _), table)| *k == kind && table.base.as_deref() == Some(name))
    }

    /// Where the instance's own table is, if it has one.
    pub(crate) fn table_at(&self, kind: PolicyKind, name: &str) -> Option<Location> {
        self.tables
            .get(&(kind, name.to_owned()))
            .and_then(|table| table.at)
    }

    /// The settings of instance `name`, layer over layer.
    pub(crate) fn effective<C: Settings>(
        &self,
        name: &str,
        inline: Option<Inline<'_, C>>,
        code: Option<&C>,
    ) -> Effective<C> {
        let keys = C::keys();
        let mut config = C::default();
        let mut origins = vec![(Origin::BuiltIn, None); keys.len()];
        let lay = |config: &mut C,
                   origins: &mut [(Origin, Option<Location>)],
                   table: &Checked,
                   origin: Origin| {
            for (key, value, at) in &table.values {
                if let Some(i) = keys.iter().position(|k| k.name == *key) {
                    (keys[i].set)(config, *value);
                    origins[i] = (origin.clone(), *at);
                }
            }
        };
        if let Some(table) = self.tables.get(&(C::KIND, DEFAULT.to_owned())) {
            lay(&mut config, &mut origins, table, Origin::DefaultTable);
        }
        if let Some(inline) = &inline {
            for (i, key) in keys.iter().enumerate() {
                if inline.keys.contains(&key.name) {
                    (key.set)(&mut config, (key.get)(inline.config));
                    origins[i] = (Origin::Inline(inline.site), None);
                }
            }
        }
        // `read` refused every circular chain.
        if let (false, Ok(chain)) = (name == DEFAULT, self.chain(C::KIND, name)) {
            for (table_name, table) in chain.into_iter().rev() {
                let origin = if table_name == name {
                    Origin::Table
                } else {
                    Origin::Base(table_name.to_owned())
                };
                lay(&mut config, &mut origins, table, origin);
            }
        }
        if let Some(code) = code {
            config = code.clone();
            origins.fill((Origin::Code, None));
        }
        Effective { config, origins }
    }
}

/// Reads one table's keys with their types; `base` is kept apart.
fn check_table<C: Settings>(table: &Table, problems: &mut Vec<Problem>) -> Checked {
    let mut checked = Checked {
        base: None,
        base_at: None,
        at: table.at,
        values: Vec::new(),
    };
    for entry in &table.entries {
        let path = format!("{}.{}", table.path(), entry.key);
        let mut problem = |message: String| {
            problems.push(Problem {
                path: path.clone(),
                location: entry.at,
                message,
            })
        };
        if entry.key == "base" {
            match (&entry.value, table.name.as_str()) {
                (_, DEFAULT) => problem(
                    "the `default` table cannot have a base; it is the base of every table of its kind".into(),
                ),
                (Raw::Text(base), _) => {
                    checked.base = Some(base.clone());
                    checked.base_at = entry.at;
                }
                _ => problem(format!(
                    "expected the name of a template table, e.g. `base = \"strict\"` for `[{}.strict]`",
                    table.kind
                )),
            }
            continue;
        }
        let Some(key) = C::key(&entry.key) else {
            let mut known: Vec<&str> = C::keys().iter().map(|key| key.name).collect();
            if table.name != DEFAULT {
                known.push("base");
            }
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

/// What to say of a key that is not one of `known`: the closest, or them all.
pub(crate) fn unknown_key(key: &str, known: &[&str]) -> String {
    let suggestion = did_you_mean(key, known);
    if suggestion.is_empty() {
        format!("unknown key; expected {}", listed(known))
    } else {
        format!("unknown key{suggestion}")
    }
}

/// "; did you mean `x`?" for the known word closest to `word`, if one is close.
pub(crate) fn did_you_mean(word: &str, known: &[&str]) -> String {
    resilience_grammar::closest(word, known).map_or(String::new(), |candidate| {
        format!("; did you mean `{candidate}`?")
    })
}

/// "`a`, `b` or `c`".
pub(crate) fn listed(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|word| format!("`{word}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "nothing".into(),
    }
}
