//! `#[fallback(cache = "5m")]` serves the last good answer of the same
//! arguments while the function fails, for as long as the duration allows,
//! before `method` or `value`; `cache_capacity` bounds the argument lists
//! kept, the least recently used out first. On tokio's paused clock.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::AppError;
use resilience_runtime::{fallback, rate_limiter, registry, Event, FallbackSource, ListenerId};
use tokio::time::advance;

/// Records `(rejection?, source)` of each fallback of the function `name`.
struct Sources {
    id: ListenerId,
    seen: Arc<Mutex<Vec<(bool, FallbackSource)>>>,
}

impl Sources {
    fn of(function: &'static str) -> Sources {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let id = registry().on_event(move |event| {
            if let Event::FallbackUsed {
                name,
                rejection,
                source,
            } = event
            {
                if *name == function {
                    sink.lock().unwrap().push((rejection.is_some(), *source));
                }
            }
        });
        Sources { id, seen }
    }

    fn take(&self) -> Vec<(bool, FallbackSource)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for Sources {
    fn drop(&mut self) {
        registry().remove_listener(self.id);
    }
}

fn metrics(name: &str) -> resilience_runtime::FallbackMetrics {
    registry()
        .fallbacks()
        .into_iter()
        .find(|fallback| fallback.name == name)
        .unwrap()
}

/// A downstream whose answers change, and that can be taken down.
#[derive(Default)]
struct Downstream {
    down: AtomicBool,
    version: Mutex<u32>,
}

impl Downstream {
    fn answer(&self, id: u32) -> Result<String, AppError> {
        match self.down.load(Ordering::SeqCst) {
            true => Err(AppError::Transient),
            false => Ok(format!("{id} v{}", self.version.lock().unwrap())),
        }
    }

    fn set(&self, down: bool, version: u32) {
        self.down.store(down, Ordering::SeqCst);
        *self.version.lock().unwrap() = version;
    }
}

static STALE: Downstream = Downstream {
    down: AtomicBool::new(false),
    version: Mutex::new(0),
};

#[fallback(cache = "5m")]
async fn stale_price(id: u32) -> Result<String, AppError> {
    tokio::task::yield_now().await;
    STALE.answer(id)
}

#[tokio::test(start_paused = true)]
async fn a_cached_answer_serves_until_it_is_as_old_as_the_duration() {
    let sources = Sources::of("stale_price");
    STALE.set(false, 1);
    assert_eq!(stale_price(1).await.unwrap(), "1 v1");
    STALE.set(true, 0);
    advance(Duration::from_secs(4 * 60)).await;
    assert_eq!(stale_price(1).await.unwrap(), "1 v1");
    advance(Duration::from_secs(59)).await;
    assert_eq!(stale_price(1).await.unwrap(), "1 v1");
    assert_eq!(sources.take(), [(false, FallbackSource::Cache); 2]);

    // Five minutes after the success that gave it, the answer is too old,
    // and without `method` or `value` the error comes back.
    advance(Duration::from_secs(1)).await;
    assert!(matches!(stale_price(1).await, Err(AppError::Transient)));
    assert_eq!(sources.take(), []);

    // A new success is kept, and its age starts over.
    STALE.set(false, 2);
    assert_eq!(stale_price(1).await.unwrap(), "1 v2");
    STALE.set(true, 0);
    advance(Duration::from_secs(60)).await;
    assert_eq!(stale_price(1).await.unwrap(), "1 v2");

    let metrics = metrics("stale_price");
    assert_eq!((metrics.cache_hits, metrics.cache_misses), (3, 1));
    assert_eq!(metrics.error_calls, 3);
    assert_eq!((metrics.method_calls, metrics.value_calls), (0, 0));
    assert_eq!(metrics.sites.len(), 1);
    assert_eq!(metrics.sites[0].cache, Some(Duration::from_secs(300)));
    assert_eq!(metrics.sites[0].cache_capacity, Some(1024));
    assert_eq!(metrics.sites[0].call_site.file, "tests/fallback_cache.rs");
}

static SEPARATE: Downstream = Downstream {
    down: AtomicBool::new(false),
    version: Mutex::new(0),
};

fn unknown(id: u32, label: &str, error: AppError) -> Result<String, AppError> {
    Ok(format!("unknown {id} {label} after {error}"))
}

#[fallback(cache = "1m", method = unknown)]
async fn labelled(id: u32, label: &str) -> Result<String, AppError> {
    SEPARATE
        .answer(id)
        .map(|answer| format!("{answer} {label}"))
}

#[tokio::test(start_paused = true)]
async fn each_argument_list_has_its_own_answer_and_a_miss_goes_to_the_method() {
    let sources = Sources::of("labelled");
    SEPARATE.set(false, 1);
    assert_eq!(labelled(1, "a").await.unwrap(), "1 v1 a");
    assert_eq!(labelled(2, "a").await.unwrap(), "2 v1 a");
    SEPARATE.set(true, 0);
    assert_eq!(labelled(1, "a").await.unwrap(), "1 v1 a");
    assert_eq!(labelled(2, "a").await.unwrap(), "2 v1 a");
    // Same id, another label: another argument list, nothing kept for it.
    assert_eq!(
        labelled(1, "b").await.unwrap(),
        "unknown 1 b after transient failure"
    );
    assert_eq!(
        sources.take(),
        [
            (false, FallbackSource::Cache),
            (false, FallbackSource::Cache),
            (false, FallbackSource::Method),
        ]
    );
    advance(Duration::from_secs(60)).await;
    assert_eq!(
        labelled(1, "a").await.unwrap(),
        "unknown 1 a after transient failure"
    );
    let metrics = metrics("labelled");
    assert_eq!((metrics.cache_hits, metrics.cache_misses), (2, 2));
    assert_eq!(metrics.method_calls, 2);
}

static EVICTED: Downstream = Downstream {
    down: AtomicBool::new(false),
    version: Mutex::new(0),
};

#[fallback(cache = "1h", cache_capacity = 2, value = "evicted".to_owned())]
async fn two_kept(id: u32) -> Result<String, AppError> {
    EVICTED.answer(id)
}

#[tokio::test(start_paused = true)]
async fn at_capacity_the_least_recently_used_argument_list_goes_first() {
    let sources = Sources::of("two_kept");
    let up = |version| EVICTED.set(false, version);
    let down = || EVICTED.set(true, 0);

    up(1);
    two_kept(1).await.unwrap();
    two_kept(2).await.unwrap();
    // Serving 1 from the cache makes 2 the least recently used.
    down();
    assert_eq!(two_kept(1).await.unwrap(), "1 v1");
    up(2);
    two_kept(3).await.unwrap();
    down();
    assert_eq!(two_kept(2).await.unwrap(), "evicted");
    assert_eq!(two_kept(1).await.unwrap(), "1 v1");
    assert_eq!(two_kept(3).await.unwrap(), "3 v2");
    // A new success for a kept argument list is a use too: now 3 is the
    // least recently used... after 1 is stored again.
    up(3);
    two_kept(1).await.unwrap();
    two_kept(4).await.unwrap();
    down();
    assert_eq!(two_kept(3).await.unwrap(), "evicted");
    assert_eq!(two_kept(1).await.unwrap(), "1 v3");
    assert_eq!(two_kept(4).await.unwrap(), "4 v3");
    assert_eq!(
        sources.take(),
        [
            (false, FallbackSource::Cache),
            (false, FallbackSource::Value),
            (false, FallbackSource::Cache),
            (false, FallbackSource::Cache),
            (false, FallbackSource::Value),
            (false, FallbackSource::Cache),
            (false, FallbackSource::Cache),
        ]
    );
    let metrics = metrics("two_kept");
    assert_eq!(metrics.sites[0].cache_capacity, Some(2));
    assert_eq!(
        (
            metrics.cache_hits,
            metrics.cache_misses,
            metrics.value_calls
        ),
        (5, 2, 2)
    );
}

static SYNC: Downstream = Downstream {
    down: AtomicBool::new(false),
    version: Mutex::new(0),
};

#[fallback(cache = "30s", value = String::new())]
fn sync_price(id: u32) -> Result<String, AppError> {
    SYNC.answer(id)
}

#[tokio::test(start_paused = true)]
async fn a_sync_function_keeps_time_on_the_policy_clock() {
    // Made on a paused clock, the policy clock follows it, as a breaker's does.
    SYNC.set(false, 1);
    assert_eq!(sync_price(5).unwrap(), "5 v1");
    SYNC.set(true, 0);
    advance(Duration::from_secs(29)).await;
    assert_eq!(sync_price(5).unwrap(), "5 v1");
    advance(Duration::from_secs(1)).await;
    assert_eq!(sync_price(5).unwrap(), "");
}

fn is_transient(error: &AppError) -> bool {
    error.is_transient()
}

static FILTERED: Mutex<Option<AppError>> = Mutex::new(None);

#[fallback(cache = "1m", on = is_transient)]
async fn filtered(id: u32) -> Result<u32, AppError> {
    match FILTERED.lock().unwrap().take() {
        Some(error) => Err(error),
        None => Ok(id * 10),
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_on_turns_down_is_not_served_from_the_cache() {
    assert_eq!(filtered(1).await.unwrap(), 10);
    *FILTERED.lock().unwrap() = Some(AppError::Transient);
    assert_eq!(filtered(1).await.unwrap(), 10);
    *FILTERED.lock().unwrap() = Some(AppError::Permanent);
    assert!(matches!(filtered(1).await, Err(AppError::Permanent)));
    assert_eq!(metrics("filtered").cache_misses, 0);
}

#[fallback(cache = "1m")]
#[rate_limiter(max_tokens = 1, refill_rate = 0.001)]
fn rate_limited(id: u32) -> Result<u32, AppError> {
    Ok(id + 100)
}

#[test]
fn a_rejection_is_served_from_the_cache_too() {
    let sources = Sources::of("rate_limited");
    assert_eq!(rate_limited(1).unwrap(), 101);
    assert_eq!(rate_limited(1).unwrap(), 101);
    assert_eq!(sources.take(), [(true, FallbackSource::Cache)]);
    // Nothing kept for 2: the rejection comes back.
    assert!(matches!(
        rate_limited(2),
        Err(AppError::Resilience(
            resilience_runtime::Error::RateLimited { .. }
        ))
    ));
    let metrics = metrics("rate_limited");
    assert_eq!(
        (
            metrics.rejection_calls,
            metrics.cache_hits,
            metrics.cache_misses
        ),
        (1, 1, 1)
    );
}

static CHAINED: Downstream = Downstream {
    down: AtomicBool::new(false),
    version: Mutex::new(0),
};

fn secondary(id: u32, _error: AppError) -> Result<String, AppError> {
    match id {
        0 => Err(AppError::Permanent),
        _ => Ok(format!("secondary {id}")),
    }
}

#[fallback(value = "default".to_owned())]
#[fallback(cache = "1m", method = secondary)]
async fn chained(id: u32) -> Result<String, AppError> {
    CHAINED.answer(id)
}

#[tokio::test(start_paused = true)]
async fn in_a_chain_the_cache_comes_before_the_method_then_the_outer_default() {
    let sources = Sources::of("chained");
    CHAINED.set(false, 1);
    assert_eq!(chained(0).await.unwrap(), "0 v1");
    CHAINED.set(true, 0);
    assert_eq!(chained(0).await.unwrap(), "0 v1");
    assert_eq!(chained(1).await.unwrap(), "secondary 1");
    advance(Duration::from_secs(60)).await;
    assert_eq!(chained(0).await.unwrap(), "default");
    assert_eq!(
        sources.take(),
        [
            (false, FallbackSource::Cache),
            (false, FallbackSource::Method),
            (false, FallbackSource::Method),
            (false, FallbackSource::Value),
        ]
    );
}

struct Catalog {
    region: &'static str,
    down: AtomicBool,
}

impl Catalog {
    // One cache for the function: the receiver is not part of the key.
    #[fallback(cache = "1m")]
    fn stock(&self, item: &str) -> Result<String, AppError> {
        match self.down.load(Ordering::SeqCst) {
            true => Err(AppError::Transient),
            false => Ok(format!("{item} in {}", self.region)),
        }
    }
}

#[test]
fn a_borrowed_argument_is_kept_as_its_owned_form_and_the_receiver_is_not_kept() {
    let north = Catalog {
        region: "north",
        down: AtomicBool::new(false),
    };
    let south = Catalog {
        region: "south",
        down: AtomicBool::new(true),
    };
    let item = String::from("bolts");
    assert_eq!(north.stock(&item).unwrap(), "bolts in north");
    assert_eq!(south.stock("bolts").unwrap(), "bolts in north");
    assert!(south.stock("nuts").is_err());
}
