//! A price API that answers 429 with `Retry-After`, then goes down: the retry
//! waits exactly as long as the server asks (when that is within `max_delay`),
//! gives up at once when it asks for longer, and the fallback's cache serves
//! the last good price while the API cannot answer.
//!
//! `cargo run --example rate_limited_api --features fallback-cache` (on
//! tokio's paused clock, so the timestamps are exact and it ends at once)

use std::sync::Mutex;
use std::time::Duration;

use resilience_runtime::{fallback, registry, retry, Event};
use tokio::time::Instant;

/// What the API says to each request, in order; `Ok` once the script runs out.
static SCRIPT: Mutex<Vec<Answer>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, Copy)]
enum Answer {
    TooManyRequests { retry_after_secs: u64 },
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error("429 Too Many Requests (Retry-After: {0:?})")]
    TooManyRequests(Duration),
    #[error("503 Service Unavailable")]
    Unavailable,
}

impl ApiError {
    /// The server's own word on when to come back: the `Retry-After` header.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::TooManyRequests(wait) => Some(*wait),
            ApiError::Unavailable => None,
        }
    }
}

#[fallback(cache = "10m")]
#[retry(
    name = "prices",
    max_attempts = 3,
    delay = "200ms",
    max_delay = "5s",
    retry_after = ApiError::retry_after
)]
async fn price(symbol: &str) -> Result<f64, ApiError> {
    tokio::time::sleep(Duration::from_millis(30)).await;
    let answer = {
        let mut script = SCRIPT.lock().unwrap();
        (!script.is_empty()).then(|| script.remove(0))
    };
    match answer {
        Some(Answer::TooManyRequests { retry_after_secs }) => Err(ApiError::TooManyRequests(
            Duration::from_secs(retry_after_secs),
        )),
        Some(Answer::Unavailable) => Err(ApiError::Unavailable),
        None => Ok(if symbol == "AAPL" { 189.5 } else { 412.1 }),
    }
}

async fn ask(start: Instant, symbol: &str, script: &[Answer]) {
    *SCRIPT.lock().unwrap() = script.to_vec();
    let asked = start.elapsed();
    let answer = price(symbol).await;
    println!(
        "[{:>7.3}s] {symbol}: {} (asked at {:.3}s)",
        start.elapsed().as_secs_f64(),
        match answer {
            Ok(price) => format!("{price}"),
            Err(error) => format!("error: {error}"),
        },
        asked.as_secs_f64()
    );
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let start = Instant::now();
    registry().on_event(move |event| {
        let at = start.elapsed().as_secs_f64();
        match event {
            Event::RetryScheduled { delay, .. } => {
                println!("[{at:>7.3}s]   retry in {delay:?}");
            }
            Event::RetryStopped { reason, .. } => println!("[{at:>7.3}s]   retries end: {reason}"),
            Event::RetriesExhausted { attempts, .. } => {
                println!("[{at:>7.3}s]   retries exhausted after {attempts} attempts");
            }
            Event::FallbackUsed { source, .. } => {
                println!("[{at:>7.3}s]   answered by the {source}")
            }
            _ => {}
        }
    });

    println!("The API answers, and the answer is cached:");
    ask(start, "AAPL", &[]).await;

    println!("\n429 with Retry-After: 2s, longer than our 200ms: we wait the 2s, once:");
    ask(
        start,
        "AAPL",
        &[Answer::TooManyRequests {
            retry_after_secs: 2,
        }],
    )
    .await;

    println!("\n429 with Retry-After: 60s, past max_delay (5s): no retry, the cache answers:");
    ask(
        start,
        "AAPL",
        &[Answer::TooManyRequests {
            retry_after_secs: 60,
        }],
    )
    .await;

    println!("\nThe API is down: three attempts, then the cache answers:");
    let down = [Answer::Unavailable; 3];
    ask(start, "AAPL", &down).await;

    println!("\nDown, for a symbol never fetched: nothing cached, the error passes:");
    ask(start, "MSFT", &down).await;

    let retry = registry().retry("prices").metrics();
    println!(
        "\nretry `prices`: {} ok first time, {} ok after retrying, {} failed",
        retry.successful_calls_without_retry,
        retry.successful_calls_with_retry,
        retry.failed_calls_with_retry + retry.failed_calls_without_retry
    );
}
