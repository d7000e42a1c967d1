//! The JSON `POST /resilience/reload` answers with: an applied
//! configuration's report, or a refused one's problems. Field names are part
//! of the HTTP contract (`docs/http.md`); values and origins serialize as in
//! the snapshot and the instances list.

use serde::Serialize;

use crate::config::{ApplyReport, Change, Problem, RedisChange, RuleChange};

/// What `POST /resilience/reload` answers for an applied configuration.
#[derive(Serialize)]
pub(super) struct Report<'a> {
    changes: &'a [Change],
    health_rules: &'a [RuleChange],
    redis: &'a [RedisChange],
    warnings: Vec<ProblemView<'a>>,
}

impl<'a> From<&'a ApplyReport> for Report<'a> {
    fn from(report: &'a ApplyReport) -> Self {
        Report {
            changes: &report.changes,
            health_rules: &report.health_rules,
            redis: &report.redis,
            warnings: report.warnings.iter().map(ProblemView::from).collect(),
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
