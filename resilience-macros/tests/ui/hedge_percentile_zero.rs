use resilience_runtime::hedge;

#[hedge(delay = "p0")]
async fn search(query: &str) -> Result<String, std::io::Error> {
    Ok(query.to_owned())
}

fn main() {}
