//! Every attribute on every kind of function the contract names: free
//! functions, `&self` and `&mut self` methods, `async fn` in trait impls,
//! generic functions and `impl Trait` arguments, sync and async, returning a
//! `Result` alias; `return` and `?` in the body; `Send` futures.

mod common;

use std::fmt::Display;
use std::num::ParseIntError;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::AppError;
use resilience_runtime::{bulkhead, circuit_breaker, rate_limiter, retry, time_limiter};
use resilience_runtime::{fallback, registry, CircuitState};

type Res<T> = Result<T, AppError>;

// Every annotated function below answers `ok {id}` after one transient
// failure, which its retry absorbs, and, for id 0, `fallback 0` from its
// fallback method, which receives the same arguments.

/// Fails every other call, starting with the first.
fn flaky(calls: &AtomicU32) -> Res<()> {
    match calls.fetch_add(1, Ordering::SeqCst) % 2 {
        0 => Err(AppError::Transient),
        _ => Ok(()),
    }
}

/// The body shared by every function below.
fn answer(id: impl Display, calls: &AtomicU32) -> Res<String> {
    if id.to_string() == "0" {
        return Err(AppError::Permanent);
    }
    flaky(calls)?;
    Ok(format!("ok {id}"))
}

/// The fallback shared by every function below.
fn fallback_answer(id: impl Display, error: AppError) -> Res<String> {
    match error {
        AppError::Permanent => Ok(format!("fallback {id}")),
        other => Err(other),
    }
}

fn assert_answers(results: [Res<String>; 2], calls: u32) {
    let values: Vec<String> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(values, ["ok 1", "fallback 0"]);
    assert_eq!(calls, 2, "the transient failure was retried once");
}

fn free_fallback(id: u32, _calls: &AtomicU32, error: AppError) -> Res<String> {
    fallback_answer(id, error)
}

async fn free_fallback_async(id: u32, _calls: &AtomicU32, error: AppError) -> Res<String> {
    fallback_answer(id, error)
}

#[fallback(method = free_fallback)]
#[retry(max_attempts = 2, on = AppError::is_transient)]
#[circuit_breaker]
#[rate_limiter]
#[bulkhead]
fn free(id: u32, calls: &AtomicU32) -> Res<String> {
    answer(id, calls)
}

#[fallback(method = free_fallback_async)]
#[retry(max_attempts = 2, on = AppError::is_transient)]
#[circuit_breaker]
#[rate_limiter]
#[bulkhead]
#[time_limiter(timeout = "1s")]
async fn free_async(id: u32, calls: &AtomicU32) -> Res<String> {
    tokio::task::yield_now().await;
    answer(id, calls)
}

#[tokio::test]
async fn free_functions() {
    let calls = AtomicU32::new(0);
    assert_answers([free(1, &calls), free(0, &calls)], calls.into_inner());
    let calls = AtomicU32::new(0);
    assert_answers(
        [free_async(1, &calls).await, free_async(0, &calls).await],
        calls.into_inner(),
    );
}

#[derive(Default)]
struct Shared {
    calls: AtomicU32,
}

impl Shared {
    #[fallback(method = Self::fallback)]
    #[retry(max_attempts = 2, on = AppError::is_transient)]
    #[circuit_breaker]
    #[rate_limiter]
    #[bulkhead]
    fn get(&self, id: u32) -> Res<String> {
        answer(id, &self.calls)
    }

    #[fallback(method = Self::fallback_async)]
    #[retry(max_attempts = 2, on = AppError::is_transient)]
    #[circuit_breaker]
    #[rate_limiter]
    #[bulkhead]
    #[time_limiter(timeout = "1s")]
    async fn get_async(&self, id: u32) -> Res<String> {
        tokio::task::yield_now().await;
        answer(id, &self.calls)
    }

    fn fallback(&self, id: u32, error: AppError) -> Res<String> {
        fallback_answer(id, error)
    }

    async fn fallback_async(&self, id: u32, error: AppError) -> Res<String> {
        fallback_answer(id, error)
    }
}

#[tokio::test]
async fn methods_on_shared_self() {
    let shared = Shared::default();
    assert_answers([shared.get(1), shared.get(0)], shared.calls.into_inner());
    let shared = Shared::default();
    assert_answers(
        [shared.get_async(1).await, shared.get_async(0).await],
        shared.calls.into_inner(),
    );
}

/// Counts in a plain field, which only `&mut self` can change.
#[derive(Default)]
struct Exclusive {
    calls: u32,
}

impl Exclusive {
    fn attempt(&mut self, id: u32) -> Res<String> {
        let calls = AtomicU32::new(self.calls);
        let result = answer(id, &calls);
        self.calls = calls.into_inner();
        result
    }

    #[fallback(method = Self::fallback)]
    #[retry(max_attempts = 2, on = AppError::is_transient)]
    #[circuit_breaker]
    #[rate_limiter]
    #[bulkhead]
    fn get(&mut self, id: u32) -> Res<String> {
        self.attempt(id)
    }

    #[fallback(method = Self::fallback_async)]
    #[retry(max_attempts = 2, on = AppError::is_transient)]
    #[circuit_breaker]
    #[rate_limiter]
    #[bulkhead]
    #[time_limiter(timeout = "1s")]
    async fn get_async(&mut self, id: u32) -> Res<String> {
        tokio::task::yield_now().await;
        self.attempt(id)
    }

    fn fallback(&mut self, id: u32, error: AppError) -> Res<String> {
        fallback_answer(id, error)
    }

    async fn fallback_async(&mut self, id: u32, error: AppError) -> Res<String> {
        fallback_answer(id, error)
    }
}

#[tokio::test]
async fn methods_on_exclusive_self() {
    let mut exclusive = Exclusive::default();
    assert_answers([exclusive.get(1), exclusive.get(0)], exclusive.calls);
    let mut exclusive = Exclusive::default();
    assert_answers(
        [exclusive.get_async(1).await, exclusive.get_async(0).await],
        exclusive.calls,
    );
}

trait Store {
    fn get(&self, id: u32) -> Res<String>;
    async fn get_async(&self, id: u32) -> Res<String>;
}

#[derive(Default)]
struct Db {
    calls: AtomicU32,
}

impl Db {
    fn fallback(&self, id: u32, error: AppError) -> Res<String> {
        fallback_answer(id, error)
    }

    async fn fallback_async(&self, id: u32, error: AppError) -> Res<String> {
        fallback_answer(id, error)
    }
}

impl Store for Db {
    #[fallback(method = Self::fallback)]
    #[retry(max_attempts = 2, on = AppError::is_transient)]
    #[circuit_breaker]
    #[rate_limiter]
    #[bulkhead]
    fn get(&self, id: u32) -> Res<String> {
        answer(id, &self.calls)
    }

    #[fallback(method = Self::fallback_async)]
    #[retry(max_attempts = 2, on = AppError::is_transient)]
    #[circuit_breaker]
    #[rate_limiter]
    #[bulkhead]
    #[time_limiter(timeout = "1s")]
    async fn get_async(&self, id: u32) -> Res<String> {
        tokio::task::yield_now().await;
        answer(id, &self.calls)
    }
}

/// Calls through the trait, as generic code would.
async fn through_trait(store: &impl Store) -> [Res<String>; 4] {
    [
        store.get(1),
        store.get(0),
        store.get_async(1).await,
        store.get_async(0).await,
    ]
}

#[tokio::test]
async fn trait_impl_methods_sync_and_native_async() {
    let db = Db::default();
    let [a, b, c, d] = through_trait(&db).await;
    assert_answers([a, b], 2);
    assert_answers([c, d], 2);
    assert_eq!(db.calls.into_inner(), 4);
}

fn generic_fallback<T: Display>(id: T, _calls: &AtomicU32, error: AppError) -> Res<String> {
    fallback_answer(id, error)
}

async fn generic_fallback_async<T: Display>(
    id: T,
    _calls: &AtomicU32,
    error: AppError,
) -> Res<String> {
    fallback_answer(id, error)
}

#[fallback(method = generic_fallback)]
#[retry(max_attempts = 2, on = AppError::is_transient)]
#[circuit_breaker]
#[rate_limiter]
#[bulkhead]
fn generic<T: Display>(id: T, calls: &AtomicU32) -> Res<String> {
    answer(&id, calls)
}

#[fallback(method = generic_fallback_async)]
#[retry(max_attempts = 2, on = AppError::is_transient)]
#[circuit_breaker]
#[rate_limiter]
#[bulkhead]
#[time_limiter(timeout = "1s")]
async fn generic_async<T: Display>(id: T, calls: &AtomicU32) -> Res<String> {
    tokio::task::yield_now().await;
    answer(&id, calls)
}

#[tokio::test]
async fn generic_functions() {
    let calls = AtomicU32::new(0);
    assert_answers(
        [generic(1u8, &calls), generic("0", &calls)],
        calls.into_inner(),
    );
    let calls = AtomicU32::new(0);
    assert_answers(
        [
            generic_async(1u64, &calls).await,
            generic_async('0', &calls).await,
        ],
        calls.into_inner(),
    );
}

fn impl_fallback(id: impl Display, _calls: &AtomicU32, error: AppError) -> Res<String> {
    fallback_answer(id, error)
}

async fn impl_fallback_async(id: impl Display, _calls: &AtomicU32, error: AppError) -> Res<String> {
    fallback_answer(id, error)
}

#[fallback(method = impl_fallback)]
#[retry(max_attempts = 2, on = AppError::is_transient)]
#[circuit_breaker]
#[rate_limiter]
#[bulkhead]
fn impl_trait(id: impl Display, calls: &AtomicU32) -> Res<String> {
    answer(&id, calls)
}

#[fallback(method = impl_fallback_async)]
#[retry(max_attempts = 2, on = AppError::is_transient)]
#[circuit_breaker]
#[rate_limiter]
#[bulkhead]
#[time_limiter(timeout = "1s")]
async fn impl_trait_async(id: impl Display, calls: &AtomicU32) -> Res<String> {
    tokio::task::yield_now().await;
    answer(&id, calls)
}

#[tokio::test]
async fn impl_trait_arguments() {
    let calls = AtomicU32::new(0);
    assert_answers(
        [impl_trait(1, &calls), impl_trait(String::from("0"), &calls)],
        calls.into_inner(),
    );
    let calls = AtomicU32::new(0);
    assert_answers(
        [
            impl_trait_async(1i64, &calls).await,
            impl_trait_async("0", &calls).await,
        ],
        calls.into_inner(),
    );
}

#[derive(Debug, thiserror::Error)]
enum ParseError {
    #[error(transparent)]
    Int(#[from] ParseIntError),
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

// The breaker sits below the retry, so it records every attempt: an early
// `return` and a `?` end the attempt, not the wrapper.
#[retry(max_attempts = 3)]
#[circuit_breaker(name = "signatures-return", failure_threshold = 10)]
fn parse_doubled(text: &str, runs: &AtomicU32) -> Result<u32, ParseError> {
    runs.fetch_add(1, Ordering::SeqCst);
    if text.is_empty() {
        return Ok(0);
    }
    Ok(text.parse::<u32>()? * 2)
}

#[retry(max_attempts = 3)]
#[circuit_breaker(name = "signatures-return-async", failure_threshold = 10)]
async fn parse_doubled_async(text: &str, runs: &AtomicU32) -> Result<u32, ParseError> {
    tokio::task::yield_now().await;
    runs.fetch_add(1, Ordering::SeqCst);
    if text.is_empty() {
        return Ok(0);
    }
    Ok(text.parse::<u32>()? * 2)
}

fn assert_parses(results: [Result<u32, ParseError>; 3], runs: AtomicU32, breaker: &str) {
    let [empty, number, word] = results;
    assert_eq!(empty.unwrap(), 0);
    assert_eq!(number.unwrap(), 42);
    assert!(matches!(word, Err(ParseError::Int(_))));
    assert_eq!(runs.into_inner(), 1 + 1 + 3);
    let metrics = registry().circuit_breaker(breaker).metrics();
    assert_eq!(metrics.successful_calls, 2);
    assert_eq!(metrics.failed_calls, 3);
    assert_eq!(metrics.state, CircuitState::Closed);
}

#[tokio::test]
async fn return_and_question_mark_behave_as_in_the_plain_function() {
    let runs = AtomicU32::new(0);
    let results = [
        parse_doubled("", &runs),
        parse_doubled("21", &runs),
        parse_doubled("x", &runs),
    ];
    assert_parses(results, runs, "signatures-return");

    let runs = AtomicU32::new(0);
    let results = [
        parse_doubled_async("", &runs).await,
        parse_doubled_async("21", &runs).await,
        parse_doubled_async("x", &runs).await,
    ];
    assert_parses(results, runs, "signatures-return-async");
}

#[fallback(value = 0)]
#[retry(max_attempts = 2)]
#[circuit_breaker]
#[rate_limiter]
#[bulkhead]
#[time_limiter(timeout = "1s")]
async fn fully_stacked(id: u32) -> Res<u32> {
    tokio::task::yield_now().await;
    Ok(id)
}

fn assert_send<T: Send>(_: &T) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fully_stacked_futures_are_send_and_can_be_spawned() {
    let future = fully_stacked(5);
    assert_send(&future);
    assert_eq!(tokio::spawn(future).await.unwrap().unwrap(), 5);

    let shared = Arc::new(Shared::default());
    let future = async move { shared.get_async(1).await };
    assert_send(&future);
    assert_eq!(tokio::spawn(future).await.unwrap().unwrap(), "ok 1");
}
