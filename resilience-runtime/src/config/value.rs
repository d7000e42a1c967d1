//! Setting values: as a file spells them ([`Raw`]), and as a policy holds
//! them ([`Value`]), with the conversion between the two.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::hedge::HedgeDelay;
use crate::retry::{Backoff, Jitter};

/// A setting's value, as [`Registry::instances`](crate::Registry::instances)
/// and [`ApplyReport`](super::ApplyReport) show it. Displayed in the
/// configuration file's grammar: `20`, `0.5`, `"250ms"`, `"full"`, `"p95"`,
/// `"linear"`, `true`, `"api"`, or `none` for an optional setting that is not
/// set.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A whole number.
    Count(u64),
    /// A number.
    Number(f64),
    /// A duration.
    Duration(Duration),
    /// A retry's jitter.
    Jitter(Jitter),
    /// A percentile of recent latencies, in `(0, 100)`: a hedge's `delay`.
    Percentile(f64),
    /// A retry's backoff.
    Backoff(Backoff),
    /// A switch.
    Bool(bool),
    /// The name of another instance, as a retry's `budget`.
    Text(&'static str),
    /// An optional setting that is not set.
    Unset,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Number(x) => write!(f, "{x:?}"),
            Value::Duration(d) => write!(f, "\"{}\"", resilience_grammar::duration::format(*d)),
            Value::Jitter(Jitter::None) => f.write_str("0.0"),
            Value::Jitter(Jitter::Fraction(x)) => write!(f, "{x:?}"),
            Value::Jitter(Jitter::Full) => f.write_str("\"full\""),
            Value::Jitter(Jitter::Equal) => f.write_str("\"equal\""),
            Value::Jitter(Jitter::Decorrelated) => f.write_str("\"decorrelated\""),
            Value::Percentile(p) => write!(f, "\"p{p}\""),
            Value::Backoff(Backoff::Exponential(x)) => write!(f, "{x:?}"),
            Value::Backoff(Backoff::Linear) => f.write_str("\"linear\""),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(text) => write!(f, "{text:?}"),
            Value::Unset => f.write_str("none"),
        }
    }
}

/// As in a configuration file, strings unquoted: a number, a duration in the
/// attributes' grammar (`"250ms"`), a jitter's or a backoff's name (`"full"`,
/// `"linear"`), a boolean, a name, or `null` for [`Value::Unset`].
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Count(n) => serializer.serialize_u64(*n),
            Value::Number(x)
            | Value::Jitter(Jitter::Fraction(x))
            | Value::Backoff(Backoff::Exponential(x)) => serializer.serialize_f64(*x),
            Value::Backoff(Backoff::Linear) => serializer.serialize_str("linear"),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Text(text) => serializer.serialize_str(text),
            Value::Duration(d) => {
                serializer.serialize_str(&resilience_grammar::duration::format(*d))
            }
            Value::Jitter(Jitter::None) => serializer.serialize_f64(0.0),
            Value::Jitter(Jitter::Full) => serializer.serialize_str("full"),
            Value::Jitter(Jitter::Equal) => serializer.serialize_str("equal"),
            Value::Jitter(Jitter::Decorrelated) => serializer.serialize_str("decorrelated"),
            Value::Percentile(p) => serializer.collect_str(&format_args!("p{p}")),
            Value::Unset => serializer.serialize_none(),
        }
    }
}

/// A value as written in a file, before its key's type is known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw {
    Integer(i128),
    Float(f64),
    Text(String),
    Bool(bool),
    /// An array, a table or a date: never a setting.
    Other(&'static str),
}

impl Raw {
    /// The value as a number, if it is one.
    fn number(&self) -> Option<f64> {
        match self {
            Raw::Integer(n) => Some(*n as f64),
            Raw::Float(x) => Some(*x),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Raw::Integer(n) => format!("the number `{n}`"),
            Raw::Float(x) => format!("the number `{x:?}`"),
            Raw::Text(text) => format!("the string `{text:?}`"),
            Raw::Bool(b) => format!("`{b}`"),
            Raw::Other(what) => (*what).to_owned(),
        }
    }
}

/// What a key takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Type {
    /// A whole number in `min..=max`.
    Count {
        min: u64,
        max: u64,
    },
    /// A number in a range, as the attribute checks it.
    Number(Range),
    /// A duration; `nonzero` refuses `"0s"`.
    Duration {
        nonzero: bool,
    },
    Jitter,
    /// A duration, or a percentile of recent latencies written `"p95"`.
    HedgeDelay,
    /// A positive factor, or `"linear"`.
    Backoff,
    /// `true` or `false`.
    Bool,
    /// A non-empty string naming another instance.
    Name,
    /// One of these strings.
    Choice(&'static [&'static str]),
    /// A `redis://`, `rediss://`, `unix://` or `redis+unix://` URL.
    RedisUrl,
    /// A non-empty string: a prefix of Redis keys.
    Text,
}

/// The ranges numbers are checked against, with the attributes' wording.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Range {
    /// Above zero: a backoff factor.
    Positive,
    /// Zero or above: a refill rate (zero: a fixed quota).
    NonNegative,
    /// In `(0, 1]`: a rate threshold.
    Fraction,
    /// At least 1.0: a growth factor.
    Factor,
    /// In `[0, 1]`: a share that may be zero, as a health alert's threshold.
    Share,
    /// In `[0, 1000]`: retries per call, as a retry budget's ratio.
    Ratio,
}

impl Range {
    fn check(self, x: f64) -> Result<f64, String> {
        let (ok, rule) = match self {
            Range::Positive => (x.is_finite() && x >= 1e-9, "must be a positive number"),
            Range::NonNegative => (
                x.is_finite() && (x == 0.0 || x >= 1e-9),
                "must be zero or a positive number",
            ),
            Range::Fraction => (x > 0.0 && x <= 1.0, "must be in (0, 1]"),
            Range::Factor => (
                x.is_finite() && x >= 1.0,
                "must be a factor of at least 1.0",
            ),
            Range::Share => ((0.0..=1.0).contains(&x), "must be in [0, 1]"),
            Range::Ratio => ((0.0..=1000.0).contains(&x), "must be in [0, 1000]"),
        };
        if ok {
            Ok(x)
        } else {
            Err(format!("{rule}, got {x}"))
        }
    }
}

impl Type {
    /// The typed value of `raw`, or why it is not one; `example` is a valid
    /// value to suggest.
    pub(crate) fn read(self, raw: &Raw, key: &str, example: &str) -> Result<Value, String> {
        match (self, raw) {
            (Type::Count { min, max }, Raw::Integer(n)) => {
                if *n < i128::from(min) {
                    Err(format!("must be at least {min}, got {n}"))
                } else if *n > i128::from(max) {
                    Err(format!("must be at most {max}, got {n}"))
                } else {
                    Ok(Value::Count(*n as u64))
                }
            }
            (Type::Count { .. }, other) => Err(format!(
                "expected a whole number, found {}; e.g. `{key} = {example}`",
                other.describe()
            )),
            (Type::Number(range), Raw::Integer(_) | Raw::Float(_)) => range
                .check(raw.number().unwrap_or_default())
                .map(Value::Number),
            (Type::Number(_), other) => Err(format!(
                "expected a number, found {}; e.g. `{key} = {example}`",
                other.describe()
            )),
            (Type::Duration { nonzero }, Raw::Text(text)) => match resilience_grammar::duration::parse(text) {
                Ok(duration) if nonzero && duration.is_zero() => {
                    Err(format!("must be longer than zero; e.g. `{key} = {example}`"))
                }
                Ok(duration) => Ok(Value::Duration(duration)),
                Err(reason) => Err(format!(
                    "invalid duration `{text:?}`: {reason}; write a number and a unit (`ns`, `us`, `ms`, `s`, `m`, `h`), e.g. `{key} = {example}`"
                )),
            },
            (Type::Duration { .. }, Raw::Integer(_) | Raw::Float(_)) => {
                let digits = raw.number().unwrap_or_default();
                Err(format!(
                    "a duration needs a unit; write `{key} = \"{digits}s\"` for seconds or `\"{digits}ms\"` for milliseconds"
                ))
            }
            (Type::Duration { .. }, other) => Err(format!(
                "expected a duration, found {}; e.g. `{key} = {example}`",
                other.describe()
            )),
            (Type::Jitter, Raw::Integer(_) | Raw::Float(_)) => {
                let x = raw.number().unwrap_or_default();
                if (0.0..=1.0).contains(&x) {
                    Ok(Value::Jitter(if x == 0.0 {
                        Jitter::None
                    } else {
                        Jitter::Fraction(x)
                    }))
                } else {
                    Err(format!(
                        "a fraction must be in [0, 1], got {x}; `0.2` moves each wait by up to 20% either way"
                    ))
                }
            }
            (Type::Jitter, Raw::Text(text)) => match text.as_str() {
                "full" => Ok(Value::Jitter(Jitter::Full)),
                "equal" => Ok(Value::Jitter(Jitter::Equal)),
                "decorrelated" => Ok(Value::Jitter(Jitter::Decorrelated)),
                _ => Err(format!(
                    "unknown jitter `{text:?}`; expected a fraction in [0, 1] or one of `\"full\"`, `\"equal\"` or `\"decorrelated\"`"
                )),
            },
            (Type::HedgeDelay, Raw::Text(text)) if text.starts_with('p') => {
                percentile(text).map(Value::Percentile)
            }
            (Type::HedgeDelay, raw) => Type::Duration { nonzero: false }.read(raw, key, example),
            (Type::Backoff, Raw::Integer(_) | Raw::Float(_)) => {
                let x = raw.number().unwrap_or_default();
                Range::Positive
                    .check(x)
                    .map(|x| Value::Backoff(Backoff::Exponential(x)))
                    .map_err(|reason| {
                        format!("{reason}; `1.0` keeps the delay constant, `2.0` doubles it")
                    })
            }
            (Type::Backoff, Raw::Text(text)) if text == "linear" => {
                Ok(Value::Backoff(Backoff::Linear))
            }
            (Type::Backoff, other) => Err(format!(
                "expected a positive factor or `\"linear\"`, found {}; e.g. `{key} = 2.0` or `{key} = \"linear\"`",
                other.describe()
            )),
            (Type::Bool, Raw::Bool(b)) => Ok(Value::Bool(*b)),
            (Type::Bool, other) => Err(format!(
                "expected `true` or `false`, found {}; e.g. `{key} = {example}`",
                other.describe()
            )),
            (Type::Name, Raw::Text(text)) if !text.trim().is_empty() => {
                Ok(Value::Text(intern(text)))
            }
            (Type::Name, other) => Err(format!(
                "expected the name of an instance, found {}; e.g. `{key} = {example}`",
                other.describe()
            )),
            (Type::Choice(choices), Raw::Text(text)) if choices.contains(&text.as_str()) => {
                Ok(Value::Text(choices.iter().find(|c| **c == text).copied().unwrap_or_default()))
            }
            (Type::Choice(choices), other) => Err(format!(
                "expected one of {}, found {}; e.g. `{key} = {example}`",
                choices
                    .iter()
                    .map(|choice| format!("`\"{choice}\"`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                other.describe()
            )),
            (Type::RedisUrl, Raw::Text(text))
                if text.starts_with("redis://")
                    || text.starts_with("rediss://")
                    || text.starts_with("redis+unix://")
                    || text.starts_with("unix://") =>
            {
                Ok(Value::Text(intern(text)))
            }
            (Type::RedisUrl, other) => Err(format!(
                "expected a Redis URL, found {}; e.g. `{key} = {example}`",
                other.describe()
            )),
            (Type::Text, Raw::Text(text)) if !text.is_empty() => Ok(Value::Text(intern(text))),
            (Type::Text, other) => Err(format!(
                "expected a non-empty string, found {}; e.g. `{key} = {example}`",
                other.describe()
            )),
            (Type::Jitter, other) => Err(format!(
                "expected a fraction in [0, 1] or one of `\"full\"`, `\"equal\"` or `\"decorrelated\"`, found {}",
                other.describe()
            )),
        }
    }
}

/// The percentile a hedge's delay `"pNN"` names, in `(0, 100)`.
pub(crate) fn percentile(text: &str) -> Result<f64, String> {
    let digits = text.strip_prefix('p').unwrap_or(text);
    match digits.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 100.0 && !digits.starts_with(['+', '-']) => Ok(p),
        Ok(p) => Err(format!(
            "the percentile in `{text:?}` must be above 0 and below 100, got {p}; e.g. `\"p95\"` or `\"p99.9\"`"
        )),
        Err(_) => Err(format!(
            "invalid delay `{text:?}`: expected a duration such as `\"50ms\"` or a percentile of recent latencies such as `\"p95\"`"
        )),
    }
}

/// A field type of a policy configuration, seen as a [`Value`].
pub(crate) trait Field: Sized {
    fn to_value(&self) -> Value;
    /// The field for `value`, which [`Type::read`] produced for this field's key.
    fn from_value(value: Value) -> Self;
}

impl Field for u32 {
    fn to_value(&self) -> Value {
        Value::Count(u64::from(*self))
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Count(n) => u32::try_from(n).unwrap_or(u32::MAX),
            other => unreachable!("a count field was given {other:?}"),
        }
    }
}

impl Field for usize {
    fn to_value(&self) -> Value {
        Value::Count(*self as u64)
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
            other => unreachable!("a count field was given {other:?}"),
        }
    }
}

impl Field for f64 {
    fn to_value(&self) -> Value {
        Value::Number(*self)
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Number(x) => x,
            other => unreachable!("a number field was given {other:?}"),
        }
    }
}

impl Field for Duration {
    fn to_value(&self) -> Value {
        Value::Duration(*self)
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Duration(d) => d,
            other => unreachable!("a duration field was given {other:?}"),
        }
    }
}

impl Field for Jitter {
    fn to_value(&self) -> Value {
        Value::Jitter(*self)
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Jitter(jitter) => jitter,
            other => unreachable!("a jitter field was given {other:?}"),
        }
    }
}

impl Field for Backoff {
    fn to_value(&self) -> Value {
        Value::Backoff(*self)
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Backoff(backoff) => backoff,
            other => unreachable!("a backoff field was given {other:?}"),
        }
    }
}

impl Field for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Bool(b) => b,
            other => unreachable!("a switch was given {other:?}"),
        }
    }
}

impl Field for String {
    fn to_value(&self) -> Value {
        Value::Text(intern(self))
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Text(text) => text.to_owned(),
            other => unreachable!("a name field was given {other:?}"),
        }
    }
}

/// `text` as a `&'static str`, so that [`Value`] stays `Copy`: each distinct
/// name is kept once for the life of the process. Names are the few a
/// configuration gives (retry budgets'), so the set stays small.
fn intern(text: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, PoisonError};
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(name) = names.get(text) {
        return name;
    }
    let name: &'static str = Box::leak(text.to_owned().into_boxed_str());
    names.insert(name);
    name
}

impl Field for crate::stores::Store {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str())
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Text(text) => Self::parse(text).unwrap_or_default(),
            other => unreachable!("a store field was given {other:?}"),
        }
    }
}

impl Field for crate::stores::OnStoreError {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str())
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Text(text) => Self::parse(text).unwrap_or_default(),
            other => unreachable!("an `on_store_error` field was given {other:?}"),
        }
    }
}

impl<T: Field> Field for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Unset, T::to_value)
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Unset => None,
            value => Some(T::from_value(value)),
        }
    }
}

impl Field for HedgeDelay {
    fn to_value(&self) -> Value {
        match self {
            HedgeDelay::Fixed(delay) => Value::Duration(*delay),
            HedgeDelay::Percentile(p) => Value::Percentile(*p),
        }
    }
    fn from_value(value: Value) -> Self {
        match value {
            Value::Duration(delay) => HedgeDelay::Fixed(delay),
            Value::Percentile(p) => HedgeDelay::Percentile(p),
            other => unreachable!("a hedge delay field was given {other:?}"),
        }
    }
}
