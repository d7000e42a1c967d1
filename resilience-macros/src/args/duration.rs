//! Duration strings: a number and a unit, repeated ("200ms", "1.5s", "1m30s").

const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Nanoseconds in `text`, or why it is not a duration.
pub(crate) fn parse(text: &str) -> Result<u64, String> {
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
        total += nanos(number, scale).ok_or_else(|| format!("`{number}` is not a number"))?;
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

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn units_and_fractions() {
        assert_eq!(parse("200ms"), Ok(200_000_000));
        assert_eq!(parse("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse("2m"), Ok(120_000_000_000));
        assert_eq!(parse("1h"), Ok(3_600_000_000_000));
        assert_eq!(parse("250us"), Ok(250_000));
        assert_eq!(parse("7ns"), Ok(7));
        assert_eq!(parse("0s"), Ok(0));
        assert_eq!(parse(".5s"), Ok(500_000_000));
    }

    #[test]
    fn compound_durations_add_up() {
        assert_eq!(parse("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse("1h 2m"), Ok(3_720_000_000_000));
    }

    #[test]
    fn nonsense_is_explained() {
        assert_eq!(parse("5"), Err("`5` has no unit".into()));
        assert_eq!(parse("5 parsecs"), Err("`parsecs` is not a unit".into()));
        assert_eq!(parse("ms"), Err("expected a number before `ms`".into()));
        assert_eq!(parse("1.2.3s"), Err("`1.2.3` is not a number".into()));
        assert_eq!(parse(""), Err("it is empty".into()));
        assert_eq!(
            parse("999999999h"),
            Err("it is longer than 584 years".into())
        );
    }
}
