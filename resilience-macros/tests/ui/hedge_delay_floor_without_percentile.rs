use resilience_runtime::hedge;

#[hedge(delay = "50ms", delay_floor = "10ms")]
async fn search(query: &str) -> Result<String, std::io::Error> {
    Ok(query.to_owned())
}

fn main() {}
