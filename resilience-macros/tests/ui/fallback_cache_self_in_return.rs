use resilience_runtime::fallback;

#[derive(Clone)]
struct Profile {
    id: u32,
}

impl Profile {
    #[fallback(cache = "5m")]
    fn load(id: u32) -> Result<Self, std::io::Error> {
        Ok(Profile { id })
    }
}

fn main() {}
