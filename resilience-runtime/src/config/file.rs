//! A configuration as read: TOML text with every key's place, or any serde
//! format without them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use resilience_grammar::closest;

use super::error::{ConfigErrors, Location, Problem};
use super::schema::PolicyKind;
use super::value::Raw;
use super::{health, redis};

/// Settings for named policies, one table per kind and instance, keys spelled
/// as the attribute arguments. Apply it with
/// [`Registry::apply`](crate::Registry::apply); the [module docs](super)
/// describe the format.
///
/// ```
/// use resilience_runtime::config::Config;
///
/// let config = Config::from_toml_str(r#"
///     [circuit_breaker.inventory]
///     failure_threshold = 3
///     recovery_timeout = "1m30s"
/// "#).unwrap();
/// assert_eq!(config.instances().collect::<Vec<_>>(), [("circuit_breaker", "inventory")]);
/// ```
///
/// It is also `serde::Deserialize`, so a service can embed it in its own
/// configuration and read it with figment, config-rs or toml; problems are
/// then reported without lines, when the configuration is applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub(crate) tables: Vec<Table>,
    /// The `[health]` table, if there is one: keys directly under it, no instances.
    pub(crate) health: Option<Table>,
    /// The `[redis]` table, likewise.
    pub(crate) redis: Option<Table>,
}

/// A table whose keys sit directly in it, not in named instances.
struct Flat {
    name: &'static str,
    /// What it holds, and one of its keys, for a file that gives it another shape.
    holds: &'static str,
    example: &'static str,
    slot: fn(&mut Config) -> &mut Option<Table>,
}

const FLAT: [Flat; 2] = [
    Flat {
        name: health::TABLE,
        holds: "rules",
        example: "open_alert_after = \"5m\"",
        slot: |config| &mut config.health,
    },
    Flat {
        name: redis::TABLE,
        holds: "settings",
        example: "url = \"redis://127.0.0.1:6379/0\"",
        slot: |config| &mut config.redis,
    },
];

/// One `[kind.name]` table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub(crate) kind: String,
    pub(crate) name: String,
    /// Where the kind is named, and where the instance is.
    pub(crate) kind_at: Option<Location>,
    pub(crate) at: Option<Location>,
    pub(crate) entries: Vec<Entry>,
}

/// One `key = value` of a table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) value: Raw,
    pub(crate) at: Option<Location>,
}

impl Table {
    pub(crate) fn path(&self) -> String {
        format!("{}.{}", self.kind, self.name)
    }
}

impl Config {
    /// Reads TOML text, reporting every problem with its key path, line and
    /// column: syntax, unknown kinds and keys (with a did-you-mean), wrong
    /// types, out-of-range values, bad durations (a bare number is refused:
    /// write `"10s"`), unknown or circular `base`.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigErrors> {
        let (document, syntax) = DeTable::parse_recoverable(text);
        let mut problems: Vec<Problem> = syntax
            .iter()
            .map(|error| Problem {
                path: String::new(),
                location: error.span().map(|span| Location::of(text, span.start)),
                message: format!("invalid TOML: {}", error.message().trim_end()),
            })
            .collect();
        let at = |span: std::ops::Range<usize>| Some(Location::of(text, span.start));
        let entries = |entries: &DeTable<'_>| -> Vec<Entry> {
            entries
                .iter()
                .map(|(key, value)| Entry {
                    key: key.get_ref().to_string(),
                    value: raw(value.get_ref()),
                    at: at(key.span()),
                })
                .collect()
        };
        let mut config = Config::default();
        for (kind, kinds) in document.get_ref() {
            if let Some(flat) = FLAT.iter().find(|flat| flat.name == kind.get_ref()) {
                let DeValue::Table(table) = kinds.get_ref() else {
                    problems.push(Problem {
                        path: flat.name.to_owned(),
                        location: at(kind.span()),
                        message: format!(
                            "expected a table of {}, e.g. `[{}]` then `{}`",
                            flat.holds, flat.name, flat.example
                        ),
                    });
                    continue;
                };
                *(flat.slot)(&mut config) = Some(Table {
                    kind: flat.name.to_owned(),
                    name: String::new(),
                    kind_at: at(kind.span()),
                    at: at(kind.span()),
                    entries: entries(table),
                });
                continue;
            }
            let DeValue::Table(instances) = kinds.get_ref() else {
                problems.push(Problem {
                    path: kind.get_ref().to_string(),
                    location: at(kind.span()),
                    message: format!(
                        "expected a table of named instances, e.g. `[{}.inventory]`",
                        kind.get_ref()
                    ),
                });
                continue;
            };
            if let Some(problem) = misspelt_table(kind.get_ref(), instances, at(kind.span())) {
                problems.push(problem);
                continue;
            }
            for (name, instance) in instances {
                let DeValue::Table(table) = instance.get_ref() else {
                    problems.push(Problem {
                        path: format!("{}.{}", kind.get_ref(), name.get_ref()),
                        location: at(name.span()),
                        message: format!(
                            "a setting must be inside an instance's table, e.g. `[{}.default]`",
                            kind.get_ref()
                        ),
                    });
                    continue;
                };
                config.tables.push(Table {
                    kind: kind.get_ref().to_string(),
                    name: name.get_ref().to_string(),
                    kind_at: at(kind.span()),
                    at: at(name.span()),
                    entries: entries(table),
                });
            }
        }
        // The parser keeps tables sorted by name; a file is read in its own order.
        config.tables.sort_by_key(|table: &Table| table.at);
        // A document recovered from a syntax error holds guesses: judge only the syntax.
        if problems.is_empty() {
            problems.extend(config.check_alone());
        }
        ConfigErrors::into_result(problems).map(|()| config)
    }

    /// Reads a TOML file, as [`from_toml_str`](Self::from_toml_str) does.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(text) => Config::from_toml_str(&text),
            Err(error) => Err(ConfigErrors(vec![Problem {
                path: String::new(),
                location: None,
                message: format!("cannot read `{}`: {error}", path.display()),
            }])),
        }
    }

    /// The `(kind, name)` of every table, `default` and templates included, in file order.
    pub fn instances(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tables
            .iter()
            .map(|table| (table.kind.as_str(), table.name.as_str()))
    }

    /// The problems a file has on its own, before it meets the registry.
    fn check_alone(&self) -> Vec<Problem> {
        match super::layers::Layers::read(self) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.0,
        }
    }
}

/// A table of settings outside any instance, named close to `[health]` or
/// `[redis]` and far from every kind of policy: most likely a misspelt one.
fn misspelt_table(kind: &str, instances: &DeTable<'_>, at: Option<Location>) -> Option<Problem> {
    let settings_directly = instances
        .values()
        .any(|value| !matches!(value.get_ref(), DeValue::Table(_)));
    let known = PolicyKind::ALL.map(PolicyKind::as_str);
    if !settings_directly || PolicyKind::parse(kind).is_some() || closest(kind, &known).is_some() {
        return None;
    }
    closest(kind, &FLAT.map(|flat| flat.name)).map(|name| Problem {
        path: kind.to_owned(),
        location: at,
        message: format!("unknown table; did you mean `[{name}]`?"),
    })
}

fn raw(value: &DeValue<'_>) -> Raw {
    match value {
        DeValue::String(text) => Raw::Text(text.to_string()),
        DeValue::Integer(n) => i128::from_str_radix(n.as_str(), n.radix())
            .map_or(Raw::Other("a number too large"), Raw::Integer),
        DeValue::Float(x) => x
            .as_str()
            .parse()
            .map_or(Raw::Other("a number it cannot read"), Raw::Float),
        DeValue::Boolean(b) => Raw::Bool(*b),
        DeValue::Datetime(_) => Raw::Other("a date"),
        DeValue::Array(_) => Raw::Other("an array"),
        DeValue::Table(_) => Raw::Other("a table"),
    }
}

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let sections = BTreeMap::<String, BTreeMap<String, Node>>::deserialize(deserializer)?;
        let mut config = Config::default();
        for (kind, nodes) in sections {
            if let Some(flat) = FLAT.iter().find(|flat| flat.name == kind) {
                let entries = nodes
                    .into_iter()
                    .map(|(key, node)| Entry {
                        key,
                        value: match node {
                            Node::Value(value) => value,
                            Node::Table(_) => Raw::Other("a table"),
                        },
                        at: None,
                    })
                    .collect();
                *(flat.slot)(&mut config) = Some(Table {
                    kind,
                    name: String::new(),
                    kind_at: None,
                    at: None,
                    entries,
                });
                continue;
            }
            for (name, node) in nodes {
                let Node::Table(entries) = node else {
                    return Err(de::Error::custom(format!(
                        "`{kind}.{name}`: a setting must be inside an instance's table, e.g. `[{kind}.default]`"
                    )));
                };
                config.tables.push(Table {
                    kind: kind.clone(),
                    name,
                    kind_at: None,
                    at: None,
                    entries: entries
                        .into_iter()
                        .map(|(key, value)| Entry {
                            key,
                            value,
                            at: None,
                        })
                        .collect(),
                });
            }
        }
        Ok(config)
    }
}

/// What a section holds under one key: an instance's table of settings, or
/// (in `[health]` and `[redis]`) a setting.
enum Node {
    Table(BTreeMap<String, Raw>),
    Value(Raw),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an instance's table or a setting's value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = BTreeMap::new();
        while let Some((key, value)) = map.next_entry::<String, Raw>()? {
            entries.insert(key, value);
        }
        Ok(Node::Table(entries))
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Node, E> {
        RawVisitor.visit_bool(b).map(Node::Value)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Node, E> {
        RawVisitor.visit_i64(n).map(Node::Value)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Node, E> {
        RawVisitor.visit_u64(n).map(Node::Value)
    }
    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Node, E> {
        RawVisitor.visit_f64(x).map(Node::Value)
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Node, E> {
        RawVisitor.visit_str(text).map(Node::Value)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Node, A::Error> {
        RawVisitor.visit_seq(seq).map(Node::Value)
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a setting's value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Raw, E> {
        Ok(Raw::Integer(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Raw, E> {
        Ok(Raw::Integer(n.into()))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Raw, E> {
        Ok(Raw::Float(x))
    }
    fn visit_str<E>(self, text: &str) -> Result<Raw, E> {
        Ok(Raw::Text(text.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Raw::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Raw::Other("a table"))
    }
}
