//! The did-you-mean of the attributes and of configuration files.

use resilience_grammar::closest;

const KEYS: &[&str] = &["max_tokens", "refill_rate", "max_wait", "base"];

#[test]
fn a_near_miss_finds_the_word_meant() {
    assert_eq!(closest("max-tokens", KEYS), Some("max_tokens"));
    assert_eq!(closest("refil_rate", KEYS), Some("refill_rate"));
    assert_eq!(closest("max_wiat", KEYS), Some("max_wait"));
    assert_eq!(closest("bse", KEYS), Some("base"));
}

#[test]
fn a_word_far_from_every_known_one_finds_none() {
    assert_eq!(closest("colour", KEYS), None);
    assert_eq!(closest("timeout", KEYS), None);
    assert_eq!(closest("anything", &[]), None);
}
