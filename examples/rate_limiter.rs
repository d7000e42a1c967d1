//! `#[rate_limiter]`: a token bucket of `max_tokens` that starts full and refills
//! at `refill_rate` tokens a second. Past the burst, calls are rejected with a
//! `retry_after`, or wait up to `max_wait` for a token.
//!
//! `cargo run --example rate_limiter` (on tokio's paused clock, so it is instant)

use std::time::Duration;

use resilience_runtime::{rate_limiter, registry};
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
enum SearchError {
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

#[rate_limiter(name = "search", max_tokens = 3, refill_rate = 2.0)]
async fn search(query: &str) -> Result<String, SearchError> {
    Ok(format!("results for {query:?}"))
}

// A burst of one: each further caller waits for the next token.
#[rate_limiter(name = "export", max_tokens = 1, refill_rate = 2.0, max_wait = "1s")]
async fn export(query: &str) -> Result<String, SearchError> {
    Ok(format!("exported {query:?}"))
}

fn tokens_left(name: &str) -> f64 {
    registry().rate_limiter(name).available_tokens()
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    println!("A burst of five against 3 tokens, refilled at 2 a second:");
    for query in ["a", "b", "c", "d", "e"] {
        match search(query).await {
            Ok(found) => println!("  {found}; {:.1} tokens left", tokens_left("search")),
            Err(error) => println!("  {query:?} rejected: {error}"),
        }
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("After 0.5s, {:.1} token is back:", tokens_left("search"));
    println!("  {:?}", search("f").await.map_err(|e| e.to_string()));

    println!("With max_wait = \"1s\", callers wait for a token instead:");
    let started = Instant::now();
    for query in ["g", "h", "i"] {
        let answer = export(query).await.map_err(|e| e.to_string());
        println!("  at {:.1}s: {answer:?}", started.elapsed().as_secs_f64());
    }
}
