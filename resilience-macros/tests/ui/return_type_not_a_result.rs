use resilience_runtime::retry;

#[retry]
fn fetch() -> u32 {
    1
}

fn main() {}
