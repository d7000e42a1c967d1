use resilience_runtime::hedge;

#[hedge(delay = "50ms", max_hedged_attempt = 2)]
async fn search(query: &str) -> Result<String, std::io::Error> {
    Ok(query.to_owned())
}

fn main() {}
