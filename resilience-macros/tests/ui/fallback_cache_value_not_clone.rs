use resilience_runtime::fallback;

struct Report {
    lines: Vec<String>,
}

#[fallback(cache = "5m")]
fn report(id: u32) -> Result<Report, std::io::Error> {
    Ok(Report {
        lines: vec![id.to_string()],
    })
}

fn main() {}
