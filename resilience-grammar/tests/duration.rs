//! The one table of cases the duration grammar is held to, for the
//! attributes and for configuration files alike.

use std::time::Duration;

use resilience_grammar::duration::{format, parse};

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const M: u64 = 60 * S;
const H: u64 = 60 * M;

/// Text, and the nanoseconds it spells or the reason it spells none.
const CASES: &[(&str, Result<u64, &str>)] = &[
    ("200ms", Ok(200 * MS)),
    ("1.5s", Ok(1_500 * MS)),
    ("2m", Ok(2 * M)),
    ("1h", Ok(H)),
    ("250us", Ok(250 * US)),
    ("250µs", Ok(250 * US)),
    ("7ns", Ok(7 * NS)),
    ("0s", Ok(0)),
    (".5s", Ok(500 * MS)),
    ("1m30s", Ok(90 * S)),
    ("1h 2m", Ok(H + 2 * M)),
    (" 3s ", Ok(3 * S)),
    ("1.000000001s", Ok(S + 1)),
    ("5", Err("`5` has no unit")),
    ("10", Err("`10` has no unit")),
    ("1m30", Err("`30` has no unit")),
    ("5 parsecs", Err("`parsecs` is not a unit")),
    ("5S", Err("`S` is not a unit")),
    ("ms", Err("expected a number before `ms`")),
    ("-1s", Err("expected a number before `-1s`")),
    ("1.2.3s", Err("`1.2.3` is not a number")),
    ("", Err("it is empty")),
    ("   ", Err("it is empty")),
    ("999999999h", Err("it is longer than 584 years")),
];

#[test]
fn every_case_parses_as_the_table_says() {
    for (text, expected) in CASES {
        let parsed = parse(text).map_err(|reason| reason.to_string());
        let expected = expected.map(Duration::from_nanos).map_err(str::to_string);
        assert_eq!(parsed, expected, "parsing {text:?}");
    }
}

#[test]
fn formatting_reads_back_as_the_same_duration() {
    for (text, expected) in CASES {
        if let Ok(nanos) = expected {
            let duration = Duration::from_nanos(*nanos);
            assert_eq!(
                parse(&format(duration)),
                Ok(duration),
                "round trip of {text:?}"
            );
        }
    }
    assert_eq!(
        parse(&format(Duration::MAX)),
        Ok(Duration::from_nanos(u64::MAX))
    );
}

#[test]
fn formatting_uses_the_largest_units_first() {
    assert_eq!(format(Duration::ZERO), "0s");
    assert_eq!(format(Duration::from_secs(90)), "1m30s");
    assert_eq!(format(Duration::from_millis(250)), "250ms");
    assert_eq!(format(Duration::from_secs(3 * 3600 + 1)), "3h1s");
    assert_eq!(format(Duration::from_nanos(1_500)), "1us500ns");
}
