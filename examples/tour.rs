//! A quote service in front of a flaky downstream, protected by all six attributes.
//!
//! `cargo run --example tour` prints a timeline of what the policies did (gathered
//! with `registry().on_event`) and a summary of every named instance. It runs on
//! tokio's paused clock, so the timestamps are exact and the output never changes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use resilience_runtime::{
    bulkhead, circuit_breaker, fallback, rate_limiter, registry, retry, time_limiter, Error, Event,
};
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, Instant};

struct QuoteService {
    downstream: Downstream,
    cache: HashMap<&'static str, f64>,
}

impl QuoteService {
    #[fallback(method = Self::cached_quote)]
    #[retry(name = "quotes", max_attempts = 3, delay = "50ms", backoff = 2.0, on = QuoteError::is_transient)]
    #[circuit_breaker(name = "quotes", failure_threshold = 3, recovery_timeout = "1s")]
    #[rate_limiter(name = "quotes", max_tokens = 5, refill_rate = 10.0)]
    #[bulkhead(name = "quotes", max_concurrent = 3)]
    #[time_limiter(name = "quotes", timeout = "300ms")]
    async fn quote(&self, symbol: &str) -> Result<Quote, QuoteError> {
        let price = self.downstream.price(symbol).await?;
        Ok(Quote { price, live: true })
    }

    async fn cached_quote(&self, symbol: &str, error: QuoteError) -> Result<Quote, QuoteError> {
        match self.cache.get(symbol) {
            Some(&price) => Ok(Quote { price, live: false }),
            None => Err(error),
        }
    }
}

struct Quote {
    price: f64,
    live: bool,
}

#[derive(Debug, thiserror::Error)]
enum QuoteError {
    #[error("downstream answered 503")]
    Unavailable,
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

impl QuoteError {
    /// Worth another attempt: the downstream's own failures, timeouts, and a rate
    /// limit (the retry waits for the next token). An open circuit or a full
    /// bulkhead will not clear within a retry's delay, so those go to the fallback.
    fn is_transient(&self) -> bool {
        match self {
            QuoteError::Unavailable => true,
            QuoteError::Resilience(error) => {
                error.is_timeout() || matches!(error, Error::RateLimited { .. })
            }
        }
    }
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime")
        .block_on(tour());
}

async fn tour() {
    let started = Instant::now();
    println!("{HEADER}");
    let listener = registry().on_event(move |event| {
        if let Some(text) = describe(event) {
            print_timeline_line(started, &text);
        }
    });
    let service = Arc::new(QuoteService {
        downstream: Downstream { started },
        cache: HashMap::from([("AAPL", 186.00), ("MSFT", 409.00), ("NVDA", 118.50)]),
    });

    let mut script = SCRIPT.iter().peekable();
    let mut requests = JoinSet::new();
    for (index, at) in traffic().into_iter().enumerate() {
        while let Some((from, _, what)) = script.next_if(|(from, _, _)| *from <= at) {
            sleep_until(started + Duration::from_millis(*from)).await;
            println!("{}       -- downstream {what} --", stamp(started));
        }
        sleep_until(started + Duration::from_millis(at)).await;
        let id = index + 1;
        let symbol = ["AAPL", "MSFT", "NVDA"][index % 3];
        let service = service.clone();
        requests.spawn(REQUEST.scope(id, async move {
            print_timeline_line(started, &format!("quote {symbol}?"));
            let answer = match service.quote(symbol).await {
                Ok(Quote { price, live: true }) => format!("{symbol} {price:.2} (live)"),
                Ok(Quote { price, live: false }) => format!("{symbol} {price:.2} (cached)"),
                Err(error) => format!("error: {error}"),
            };
            print_timeline_line(started, &format!("=> {answer}"));
        }));
    }
    while requests.join_next().await.is_some() {}
    registry().remove_listener(listener);
    print_summary(started);
    print_notes();
}

/// Arrival times of requests (ms): one every 500ms, and a burst of six at 750ms.
fn traffic() -> Vec<u64> {
    let mut arrivals: Vec<u64> = (0..=12).map(|i| i * 500).collect();
    arrivals.extend([750; 6]);
    arrivals.sort();
    arrivals
}

tokio::task_local! {
    /// The request a policy is working for, to tag its events in the timeline.
    static REQUEST: usize;
}

#[derive(Clone, Copy)]
enum Condition {
    Healthy,
    Failing,
    Hanging,
}

/// What the downstream does from each moment on (milliseconds since the start).
const SCRIPT: &[(u64, Condition, &str)] = &[
    (0, Condition::Healthy, "is healthy: answers in 50ms"),
    (1_000, Condition::Failing, "blips: calls fail for 50ms"),
    (1_050, Condition::Healthy, "is healthy again"),
    (2_000, Condition::Failing, "is down: calls fail at once"),
    (3_000, Condition::Hanging, "is still down: calls hang"),
    (4_500, Condition::Healthy, "has recovered"),
];

struct Downstream {
    started: Instant,
}

impl Downstream {
    fn condition(&self) -> Condition {
        let now = self.started.elapsed().as_millis();
        SCRIPT
            .iter()
            .rev()
            .find(|(from, _, _)| u128::from(*from) <= now)
            .map_or(Condition::Healthy, |(_, condition, _)| *condition)
    }

    async fn price(&self, symbol: &str) -> Result<f64, QuoteError> {
        match self.condition() {
            Condition::Healthy => {
                sleep(Duration::from_millis(50)).await;
                Ok(live_price(symbol))
            }
            Condition::Failing => {
                sleep(Duration::from_millis(10)).await;
                Err(QuoteError::Unavailable)
            }
            Condition::Hanging => {
                sleep(Duration::from_secs(60)).await;
                Ok(live_price(symbol))
            }
        }
    }
}

fn live_price(symbol: &str) -> f64 {
    match symbol {
        "AAPL" => 187.25,
        "MSFT" => 411.50,
        _ => 120.75,
    }
}

fn stamp(started: Instant) -> String {
    format!("{:>7.3}s", started.elapsed().as_secs_f64())
}

fn describe(event: &Event<'_>) -> Option<String> {
    Some(match event {
        Event::RetryScheduled {
            name,
            attempt,
            delay,
        } => format!("retry `{name}`: attempt {attempt} failed, next in {delay:?}"),
        Event::RetriesExhausted { name, attempts } => {
            format!("retry `{name}`: gave up after {attempts} attempts")
        }
        Event::StateTransition { name, from, to } => {
            format!("circuit breaker `{name}`: {from} -> {to}")
        }
        Event::CallRejected { error } => format!("rejected: {error}"),
        Event::TimedOut { name, timeout } => {
            format!("time limiter `{name}`: no answer within {timeout:?}, call dropped")
        }
        Event::FallbackUsed {
            name, rejection, ..
        } => {
            let replaced = match rejection {
                None => "the downstream's error",
                Some(Error::CircuitOpen { .. }) => "the open circuit",
                Some(Error::BulkheadFull { .. }) => "the full bulkhead",
                Some(Error::RateLimited { .. }) => "the rate limit",
                Some(Error::Timeout { .. }) => "the timeout",
                Some(_) => "a rejection",
            };
            format!("fallback of `{name}` answers instead of {replaced}")
        }
        _ => return None,
    })
}

fn print_timeline_line(started: Instant, text: &str) {
    let request = REQUEST.try_with(|id| format!("#{id}")).unwrap_or_default();
    println!("{}  {request:>3}  {text}", stamp(started));
}

const HEADER: &str = r#"Resilience tour: a quote service in front of a flaky downstream
(tokio's paused clock: timestamps are virtual and exact, the run finishes at once,
 and the output is the same on every run)

QuoteService::quote, outermost attribute first:
  #[fallback(method = Self::cached_quote)]
  #[retry(name = "quotes", max_attempts = 3, delay = "50ms", backoff = 2.0,
          on = QuoteError::is_transient)]
  #[circuit_breaker(name = "quotes", failure_threshold = 3, recovery_timeout = "1s")]
  #[rate_limiter(name = "quotes", max_tokens = 5, refill_rate = 10.0)]
  #[bulkhead(name = "quotes", max_concurrent = 3)]
  #[time_limiter(name = "quotes", timeout = "300ms")]
Traffic: a request every 500ms, plus a burst of six at 0.750s.

    time  req  what happened"#;

fn print_summary(started: Instant) {
    println!();
    println!("Named instances at {}:", stamp(started).trim());
    let registry = registry();
    for breaker in registry.circuit_breakers() {
        let m = breaker.metrics();
        let figures = format!(
            "{}; calls: {} succeeded, {} failed, {} not permitted",
            m.state, m.successful_calls, m.failed_calls, m.not_permitted_calls
        );
        print_row("circuit breaker", breaker.name(), &figures);
    }
    for limiter in registry.rate_limiters() {
        let figures = format!(
            "{:.1} of {} tokens left; {} rejected",
            limiter.available_tokens(),
            limiter.config().max_tokens,
            calls(limiter.rejected_calls())
        );
        print_row("rate limiter", limiter.name(), &figures);
    }
    for bulkhead in registry.bulkheads() {
        let figures = format!(
            "{} of {} slots free; {} rejected",
            bulkhead.available_slots(),
            bulkhead.max_concurrent(),
            calls(bulkhead.rejected_calls())
        );
        print_row("bulkhead", bulkhead.name(), &figures);
    }
    for retry in registry.retries() {
        let figures = format!(
            "{} scheduled; {} ran out of attempts",
            plural(retry.retries(), "retry", "retries"),
            calls(retry.exhausted())
        );
        print_row("retry", retry.name(), &figures);
    }
    for limiter in registry.time_limiters() {
        let figures = format!("{} timed out", calls(limiter.timeouts()));
        print_row("time limiter", limiter.name(), &figures);
    }
}

fn print_notes() {
    println!();
    println!("Worth noticing:");
    for note in [
        "#6-#8   the breaker never counts a full bulkhead or a rate limit as a failure;",
        "        #14's timeout it does count",
        "#8      the retry waited the rate limiter's retry_after (100ms), not its own 50ms",
        "#12-#16 while the circuit is open, callers get the cached quote without waiting",
        "#14     the half-open probe timed out, so the circuit reopened; the retry stopped",
        "        there, as `on` does not retry an open circuit",
    ] {
        println!("  {note}");
    }
}

fn print_row(kind: &str, name: &str, figures: &str) {
    println!("  {kind:<16} {name:<8} {figures}");
}

fn calls(n: u64) -> String {
    plural(n, "call", "calls")
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
