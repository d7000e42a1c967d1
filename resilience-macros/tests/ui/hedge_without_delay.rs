use resilience_runtime::hedge;

#[hedge(max_hedged_attempts = 2)]
async fn search(query: &str) -> Result<String, std::io::Error> {
    Ok(query.to_owned())
}

fn main() {}
