//! What applying a configuration changed, and what it found suspicious.

use std::fmt;

use super::error::Problem;
use super::layers::Origin;
use super::schema::PolicyKind;
use super::value::Value;

/// One setting of one instance that an applied configuration changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// The kind of policy.
    pub kind: PolicyKind,
    /// The instance's name.
    pub name: String,
    /// The setting, as the attribute argument is spelled.
    pub key: &'static str,
    /// The value before.
    pub old: Value,
    /// The value now.
    pub new: Value,
    /// Where the value now comes from.
    pub origin: Origin,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}: {} -> {} ({})",
            self.kind, self.name, self.key, self.old, self.new, self.origin
        )
    }
}

/// One rule of [`Registry::health`](crate::Registry::health) that an applied
/// configuration's `[health]` table changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleChange {
    /// The rule, as the `[health]` table spells it.
    pub key: &'static str,
    /// The value before.
    pub old: Value,
    /// The value now.
    pub new: Value,
    /// Where the value now comes from.
    pub origin: Origin,
}

impl fmt::Display for RuleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "health.{}: {} -> {} ({})",
            self.key, self.old, self.new, self.origin
        )
    }
}

/// One setting of the Redis store (feature `redis`) that an applied
/// configuration's `[redis]` table changed: a changed `url` or `key_prefix`
/// connects the policies with `store = "redis"` anew.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RedisChange {
    /// The key, as the `[redis]` table spells it: `url` or `key_prefix`.
    pub key: &'static str,
    /// The value before: `none` for a `url` no file gave. A URL's password
    /// is shown as `***`.
    pub old: Value,
    /// The value now, likewise.
    pub new: Value,
    /// Where the value now comes from: the table, or the built-in default
    /// (no store, `"resilience"`) once no table gives it.
    pub origin: Origin,
}

impl fmt::Display for RedisChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "redis.{}: {} -> {} ({})",
            self.key, self.old, self.new, self.origin
        )
    }
}

/// What [`Registry::apply`](crate::Registry::apply) did: every setting it
/// changed, and warnings about tables that set nothing in use.
///
/// `Display` prints one line per change (the policies', then the health
/// rules', then the Redis store's), then one per warning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyReport {
    /// Every setting whose value changed, by kind, name and key.
    pub changes: Vec<Change>,
    /// Every health rule whose value changed.
    pub health_rules: Vec<RuleChange>,
    /// Every setting of the Redis store that the `[redis]` table changed.
    pub redis: Vec<RedisChange>,
    /// Tables that name no declared instance and serve as no `base`, most
    /// likely a misspelt name, each with a did-you-mean when one is close;
    /// and a `[health]` table overridden by rules set in code.
    pub warnings: Vec<Problem>,
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() && self.health_rules.is_empty() && self.redis.is_empty() {
            writeln!(f, "no setting changed")?;
        }
        for change in &self.changes {
            writeln!(f, "{change}")?;
        }
        for change in &self.health_rules {
            writeln!(f, "{change}")?;
        }
        for change in &self.redis {
            writeln!(f, "{change}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}
