#![cfg(feature = "redis")]
//! A configuration file's `[redis]` table, against a real `redis-server`
//! each test starts for itself: a rate limiter with `store = "redis"` checks
//! on the server the table names, under its `key_prefix`; a reload that
//! changes the table moves it, one that removes the table disconnects it, a
//! refused one changes nothing, and a file that never had a table leaves a
//! store set in code alone.
//!
//! The store and the applied configuration are process-wide, so the tests
//! take turns, and each starts from a configuration without a table.

use resilience_examples::redis_server::RedisServer;
use resilience_runtime::config::Config;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::stores::{Store, StoreStatus};
use resilience_runtime::{registry, RateLimiter};
use tokio::sync::{Mutex, MutexGuard};

/// One test at a time, from a configuration without a `[redis]` table and
/// no store. An async lock: the turn is held across the tests' awaits.
async fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::const_new(());
    let turn = TURN.lock().await;
    apply("");
    registry().clear_redis();
    turn
}

/// Applies `text`, and what the report says.
fn apply(text: &str) -> String {
    let config = Config::from_toml_str(text).unwrap_or_else(|errors| panic!("{errors}"));
    registry()
        .apply(&config)
        .unwrap_or_else(|errors| panic!("{errors}"))
        .to_string()
}

fn table(server: &RedisServer, prefix: &str) -> String {
    format!(
        "[redis]\nurl = \"{}\"\nkey_prefix = \"{prefix}\"\n",
        server.url()
    )
}

/// A limiter with its bucket in the store, named `name`.
fn limiter(name: &str) -> RateLimiter {
    RateLimiter::new(
        name.to_owned(),
        RateLimiterConfig::default().store(Store::Redis),
    )
    .unwrap()
}

/// Whether `key` is on `server`.
fn exists(server: &RedisServer, key: &str) -> bool {
    server.command(&["EXISTS", key]).as_deref() == Some(":1\r\n")
}

#[tokio::test]
async fn a_limiter_with_store_redis_checks_on_the_server_the_table_names() {
    let _turn = turn().await;
    let server = RedisServer::start();
    let report = apply(&table(&server, "cfg-e2e"));
    assert_eq!(
        report,
        format!(
            "redis.url: none -> \"{}\" (config table)\nredis.key_prefix: \"resilience\" -> \"cfg-e2e\" (config table)\n",
            server.url()
        )
    );
    let limiter = limiter("cfg-redis");
    limiter.acquire().await.unwrap();
    assert_eq!(limiter.store_status(), StoreStatus::Available);
    assert!(
        server.calls_of("evalsha") >= 1,
        "{:?}",
        server.command_calls()
    );
    assert!(exists(&server, "cfg-e2e:rl:cfg-redis"));
    assert!(!exists(&server, "resilience:rl:cfg-redis"));

    // The same table again is no change: the connection stays.
    assert_eq!(apply(&table(&server, "cfg-e2e")), "no setting changed\n");
}

#[tokio::test]
async fn a_reload_that_changes_the_url_moves_the_limiter_to_the_new_server() {
    let _turn = turn().await;
    let (first, second) = (RedisServer::start(), RedisServer::start());
    apply(&table(&first, "cfg-move"));
    let limiter = limiter("cfg-move");
    limiter.acquire().await.unwrap();
    assert!(exists(&first, "cfg-move:rl:cfg-move"));

    let report = apply(&table(&second, "cfg-move"));
    assert_eq!(
        report,
        format!(
            "redis.url: \"{}\" -> \"{}\" (config table)\n",
            first.url(),
            second.url()
        )
    );
    first.reset_stats();
    limiter.acquire().await.unwrap();
    assert!(exists(&second, "cfg-move:rl:cfg-move"));
    assert_eq!(first.calls_of("evalsha"), 0, "the first server is left");
}

#[tokio::test]
async fn a_reload_that_removes_the_table_disconnects_the_limiter() {
    let _turn = turn().await;
    let server = RedisServer::start();
    apply(&table(&server, "cfg-remove"));
    let limiter = limiter("cfg-remove");
    limiter.acquire().await.unwrap();
    assert_eq!(limiter.store_status(), StoreStatus::Available);

    let report = apply("");
    assert_eq!(
        report,
        format!(
            "redis.url: \"{}\" -> none (built-in default)\nredis.key_prefix: \"cfg-remove\" -> \"resilience\" (built-in default)\n",
            server.url()
        )
    );
    server.reset_stats();
    // Decided by `on_store_error`, locally: no store to ask.
    let _ = limiter.acquire().await;
    assert!(matches!(
        limiter.store_status(),
        StoreStatus::Unavailable { .. }
    ));
    assert_eq!(server.calls_of("evalsha"), 0);
}

#[tokio::test]
async fn a_refused_reload_keeps_the_store() {
    let _turn = turn().await;
    let (server, other) = (RedisServer::start(), RedisServer::start());
    apply(&table(&server, "cfg-refused"));
    // A new table, and a breaker whose settings do not fit together: neither applies.
    registry().circuit_breaker("cfg-refused");
    let config = Config::from_toml_str(&format!(
        "{}[circuit_breaker.cfg-refused]\nwindow_size = 10\nminimum_calls = 50\n",
        table(&other, "cfg-refused")
    ))
    .unwrap();
    assert_eq!(
        registry().apply(&config).unwrap_err().to_string(),
        "line 6, column 1: `circuit_breaker.cfg-refused.minimum_calls`: must be at most `window_size` (10), got 50 (set by config table)"
    );
    // A URL the client cannot read, from a format without lines.
    let config: Config = toml::from_str("[redis]\nurl = \"redis://127.0.0.1:port/\"\n").unwrap();
    assert_eq!(
        registry().apply(&config).unwrap_err().to_string(),
        "`redis.url`: invalid Redis URL `redis://127.0.0.1:port/`: Redis URL did not parse - InvalidClientConfig; e.g. `\"redis://127.0.0.1:6379/0\"`"
    );
    let limiter = limiter("cfg-refused");
    limiter.acquire().await.unwrap();
    assert!(exists(&server, "cfg-refused:rl:cfg-refused"));
    assert!(!exists(&other, "cfg-refused:rl:cfg-refused"));
}

#[tokio::test]
async fn a_file_that_never_had_a_table_leaves_a_store_set_in_code_alone() {
    let _turn = turn().await;
    let server = RedisServer::start();
    registry().set_redis(server.url()).unwrap();
    assert_eq!(
        apply("[bulkhead.cfg-code]\nmax_concurrent = 2\n")
            .lines()
            .next(),
        Some("no setting changed")
    );
    let limiter = limiter("cfg-code");
    limiter.acquire().await.unwrap();
    assert!(exists(&server, "resilience:rl:cfg-code"));
}
