//! Rate limiters whose bucket is in Redis, against a real `redis-server`
//! each test starts for itself: several replicas (limiters of one name, each
//! with its own local state, as separate processes would have) share one
//! budget; each check is one round trip; a Redis outage is decided within
//! `store_timeout` by `on_store_error`, and the limiter is back on Redis
//! after a restart.
//!
//! The store is process-wide (`registry().set_redis`), so the tests take
//! turns.

#![cfg(feature = "redis")]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{AppError, Recorder};
use resilience_examples::redis_server::RedisServer;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::stores::{OnStoreError, Store, StoreStatus};
use resilience_runtime::telemetry::{HealthStatus, ReasonCode};
use resilience_runtime::{rate_limiter, registry, Error, RateLimiter};
use tokio::sync::{Mutex, MutexGuard};

/// One test at a time: they share the process's store.
async fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::const_new(());
    TURN.lock().await
}

/// A Redis of this test's own, set as the process's store.
fn redis() -> RedisServer {
    let server = RedisServer::start();
    registry().set_redis(server.url()).unwrap();
    server
}

fn shared(max_tokens: u32, refill_rate: f64) -> RateLimiterConfig {
    RateLimiterConfig::default()
        .max_tokens(max_tokens)
        .refill_rate(refill_rate)
        .store(Store::Redis)
}

/// `replicas` limiters named `name`, as `replicas` processes would each have.
fn replicas(name: &str, config: &RateLimiterConfig, replicas: usize) -> Vec<Arc<RateLimiter>> {
    (0..replicas)
        .map(|_| Arc::new(RateLimiter::new(name.to_owned(), config.clone()).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_share_one_budget_however_the_calls_are_split() {
    let _turn = turn().await;
    let _server = redis();
    // 20 tokens of burst, 100 a second, for 3 seconds; one replica calls four
    // times as often as each of the others.
    let fleet = replicas("fleet-budget", &shared(20, 100.0), 4);
    let admitted = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let run_for = Duration::from_secs(3);
    let tasks: Vec<_> = fleet
        .iter()
        .enumerate()
        .flat_map(|(i, limiter)| {
            let callers = if i == 0 { 8 } else { 2 };
            (0..callers).map(move |_| (limiter.clone(), i))
        })
        .map(|(limiter, _)| {
            let admitted = admitted.clone();
            tokio::spawn(async move {
                while start.elapsed() < run_for {
                    match limiter.acquire().await {
                        Ok(()) => {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(Error::RateLimited { .. }) => {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                        Err(other) => panic!("unexpected {other}"),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let admitted = admitted.load(Ordering::Relaxed) as f64;
    let bound = 20.0 + 100.0 * elapsed;
    assert!(
        admitted <= bound,
        "admitted {admitted} in {elapsed:.2} s, more than the bucket allows ({bound:.0})"
    );
    assert!(
        admitted >= 0.9 * 100.0 * 3.0,
        "admitted only {admitted} in {elapsed:.2} s: the budget was not used"
    );
    for limiter in &fleet {
        assert_eq!(limiter.store_status(), StoreStatus::Available);
        assert_eq!(limiter.metrics().store_errors, 0);
    }
}

#[tokio::test]
async fn each_check_is_one_round_trip() {
    let _turn = turn().await;
    let server = redis();
    let limiter = RateLimiter::new("one-round-trip", shared(1_000_000, 1e6)).unwrap();
    // The first check loads the script (`NOSCRIPT`, `SCRIPT LOAD`, again).
    limiter.acquire().await.unwrap();
    server.reset_stats();
    for _ in 0..1_000 {
        limiter.acquire().await.unwrap();
    }
    let calls = server.command_calls();
    let by_name = |name: &str| calls.iter().find(|(n, _)| n == name).map_or(0, |(_, c)| *c);
    assert_eq!(by_name("evalsha"), 1_000, "{calls:?}");
    // The rest are the script's own commands, run inside the server.
    for inside in ["time", "get", "set"] {
        assert_eq!(by_name(inside), 1_000, "{calls:?}");
    }
    let others: Vec<_> = calls
        .iter()
        .filter(|(name, _)| {
            !["evalsha", "time", "get", "set", "config|resetstat"].contains(&name.as_str())
        })
        .collect();
    assert!(others.is_empty(), "no command but the check's: {others:?}");
}

#[tokio::test]
async fn a_restarted_redis_gets_the_script_again() {
    let _turn = turn().await;
    let mut server = redis();
    let limiter = RateLimiter::new("noscript", shared(1_000, 1_000.0)).unwrap();
    limiter.acquire().await.unwrap();
    server.kill();
    server.restart();
    // Reconnected and without the script: each check still ends on Redis.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.calls_of("evalsha") == 0 {
        assert!(Instant::now() < deadline, "never back on Redis");
        let _ = limiter.acquire().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        server.calls_of("script|load") >= 1,
        "{:?}",
        server.command_calls()
    );
}

/// Runs `calls` checks on `limiter` while Redis is down, asserting that each
/// is decided within `store_timeout` (and a margin for the scheduler);
/// returns how many were admitted.
async fn during_outage(limiter: &RateLimiter, calls: usize) -> usize {
    let timeout = limiter.config().store_timeout;
    let mut admitted = 0;
    for _ in 0..calls {
        let started = Instant::now();
        let outcome = limiter.acquire().await;
        let took = started.elapsed();
        assert!(
            took <= timeout + Duration::from_millis(40),
            "a check took {took:?} with Redis down, past store_timeout {timeout:?}"
        );
        admitted += usize::from(outcome.is_ok());
    }
    admitted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_each_call_is_decided_locally_in_time_then_redis_again() {
    let _turn = turn().await;
    let mut server = redis();
    let recorder = Recorder::new(&["outage-local"]);
    let store_events = || {
        let mut lines = recorder.lines();
        lines.retain(|line| line.starts_with("store"));
        lines
    };
    // A fleet of 4 at 1,000 a second with a burst of 400: this replica's share
    // is 250 a second and 100 tokens.
    let config = shared(400, 1_000.0)
        .expected_replicas(4)
        .store_timeout(Duration::from_millis(30));
    registry()
        .configure_rate_limiter("outage-local", config)
        .unwrap();
    let limiter = registry().rate_limiter("outage-local");
    limiter.acquire().await.unwrap();
    let reasons = || {
        registry()
            .health()
            .instances
            .into_iter()
            .find(|instance| instance.name == "outage-local")
            .map(|instance| instance.reasons)
            .unwrap_or_default()
    };
    assert!(reasons().is_empty(), "healthy on Redis: {:?}", reasons());

    server.kill();
    let start = Instant::now();
    let admitted = during_outage(&limiter, 300).await;
    let share_bound = 100.0 + 250.0 * start.elapsed().as_secs_f64();
    assert!(
        (admitted as f64) <= share_bound,
        "admitted {admitted} on the local share, more than {share_bound:.0}"
    );
    assert!(
        admitted >= 100,
        "the local share's burst was not used: {admitted}"
    );
    assert!(matches!(
        limiter.store_status(),
        StoreStatus::Unavailable { .. }
    ));
    let errors = limiter.metrics().store_errors;
    assert!(
        (1..30).contains(&errors),
        "Redis is asked again once per 100 ms, not by every call: {errors} failed requests"
    );
    assert_eq!(
        store_events(),
        ["store unavailable outage-local"],
        "one event for the outage"
    );
    let down = reasons();
    let down = down
        .iter()
        .find(|reason| reason.code == ReasonCode::StoreUnavailable)
        .unwrap_or_else(|| panic!("no store reason in {down:?}"));
    assert_eq!(down.code.status(), HealthStatus::Degraded);
    assert!(
        down.message.starts_with("Redis unavailable for"),
        "{}",
        down.message
    );

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(5);
    while limiter.store_status() != StoreStatus::Available {
        assert!(Instant::now() < deadline, "never back on Redis");
        let _ = limiter.acquire().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = server.calls_of("evalsha");
    limiter.acquire().await.unwrap();
    assert_eq!(
        server.calls_of("evalsha"),
        before + 1,
        "decided on Redis again"
    );
    assert_eq!(
        store_events(),
        [
            "store unavailable outage-local",
            "store recovered outage-local"
        ]
    );
    assert!(
        reasons()
            .iter()
            .all(|reason| reason.code != ReasonCode::StoreUnavailable),
        "the store reason cleared: {:?}",
        reasons()
    );
}

#[tokio::test]
async fn with_redis_down_allow_lets_everything_through_and_deny_refuses_everything() {
    let _turn = turn().await;
    let mut server = redis();
    let allow = RateLimiter::new(
        "outage-allow",
        shared(1, 1.0)
            .on_store_error(OnStoreError::Allow)
            .local_precheck(false),
    )
    .unwrap();
    let deny = RateLimiter::new(
        "outage-deny",
        shared(1_000, 1_000.0).on_store_error(OnStoreError::Deny),
    )
    .unwrap();
    server.kill();
    assert_eq!(during_outage(&allow, 20).await, 20);
    assert_eq!(during_outage(&deny, 20).await, 0);
    match deny.acquire().await {
        Err(Error::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_millis(1), "one interval")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn without_a_store_set_the_limiter_decides_as_on_store_error_says() {
    let _turn = turn().await;
    registry().clear_redis();
    let limiter = RateLimiter::new(
        "no-store",
        shared(4, 1.0).expected_replicas(2).local_precheck(false),
    )
    .unwrap();
    // This replica's share: 2 tokens.
    assert!(limiter.acquire().await.is_ok());
    assert!(limiter.acquire().await.is_ok());
    assert!(limiter.acquire().await.is_err());
    assert!(matches!(
        limiter.store_status(),
        StoreStatus::Unavailable { .. }
    ));
}

#[tokio::test]
async fn a_replica_over_the_whole_budget_is_refused_without_a_round_trip() {
    let _turn = turn().await;
    let server = redis();
    let limiter = RateLimiter::new("precheck", shared(5, 0.5)).unwrap();
    for _ in 0..5 {
        limiter.acquire().await.unwrap();
    }
    server.reset_stats();
    for _ in 0..100 {
        assert!(limiter.acquire().await.is_err());
    }
    assert_eq!(server.calls_of("evalsha"), 0, "refused locally");
    // Without the pre-check, each refusal is Redis's.
    let other = RateLimiter::new("precheck", shared(5, 0.5).local_precheck(false)).unwrap();
    assert!(
        other.acquire().await.is_err(),
        "the fleet's bucket is empty"
    );
    assert_eq!(server.calls_of("evalsha"), 1);
}

#[tokio::test]
async fn a_call_waits_for_a_token_redis_reserved_and_a_cancelled_wait_gives_it_back() {
    let _turn = turn().await;
    let server = redis();
    // One token, then one every 200 ms; a call waits up to a second.
    let config = shared(1, 5.0).max_wait(Duration::from_secs(1));
    let limiter = RateLimiter::new("reserved", config).unwrap();
    limiter.acquire().await.unwrap();
    let started = Instant::now();
    limiter.acquire().await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_millis(400),
        "waited {waited:?} for the next token"
    );
    assert_eq!(limiter.metrics().waited_calls, 1);

    let bucket = || {
        server
            .command(&["GET", "resilience:rl:reserved"])
            .and_then(|reply| reply.lines().nth(1).map(str::to_owned))
            .and_then(|tat| tat.parse::<f64>().ok())
            .expect("the bucket's key")
    };
    let before = bucket();
    // A wait abandoned after 10 ms: its token goes back.
    let abandoned = tokio::time::timeout(Duration::from_millis(10), limiter.acquire()).await;
    assert!(abandoned.is_err(), "the wait was cut short");
    let local = limiter.available_tokens();
    assert!(
        local < 0.5,
        "the pre-check got its one token back, not two: {local} tokens"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while (bucket() - before).abs() > 1.0 {
        assert!(Instant::now() < deadline, "the token never came back");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[rate_limiter(name = "redis-per-tenant", key = tenant, store = "redis", max_tokens = 2, refill_rate = 0.0)]
async fn per_tenant(tenant: &str) -> Result<(), AppError> {
    Ok(())
}

#[tokio::test]
async fn a_keyed_attribute_keeps_each_tenants_bucket_in_redis() {
    let _turn = turn().await;
    let server = redis();
    per_tenant("acme").await.unwrap();
    per_tenant("acme").await.unwrap();
    assert!(matches!(
        per_tenant("acme").await,
        Err(AppError::Resilience(Error::RateLimited { .. }))
    ));
    per_tenant("globex").await.unwrap();
    for key in ["acme", "globex"] {
        let reply = server
            .command(&["EXISTS", &format!("resilience:rl:redis-per-tenant[{key}]")])
            .unwrap();
        assert_eq!(reply, ":1\r\n", "tenant `{key}` has its bucket in Redis");
    }
}

#[cfg(feature = "tower")]
#[tokio::test]
async fn a_tower_layer_on_a_shared_limiter_checks_redis() {
    use resilience_runtime::tower::RateLimiterLayer;
    use tower::{service_fn, ServiceBuilder, ServiceExt};

    let _turn = turn().await;
    let server = redis();
    let layer = RateLimiterLayer::from_config("redis-layer", shared(2, 0.0)).unwrap();
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|n: u32| async move {
            Ok::<_, std::convert::Infallible>(n)
        }));
    assert_eq!(service.clone().oneshot(1).await.unwrap(), 1);
    // The first check loaded the script; count from here.
    server.reset_stats();
    assert_eq!(service.clone().oneshot(2).await.unwrap(), 2);
    let refused = service.clone().oneshot(3).await.unwrap_err();
    assert!(
        matches!(
            refused.downcast_ref::<Error>(),
            Some(Error::RateLimited { .. })
        ),
        "{refused}"
    );
    // The second token from Redis's bucket; the refusal was the local pre-check's.
    assert_eq!(server.calls_of("evalsha"), 1);
}
