use resilience_runtime::retry;

// An alias hides the type from the macro; type checking still names the problem.
type Count = u32;

#[retry]
fn fetch() -> Count {
    1
}

fn main() {}
