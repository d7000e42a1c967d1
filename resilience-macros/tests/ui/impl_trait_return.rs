use resilience_runtime::retry;

#[retry]
fn fetch() -> Result<impl std::fmt::Display, std::io::Error> {
    Ok(1)
}

fn main() {}
