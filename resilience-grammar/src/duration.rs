//! Durations: a number and a unit, repeated (`"200ms"`, `"1.5s"`, `"1m30s"`,
//! `"1h 2m"`).

use std::time::Duration;

/// The units, with their length in nanoseconds; `us` and `µs` are the same.
pub const UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// The duration `text` spells, or why it spells none, in words fit for a
/// diagnostic (`` `5` has no unit ``, `` `parsecs` is not a unit ``).
pub fn parse(text: &str) -> Result<Duration, String> {
    parse_nanos(text).map(Duration::from_nanos)
}

/// Like [`parse`], in nanoseconds.
pub fn parse_nanos(text: &str) -> Result<u64, String> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("it is empty".into());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        if number.is_empty() {
            return Err(format!("expected a number before `{after}`"));
        }
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(if unit.is_empty() {
                format!("`{number}` has no unit")
            } else {
                format!("`{unit}` is not a unit")
            });
        };
        total += nanos(number, u128::from(scale))
            .ok_or_else(|| format!("`{number}` is not a number"))?;
        rest = after.trim_start();
    }
    u64::try_from(total).map_err(|_| "it is longer than 584 years".into())
}

/// `number` (digits, maybe a fraction) times `scale`, exactly.
fn nanos(number: &str, scale: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut result = whole.checked_mul(scale)?;
    let mut place = scale;
    for digit in fraction.chars() {
        place /= 10;
        result += u128::from(digit.to_digit(10)?) * place;
    }
    Some(result)
}

/// `duration` in the same grammar, largest units first, exact to the
/// nanosecond: `parse(&format(d)) == Ok(d)` for every `d` up to
/// `u64::MAX` nanoseconds. Zero is `"0s"`.
pub fn format(duration: Duration) -> String {
    let mut left = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    if left == 0 {
        return "0s".into();
    }
    let mut text = String::new();
    for (unit, scale) in UNITS.iter().rev().filter(|(unit, _)| *unit != "µs") {
        if left >= *scale {
            text.push_str(&(left / scale).to_string());
            text.push_str(unit);
            left %= scale;
        }
    }
    text
}
