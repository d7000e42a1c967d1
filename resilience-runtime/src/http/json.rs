//! The JSON the routes answer with for the registry's instances, an applied
//! configuration's report and a refused one's problems. Field names are
//! part of the HTTP contract (`docs/http.md`).

use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::config::{ApplyReport, Change, Problem, Value};
use crate::retry::Jitter;
use crate::{CallSite, InstanceInfo, Setting};

/// One named instance, as `GET /resilience/instances` lists it.
#[derive(Serialize)]
pub(super) struct Instance<'a> {
    kind: &'static str,
    name: &'a str,
    in_use: bool,
    call_sites: Vec<Site>,
    settings: Vec<SettingView>,
}

impl<'a> From<&'a InstanceInfo> for Instance<'a> {
    fn from(info: &'a InstanceInfo) -> Self {
        Instance {
            kind: info.kind.as_str(),
            name: &info.name,
            in_use: info.in_use,
            call_sites: info.call_sites.iter().map(Site::from).collect(),
            settings: info.settings.iter().map(SettingView::from).collect(),
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

#[derive(Serialize)]
struct SettingView {
    key: &'static str,
    value: Json,
    origin: String,
}

impl From<&Setting> for SettingView {
    fn from(setting: &Setting) -> Self {
        SettingView {
            key: setting.key,
            value: value(&setting.value),
            origin: setting.origin.to_string(),
        }
    }
}

/// What `POST /resilience/reload` answers for an applied configuration.
#[derive(Serialize)]
pub(super) struct Report<'a> {
    changes: Vec<ChangeView<'a>>,
    warnings: Vec<ProblemView<'a>>,
}

impl<'a> From<&'a ApplyReport> for Report<'a> {
    fn from(report: &'a ApplyReport) -> Self {
        Report {
            changes: report.changes.iter().map(ChangeView::from).collect(),
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
    origin: String,
}

impl<'a> From<&'a Change> for ChangeView<'a> {
    fn from(change: &'a Change) -> Self {
        ChangeView {
            kind: change.kind.as_str(),
            name: &change.name,
            key: change.key,
            old: value(&change.old),
            new: value(&change.new),
            origin: change.origin.to_string(),
        }
    }
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
            json!("1.5s")
        );
        assert_eq!(value(&Value::Jitter(Jitter::Fraction(0.2))), json!(0.2));
        assert_eq!(value(&Value::Jitter(Jitter::None)), json!(0.0));
        assert_eq!(value(&Value::Jitter(Jitter::Full)), json!("full"));
        assert_eq!(value(&Value::Unset), Json::Null);
    }
}
