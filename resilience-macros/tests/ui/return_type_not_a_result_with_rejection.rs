use resilience_runtime::bulkhead;

#[bulkhead(max_concurrent = 2)]
fn fetch() -> u32 {
    1
}

fn main() {}
