//! The JSON the routes answer with for the registry's instances, an applied
//! configuration's report and a refused one's problems. Field names are
//! part of the HTTP contract (`docs/http.md`).
//!
//! The shapes are those of the snapshot (`GET /resilience/snapshot`): a
//! setting's value as a configuration file writes it, its origin as an
//! object, the settings of an instance as an object keyed by setting.
// TODO(merge `health`): the `health` branch makes `InstanceInfo`, `Origin`
// and `Value` `Serialize` with these same shapes; `Instance`, `origin` and
// `value` can then give way to them (`Json(registry().instances())`).

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::config::{ApplyReport, Change, Origin, Problem, Value};
use crate::retry::Jitter;
use crate::{CallSite, InstanceInfo, Setting};

/// One named instance, as `GET /resilience/instances` lists it.
#[derive(Serialize)]
pub(super) struct Instance<'a> {
    kind: &'static str,
    name: &'a str,
    call_sites: Vec<Site>,
    #[serde(serialize_with = "settings_by_key")]
    settings: &'a [Setting],
    in_use: bool,
}

impl<'a> From<&'a InstanceInfo> for Instance<'a> {
    fn from(info: &'a InstanceInfo) -> Self {
        Instance {
            kind: info.kind.as_str(),
            name: &info.name,
            call_sites: info.call_sites.iter().map(Site::from).collect(),
            settings: &info.settings,
            in_use: info.in_use,
        }
    }
}

#[derive(Serialize)]
struct Site {
    function: &'static str,
    file: &'static str,
    line: u32,
    column: u32,
}

impl From<&CallSite> for Site {
    fn from(site: &CallSite) -> Self {
        Site {
            function: site.function,
            file: site.file,
            line: site.line,
            column: site.column,
        }
    }
}

/// `{"max_wait": {"value": "50ms", "origin": {"source": "table"}}, ...}`,
/// in the settings' order.
fn settings_by_key<S: Serializer>(settings: &&[Setting], serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct InForce<'a> {
        value: Json,
        origin: OriginView<'a>,
    }
    let mut map = serializer.serialize_map(Some(settings.len()))?;
    for setting in settings.iter() {
        let in_force = InForce {
            value: value(&setting.value),
            origin: origin(&setting.origin),
        };
        map.serialize_entry(setting.key, &in_force)?;
    }
    map.end()
}

/// What `POST /resilience/reload` answers for an applied configuration.
#[derive(Serialize)]
pub(super) struct Report<'a> {
    changes: Vec<ChangeView<'a>>,
    // TODO(merge `health`): the `health` branch adds `ApplyReport::health_rules`;
    // this `cfg` goes with the one in `routes`.
    #[cfg(health_api)]
    health_rules: Vec<RuleChangeView<'a>>,
    warnings: Vec<ProblemView<'a>>,
}

impl<'a> From<&'a ApplyReport> for Report<'a> {
    fn from(report: &'a ApplyReport) -> Self {
        Report {
            changes: report.changes.iter().map(ChangeView::from).collect(),
            #[cfg(health_api)]
            health_rules: report
                .health_rules
                .iter()
                .map(|change| RuleChangeView {
                    key: change.key,
                    old: value(&change.old),
                    new: value(&change.new),
                    origin: origin(&change.origin),
                })
                .collect(),
            warnings: report.warnings.iter().map(ProblemView::from).collect(),
        }
    }
}

#[derive(Serialize)]
struct ChangeView<'a> {
    kind: &'static str,
    name: &'a str,
    key: &'static str,
    old: Json,
    new: Json,
    origin: OriginView<'a>,
}

impl<'a> From<&'a Change> for ChangeView<'a> {
    fn from(change: &'a Change) -> Self {
        ChangeView {
            kind: change.kind.as_str(),
            name: &change.name,
            key: change.key,
            old: value(&change.old),
            new: value(&change.new),
            origin: origin(&change.origin),
        }
    }
}

/// One health rule an applied configuration changed.
#[cfg(health_api)]
#[derive(Serialize)]
struct RuleChangeView<'a> {
    key: &'static str,
    old: Json,
    new: Json,
    origin: OriginView<'a>,
}

/// One problem of a configuration: its key path, its place when known, and
/// what is wrong.
#[derive(Serialize)]
pub(super) struct ProblemView<'a> {
    path: &'a str,
    line: Option<usize>,
    column: Option<usize>,
    message: &'a str,
}

impl<'a> From<&'a Problem> for ProblemView<'a> {
    fn from(problem: &'a Problem) -> Self {
        ProblemView {
            path: &problem.path,
            line: problem.location.map(|at| at.line),
            column: problem.location.map(|at| at.column),
            message: &problem.message,
        }
    }
}

/// A setting's value as the configuration file spells it: a number, a
/// duration such as `"250ms"`, a jitter's name, or `null` when unset.
fn value(value: &Value) -> Json {
    match *value {
        Value::Count(n) => json!(n),
        Value::Number(x) | Value::Jitter(Jitter::Fraction(x)) => json!(x),
        Value::Duration(d) => json!(resilience_grammar::duration::format(d)),
        Value::Jitter(Jitter::None) => json!(0.0),
        Value::Jitter(Jitter::Full) => json!("full"),
        Value::Jitter(Jitter::Equal) => json!("equal"),
        Value::Jitter(Jitter::Decorrelated) => json!("decorrelated"),
        Value::Unset => Json::Null,
    }
}

/// Where a value comes from: `{"source": ...}`, with the template's name
/// under `base` or the attribute's place under `call_site`.
struct OriginView<'a>(&'a Origin);

fn origin(origin: &Origin) -> OriginView<'_> {
    OriginView(origin)
}

impl Serialize for OriginView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let source = match self.0 {
            Origin::Code => "code",
            Origin::Table => "table",
            Origin::Base(_) => "base",
            Origin::Inline(_) => "inline",
            Origin::DefaultTable => "default_table",
            Origin::BuiltIn => "built_in",
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("source", source)?;
        match self.0 {
            Origin::Base(base) => map.serialize_entry("base", base)?,
            Origin::Inline(site) => map.serialize_entry("call_site", &Site::from(site))?,
            _ => {}
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn values_read_as_the_configuration_file_writes_them() {
        assert_eq!(value(&Value::Count(20)), json!(20));
        assert_eq!(value(&Value::Number(0.5)), json!(0.5));
        assert_eq!(
            value(&Value::Duration(Duration::from_millis(1500))),
            json!("1s500ms")
        );
        assert_eq!(value(&Value::Jitter(Jitter::Fraction(0.2))), json!(0.2));
        assert_eq!(value(&Value::Jitter(Jitter::None)), json!(0.0));
        assert_eq!(value(&Value::Jitter(Jitter::Full)), json!("full"));
        assert_eq!(value(&Value::Unset), Json::Null);
    }

    #[test]
    fn origins_name_their_source_and_place() {
        let site = CallSite {
            function: "fetch",
            file: "src/fetch.rs",
            line: 12,
            column: 1,
        };
        let origin = |origin: &Origin| serde_json::to_value(super::origin(origin)).unwrap();
        assert_eq!(
            origin(&Origin::Inline(site)),
            json!({"source": "inline", "call_site": {"function": "fetch", "file": "src/fetch.rs", "line": 12, "column": 1}})
        );
        assert_eq!(
            origin(&Origin::Base("strict".into())),
            json!({"source": "base", "base": "strict"})
        );
        assert_eq!(
            origin(&Origin::DefaultTable),
            json!({"source": "default_table"})
        );
    }
}
