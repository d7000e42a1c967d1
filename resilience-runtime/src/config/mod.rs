//! Configuration files: settings for named policies, applied at startup and
//! reloaded whole, or not at all, while the service runs.
//!
//! # The format
//!
//! TOML, one table per kind and instance, keys spelled as the attribute
//! arguments, durations in the attributes' grammar (`"250ms"`, `"1.5s"`,
//! `"1m30s"`):
//!
//! ```toml
//! [circuit_breaker.default]          # every breaker, below its inline arguments
//! recovery_timeout = "20s"
//!
//! [circuit_breaker.strict]           # a table no function names is a template
//! failure_rate_threshold = 0.25
//! window_size = 50
//!
//! [circuit_breaker.inventory]
//! base = "strict"                    # inherits, key by key; bases may chain
//! half_open_max_calls = 3
//!
//! [rate_limiter.pricing]
//! max_tokens = 100
//! refill_rate = 50.0
//!
//! [bulkhead.db]
//! max_concurrent = 20
//! max_wait = "50ms"
//!
//! [retry.fetch]
//! max_attempts = 5
//! delay = "200ms"
//! backoff = 2.0
//! jitter = "full"                    # or a fraction such as 0.2
//! max_duration = "10s"               # the whole call, retries included
//! budget = "api"                     # a [retry_budget.api] shared by many retries
//!
//! [retry_budget.api]
//! ttl = "10s"
//! retry_ratio = 0.2
//! min_retries_per_second = 10
//!
//! [time_limiter.ec2_run_instances]
//! timeout = "3m"
//!
//! [health]                           # the thresholds of `registry().health()`
//! open_alert_after = "2m"
//! failure_rate_alert = 0.5
//! rejection_rate_alert = 0.05
//!
//! [redis]                            # feature `redis`: the store of `store = "redis"`
//! url = "redis://10.0.0.5:6379/0"
//! key_prefix = "checkout"            # a limiter's key: `checkout:rl:<name>`; default "resilience"
//! ```
//!
//! Kinds: `retry`, `circuit_breaker`, `rate_limiter`, `bulkhead`,
//! `time_limiter`, `retry_budget`. `default` is reserved: the kind's `default` table applies
//! to every instance of that kind.
//!
//! `[health]` is not a kind: its keys, those of
//! [`HealthRules`](crate::telemetry::HealthRules), sit directly in it. Rules
//! set in code with [`Registry::set_health_rules`](crate::Registry::set_health_rules)
//! win over it; a key it does not give keeps its default (see
//! [`telemetry`](crate::telemetry#health) for the rules).
//!
//! `[redis]` (feature `redis`) is not a kind either: its `url` (required) and
//! `key_prefix` connect every policy with `store = "redis"`, as
//! [`Registry::set_redis`](crate::Registry::set_redis) does in code. A table
//! that changes connects them anew, one removed disconnects them, and a file
//! that never had one leaves a store set in code alone. Without the feature,
//! the table is an error.
//!
//! A duration always carries its unit: `timeout = 10` is an error that
//! suggests `"10s"`, since some tools read a bare number as seconds and others
//! as milliseconds, and a guess would be wrong for half the readers.
//!
//! # Which value wins
//!
//! For each setting of a named instance, the first of:
//!
//! 1. code: [`Registry::configure_circuit_breaker`](crate::Registry::configure_circuit_breaker) and its siblings;
//! 2. the instance's own table;
//! 3. the tables of its `base` chain, nearest first;
//! 4. the attribute's inline argument;
//! 5. the kind's `default` table;
//! 6. the built-in default.
//!
//! [`Registry::instances`](crate::Registry::instances) shows each setting's
//! value with its [`Origin`].
//!
//! # Errors
//!
//! [`Config::from_toml_str`] reports every problem in one pass, each with its
//! key path, line and column: syntax, unknown kinds and keys (with a
//! did-you-mean: `max-tokens` suggests `max_tokens`), wrong types, values out
//! of the ranges the attributes check, bad durations, unknown or circular
//! bases. [`Registry::apply`](crate::Registry::apply) then checks that each
//! instance's settings fit together (for example `minimum_calls` at most
//! `window_size`) and changes nothing unless all of them do. A table that
//! names no declared instance and serves as no base is a warning in the
//! [`ApplyReport`], with a did-you-mean among the declared names.
//!
//! ```
//! use resilience_runtime::config::Config;
//!
//! let errors = Config::from_toml_str(r#"
//! [rate_limiter.pricing]
//! max-tokens = 100
//! [time_limiter.ec2]
//! timeout = 10
//! "#).unwrap_err();
//! assert_eq!(errors.to_string(), "\
//! line 3, column 1: `rate_limiter.pricing.max-tokens`: unknown key; did you mean `max_tokens`?
//! line 5, column 1: `time_limiter.ec2.timeout`: a duration needs a unit; write `timeout = \"10s\"` for seconds or `\"10ms\"` for milliseconds");
//! ```

mod error;
mod file;
pub(crate) mod health;
pub(crate) mod layers;
pub(crate) mod redis;
mod report;
pub(crate) mod schema;
mod value;
#[cfg(feature = "watch")]
mod watch;

pub(crate) use error::check;
pub use error::{ConfigError, ConfigErrors, Location, Problem};
pub use file::Config;
pub use layers::Origin;
pub use report::{ApplyReport, Change, RedisChange, RuleChange};
pub use schema::PolicyKind;
pub use value::Value;
#[cfg(feature = "watch")]
pub use watch::{watch, ConfigWatcher};
