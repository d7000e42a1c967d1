//! Every diagnostic the attributes emit, and the type errors users meet,
//! checked against the exact compiler output in `tests/ui/*.stderr`; and
//! expansions that must compile and run, in `tests/ui/pass/`.
//!
//! Regenerate after an intended change with
//! `TRYBUILD=overwrite cargo test -p resilience-macros --test ui`, then read
//! each changed `.stderr` before committing it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
