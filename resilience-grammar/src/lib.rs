//! What the attributes of `resilience-runtime` and its configuration files
//! both read, so that they accept exactly the same text and word their
//! errors alike: the duration grammar, checked at compile time in the
//! attributes and at run time in files, and the did-you-mean offered for a
//! misspelt argument, key, kind or name.
//!
//! ```
//! use std::time::Duration;
//! use resilience_grammar::{closest, duration};
//!
//! assert_eq!(duration::parse("1m30s"), Ok(Duration::from_secs(90)));
//! assert_eq!(duration::format(Duration::from_millis(1500)), "1s500ms");
//! assert_eq!(duration::parse("10").unwrap_err(), "`10` has no unit");
//! assert_eq!(closest("max-tokens", &["max_tokens", "refill_rate"]), Some("max_tokens"));
//! ```

pub mod duration;

/// The word of `known` closest to `word`, if one is close enough to be what
/// was meant: within a third of the longer word's length in edits (at least
/// one). A `-` written for a `_` costs nothing, so `max-tokens` finds
/// `max_tokens`.
pub fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let normalised = word.replace('-', "_");
    known
        .iter()
        .map(|candidate| {
            let distance =
                edit_distance(word, candidate).min(edit_distance(&normalised, candidate));
            (distance, *candidate)
        })
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(word.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}
