use resilience_runtime::retry;

#[retry]
fn fetch() {}

fn main() {}
