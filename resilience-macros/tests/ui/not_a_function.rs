use resilience_runtime::retry;

#[retry]
struct Client;

fn main() {}
