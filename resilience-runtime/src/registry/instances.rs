//! Every named instance of the binary, called or not, with each setting's
//! value in force and where it comes from.

use std::fmt;
use std::ops::Deref;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::{each_kind, CallSite, Policy, Registry, State};
use crate::config::schema::Settings;
use crate::config::{Origin, PolicyKind, Value};

/// One named policy instance: its call sites and its settings.
///
/// Serialized with the same field names, `settings` as an object from each
/// key to its `value` and `origin` (see [`Setting`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceInfo {
    /// The kind of policy.
    pub kind: PolicyKind,
    /// The instance's name.
    pub name: String,
    /// The annotated functions that use it, in source order; empty for an
    /// instance only a handle lookup or `configure_*` declares.
    pub call_sites: Vec<CallSite>,
    /// Every setting, in the order of the attribute's documentation.
    #[serde(serialize_with = "settings_by_key")]
    pub settings: Vec<Setting>,
    /// Whether a call or a lookup has made the instance (for a family: the
    /// family) yet.
    pub in_use: bool,
    /// Whether this is a keyed family (attributes with `key`, or a
    /// `*_family` lookup): one instance per key, all with these settings.
    /// A name both plain and keyed attributes use is listed twice, once
    /// each way.
    pub keyed: bool,
    /// For a family, how many keys have a member now (0 before its first
    /// call); `None` (`null`) for a plain instance.
    pub keys: Option<usize>,
}

/// One setting's value in force and where it comes from.
///
/// Serialized as `{"key": "max_wait", "value": "50ms", "origin": {"source":
/// "table"}}`: [`Value`] as a file writes it, [`Origin`] as an object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting {
    /// The key, as the attribute argument is spelled.
    pub key: &'static str,
    /// The value in force.
    pub value: Value,
    /// Where it comes from.
    pub origin: Origin,
}

/// The list [`Registry::instances`] returns: a slice of [`InstanceInfo`],
/// displayed as a table with one row per setting, serialized as an array.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Instances(Vec<InstanceInfo>);

/// Settings as one object, in their order: `{"max_wait": {"value": "50ms",
/// "origin": {"source": "table"}}}`.
pub(crate) fn settings_by_key<S: Serializer>(
    settings: &[Setting],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct InForce<'a> {
        value: &'a Value,
        origin: &'a Origin,
    }
    let mut map = serializer.serialize_map(Some(settings.len()))?;
    for setting in settings {
        map.serialize_entry(
            setting.key,
            &InForce {
                value: &setting.value,
                origin: &setting.origin,
            },
        )?;
    }
    map.end()
}

impl Deref for Instances {
    type Target = [InstanceInfo];
    fn deref(&self) -> &[InstanceInfo] {
        &self.0
    }
}

impl IntoIterator for Instances {
    type Item = InstanceInfo;
    type IntoIter = std::vec::IntoIter<InstanceInfo>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Registry {
    /// Every named instance of the binary, called or not, by kind and name:
    /// the call sites that use it, and each setting's value in force with its
    /// [`Origin`]. Instances without a `name` belong to their function alone
    /// and are not listed. A keyed family is one entry, with
    /// [`keyed`](InstanceInfo::keyed) and its number of [`keys`](InstanceInfo::keys);
    /// listing it makes nothing.
    ///
    /// ```
    /// use resilience_runtime::config::{Origin, PolicyKind, Value};
    /// use resilience_runtime::{rate_limiter, registry};
    ///
    /// # #[derive(Debug)] struct ApiError;
    /// # impl From<resilience_runtime::Error> for ApiError { fn from(_: resilience_runtime::Error) -> Self { ApiError } }
    /// #[rate_limiter(name = "docs-instances-api", max_tokens = 5)]
    /// fn call_api() -> Result<(), ApiError> { Ok(()) }
    ///
    /// let instances = registry().instances();
    /// let api = instances.iter().find(|i| i.name == "docs-instances-api").unwrap();
    /// assert_eq!(api.kind, PolicyKind::RateLimiter);
    /// assert_eq!(api.call_sites[0].function, "call_api");
    /// let max_tokens = api.settings.iter().find(|s| s.key == "max_tokens").unwrap();
    /// assert_eq!(max_tokens.value, Value::Count(5));
    /// assert!(matches!(max_tokens.origin, Origin::Inline(_)));
    /// println!("{instances}");
    /// ```
    pub fn instances(&self) -> Instances {
        let state = self.read();
        let mut all = Vec::new();
        macro_rules! list {
            ($policy:ty) => {
                list::<$policy>(&state, &mut all)
            };
        }
        each_kind!(list);
        Instances(all)
    }
}

fn list<P: Policy>(state: &State, all: &mut Vec<InstanceInfo>) {
    let kind = P::of(state);
    for name in kind.names() {
        let effective = kind.effective(&state.file, name);
        let settings: Vec<Setting> = <P::Config as Settings>::keys()
            .iter()
            .zip(effective.origins)
            .map(|(key, (origin, _))| Setting {
                key: key.name,
                value: (key.get)(&effective.config),
                origin,
            })
            .collect();
        let call_sites = |keyed: bool| {
            kind.declared
                .get(name)
                .map_or_else(Vec::new, |declared| declared.sites(keyed))
        };
        if kind.is_plain(name) {
            all.push(InstanceInfo {
                kind: <P::Config as Settings>::KIND,
                name: name.to_owned(),
                call_sites: call_sites(false),
                settings: settings.clone(),
                in_use: kind.instances.contains_key(name),
                keyed: false,
                keys: None,
            });
        }
        if kind.is_keyed(name) {
            let family = kind.families.get(name);
            all.push(InstanceInfo {
                kind: <P::Config as Settings>::KIND,
                name: name.to_owned(),
                call_sites: call_sites(true),
                settings,
                in_use: family.is_some(),
                keyed: true,
                keys: Some(family.map_or(0, |family| family.len())),
            });
        }
    }
}

impl fmt::Display for Instances {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = ["KIND", "NAME", "SETTING", "VALUE", "ORIGIN", "CALL SITES"];
        let mut rows: Vec<[String; 6]> = Vec::new();
        for instance in &self.0 {
            let sites = if instance.call_sites.is_empty() {
                "(none: declared by lookup or code)".to_owned()
            } else {
                instance
                    .call_sites
                    .iter()
                    .map(|site| format!("{} ({}:{})", site.function, site.file, site.line))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            for (i, setting) in instance.settings.iter().enumerate() {
                let first = i == 0;
                rows.push([
                    if first {
                        instance.kind.to_string()
                    } else {
                        String::new()
                    },
                    if first {
                        match instance.keys {
                            Some(keys) => format!("{} (keyed, {keys} keys)", instance.name),
                            None => instance.name.clone(),
                        }
                    } else {
                        String::new()
                    },
                    setting.key.to_owned(),
                    setting.value.to_string(),
                    setting.origin.to_string(),
                    if first { sites.clone() } else { String::new() },
                ]);
            }
        }
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 6]| {
            let mut text = String::new();
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:<width$}  "));
                }
            }
            writeln!(f, "{}", text.trim_end())
        };
        line(f, header)?;
        for row in &rows {
            line(f, row.each_ref().map(String::as_str))?;
        }
        Ok(())
    }
}
