use resilience_runtime::hedge;

#[hedge(delay = "pxx")]
async fn search(query: &str) -> Result<String, std::io::Error> {
    Ok(query.to_owned())
}

fn main() {}
