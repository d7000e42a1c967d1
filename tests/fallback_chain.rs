//! Stacked fallbacks form a chain, as SysManage's fallback strategy does:
//! the primary, then a secondary, then a tertiary, then a default. Each
//! fallback sees the failure of everything below it, its inner fallback's
//! included.

use std::sync::{Arc, Mutex};

use resilience_runtime::{fallback, registry, Event, FallbackSource};

/// Which sources answered, in order, and what each method was handed.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Debug, thiserror::Error)]
enum QuoteError {
    #[error("primary down")]
    Primary,
    #[error("secondary down")]
    Secondary,
    #[error("tertiary down")]
    Tertiary,
}

/// How far down the chain each source fails: `0` none, `1` the primary,
/// `2` the secondary too, `3` the tertiary too.
fn secondary(failing: u8, log: &Log, error: QuoteError) -> Result<&'static str, QuoteError> {
    log.push(format!("secondary after {error}"));
    match failing {
        2.. => Err(QuoteError::Secondary),
        _ => Ok("secondary"),
    }
}

async fn tertiary(failing: u8, log: &Log, error: QuoteError) -> Result<&'static str, QuoteError> {
    tokio::task::yield_now().await;
    log.push(format!("tertiary after {error}"));
    match failing {
        3.. => Err(QuoteError::Tertiary),
        _ => Ok("tertiary"),
    }
}

#[fallback(value = "default")]
#[fallback(method = tertiary)]
#[fallback(method = secondary)]
async fn quote(failing: u8, log: &Log) -> Result<&'static str, QuoteError> {
    log.push("primary".into());
    match failing {
        1.. => Err(QuoteError::Primary),
        _ => Ok("primary"),
    }
}

#[tokio::test]
async fn each_fallback_answers_for_the_failures_below_it_in_order() {
    let log = Log::default();
    let sources = Arc::new(Mutex::new(Vec::new()));
    let sink = sources.clone();
    let listener = registry().on_event(move |event| {
        if let Event::FallbackUsed {
            name: "quote",
            source,
            ..
        } = event
        {
            sink.lock().unwrap().push(*source);
        }
    });
    let take_sources = || std::mem::take(&mut *sources.lock().unwrap());

    assert_eq!(quote(0, &log).await.unwrap(), "primary");
    assert_eq!(log.take(), ["primary"]);
    assert_eq!(take_sources(), []);

    assert_eq!(quote(1, &log).await.unwrap(), "secondary");
    assert_eq!(log.take(), ["primary", "secondary after primary down"]);
    assert_eq!(take_sources(), [FallbackSource::Method]);

    // The inner method's own failure is what the next fallback sees.
    assert_eq!(quote(2, &log).await.unwrap(), "tertiary");
    assert_eq!(
        log.take(),
        [
            "primary",
            "secondary after primary down",
            "tertiary after secondary down"
        ]
    );
    assert_eq!(
        take_sources(),
        [FallbackSource::Method, FallbackSource::Method]
    );

    assert_eq!(quote(3, &log).await.unwrap(), "default");
    assert_eq!(
        log.take(),
        [
            "primary",
            "secondary after primary down",
            "tertiary after secondary down"
        ]
    );
    assert_eq!(
        take_sources(),
        [
            FallbackSource::Method,
            FallbackSource::Method,
            FallbackSource::Value
        ]
    );
    registry().remove_listener(listener);

    // The chain's three fallbacks add up under the function's name, and each
    // is listed as a site of its own.
    let metrics = registry()
        .fallbacks()
        .into_iter()
        .find(|fallback| fallback.name == "quote")
        .unwrap();
    assert_eq!((metrics.method_calls, metrics.value_calls), (5, 1));
    assert_eq!(metrics.error_calls, 6);
    assert_eq!(metrics.sites.len(), 3);
}

fn only_secondary(_error: QuoteError) -> Result<&'static str, QuoteError> {
    Err(QuoteError::Secondary)
}

fn is_primary_down(error: &QuoteError) -> bool {
    matches!(error, QuoteError::Primary)
}

#[fallback(value = "default", on = is_primary_down)]
#[fallback(method = only_secondary)]
fn filtered_chain() -> Result<&'static str, QuoteError> {
    Err(QuoteError::Primary)
}

#[test]
fn an_outer_on_judges_the_inner_fallbacks_failure_not_the_primarys() {
    assert!(matches!(filtered_chain(), Err(QuoteError::Secondary)));
}
