//! Keyed policies as users write them: `key = expr` gives each key its own
//! instance in a named family (a breaker per host, a rate limiter per tenant,
//! a bulkhead per pool), all with the family's settings, from the attribute
//! and from a configuration file, reloaded into every member; and the
//! family's memory bound, idle and least recently used members first.

mod common;

use std::sync::Arc;

use common::AppError;
use resilience_runtime::config::Config;
use resilience_runtime::rate_limiter::RateLimiterConfig;
use resilience_runtime::{bulkhead, circuit_breaker, rate_limiter, registry, CircuitState, Error};
use tokio::sync::oneshot;

#[circuit_breaker(name = "keyed-hosts", key = host, failure_threshold = 2, recovery_timeout = "30s")]
fn fetch(host: &str, fail: bool) -> Result<u32, AppError> {
    if fail {
        Err(AppError::Transient)
    } else {
        Ok(1)
    }
}

#[test]
fn one_host_failing_opens_its_breaker_alone() {
    for _ in 0..2 {
        assert!(matches!(fetch("a.example", true), Err(AppError::Transient)));
    }
    match fetch("a.example", false) {
        Err(AppError::Resilience(Error::CircuitOpen { name, .. })) => {
            assert_eq!(
                &*name, "keyed-hosts[a.example]",
                "the rejection names the key"
            );
        }
        other => panic!("expected the open breaker of a.example, got {other:?}"),
    }
    assert_eq!(
        fetch("b.example", false).unwrap(),
        1,
        "b.example has its own breaker"
    );

    let hosts = registry().circuit_breaker_family("keyed-hosts");
    assert_eq!(hosts.keys(), ["a.example", "b.example"]);
    assert_eq!(hosts.find("a.example").unwrap().state(), CircuitState::Open);
    assert_eq!(
        hosts.find("b.example").unwrap().state(),
        CircuitState::Closed
    );
    assert!(hosts.find("c.example").is_none(), "`find` makes nothing");
    assert_eq!(
        hosts.config().failure_threshold,
        2,
        "the attribute's settings"
    );
}

#[rate_limiter(name = "keyed-tenants", key = tenant, max_tokens = 2, refill_rate = 0.0)]
fn search(tenant: u64) -> Result<(), AppError> {
    Ok(())
}

#[test]
fn each_tenant_has_its_own_quota_under_an_integer_key() {
    assert!(search(7).is_ok());
    assert!(search(7).is_ok());
    assert!(matches!(
        search(7),
        Err(AppError::Resilience(Error::RateLimited { .. }))
    ));
    assert!(search(8).is_ok(), "tenant 8 has a bucket of its own");
    assert_eq!(
        registry().rate_limiter_family("keyed-tenants").keys(),
        ["7", "8"]
    );
}

#[bulkhead(name = "keyed-pools", key = pool, max_concurrent = 1)]
async fn hold(
    pool: &str,
    entered: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
) -> Result<(), AppError> {
    let _ = entered.send(());
    let _ = release.await;
    Ok(())
}

#[tokio::test]
async fn a_full_pool_turns_calls_away_while_another_pool_admits() {
    let (entered, entered_rx) = oneshot::channel();
    let (release_tx, release) = oneshot::channel();
    let first = tokio::spawn(hold("reports", entered, release));
    entered_rx.await.unwrap();

    let (entered, _) = oneshot::channel();
    let (_, release) = oneshot::channel();
    assert!(matches!(
        hold("reports", entered, release).await,
        Err(AppError::Resilience(Error::BulkheadFull { .. }))
    ));
    let (entered, _) = oneshot::channel();
    let (release_now, release) = oneshot::channel();
    release_now.send(()).unwrap();
    assert!(hold("checkout", entered, release).await.is_ok());

    release_tx.send(()).unwrap();
    first.await.unwrap().unwrap();
    let pools = registry().bulkhead_family("keyed-pools");
    assert_eq!(
        pools.find("reports").unwrap().available_slots(),
        1,
        "the slot came back"
    );
}

#[rate_limiter(name = "keyed-config", key = tenant, max_tokens = 5)]
fn configured(tenant: &str) -> Result<(), AppError> {
    Ok(())
}

#[test]
fn a_file_configures_every_member_and_a_reload_reaches_those_already_made() {
    configured("before").unwrap();
    let family = registry().rate_limiter_family("keyed-config");
    assert_eq!(family.find("before").unwrap().config().max_tokens, 5);

    let config =
        Config::from_toml_str("[rate_limiter.keyed-config]\nmax_tokens = 3\nmax_keys = 50\n")
            .unwrap();
    let report = registry().apply(&config).unwrap();
    assert!(
        report
            .to_string()
            .contains("rate_limiter.keyed-config.max_tokens: 5 -> 3"),
        "{report}"
    );
    configured("after").unwrap();
    for key in ["before", "after"] {
        let member = family.find(key).unwrap();
        assert_eq!(member.config().max_tokens, 3, "member `{key}`");
    }
    assert_eq!(family.config().max_keys, 50);

    let errors = Config::from_toml_str("[rate_limiter.keyed-config]\nmax_keys = 0\n").unwrap_err();
    assert_eq!(
        errors.to_string(),
        "line 2, column 1: `rate_limiter.keyed-config.max_keys`: must be at least 1, got 0"
    );
    assert_eq!(
        family.config().max_keys,
        50,
        "a refused file changes nothing"
    );
    registry().apply(&Config::default()).unwrap();
}

#[test]
fn a_million_distinct_keys_leave_at_most_max_keys_members() {
    let family = registry().rate_limiter_family("keyed-million");
    let max_keys = family.config().max_keys;
    assert_eq!(max_keys, 10_000, "the default");
    let mut largest = 0;
    for key in 0..1_000_000u64 {
        family.get(&key);
        if key % 1_000 == 0 {
            largest = largest.max(family.len());
        }
    }
    assert!(family.len() <= max_keys, "{} members", family.len());
    assert!(largest <= max_keys, "{largest} members at one point");
    assert_eq!(family.evicted(), 1_000_000 - family.len() as u64);
    assert!(family.find(&999_999u64).is_some(), "the newest key stays");
    assert!(family.find(&0u64).is_none(), "the oldest key went");
}

#[test]
fn busy_members_outlast_idle_ones_and_recent_ones_outlast_old_ones() {
    registry()
        .configure_rate_limiter(
            "keyed-evict",
            RateLimiterConfig::default()
                .max_tokens(1)
                .refill_rate(0.001)
                .max_keys(16),
        )
        .unwrap();
    let family = registry().rate_limiter_family("keyed-evict");
    // Four buckets still refilling, one call in flight, eleven idle.
    for key in ["spent-0", "spent-1", "spent-2", "spent-3"] {
        family.get(key).try_acquire().unwrap();
    }
    let in_flight: Arc<_> = family.get("in-flight");
    in_flight.try_acquire().unwrap();
    for idle in 0..11 {
        family.get(&format!("idle-{idle}"));
    }
    assert_eq!(family.len(), 16);
    // The oldest idle member is used again, so it is now the most recent.
    family.get("idle-0");

    // A 17th key: down to 15 (16 less a sixteenth), the two oldest idle members going.
    family.get("new-0");
    assert_eq!(family.len(), 15);
    assert!(family.find("idle-0").is_some(), "used again, so recent");
    assert!(family.find("idle-1").is_none() && family.find("idle-2").is_none());

    // However many new keys come, the busy members stay while idle ones remain.
    for new in 1..100 {
        family.get(&format!("new-{new}"));
    }
    assert!(family.len() <= 16);
    for key in ["spent-0", "spent-1", "spent-2", "spent-3", "in-flight"] {
        assert!(family.find(key).is_some(), "`{key}` is busy and was kept");
    }
    assert!(
        Arc::ptr_eq(&family.find("in-flight").unwrap(), &in_flight),
        "the same instance, not a fresh one"
    );
}

#[rate_limiter(name = "keyed-reload-tokens", key = tenant, max_tokens = 4, refill_rate = 0.0)]
fn quota(tenant: &str) -> Result<(), AppError> {
    Ok(())
}

#[test]
fn a_reload_keeps_each_members_tokens_and_new_members_get_the_new_bucket() {
    let family = registry().rate_limiter_family("keyed-reload-tokens");
    for _ in 0..3 {
        quota("spent").unwrap();
    }
    quota("fresh").unwrap();
    family
        .reconfigure(RateLimiterConfig::default().max_tokens(2).refill_rate(0.0))
        .unwrap();
    let tokens = |key: &str| family.find(key).unwrap().available_tokens();
    assert_eq!(tokens("spent"), 1.0, "4 - 3 taken, under the new 2");
    assert_eq!(tokens("fresh"), 2.0, "4 - 1 taken, capped at the new 2");
    quota("new").unwrap();
    assert_eq!(tokens("new"), 1.0, "a new member's bucket has the new size");
    quota("spent").unwrap();
    assert!(matches!(
        quota("spent"),
        Err(AppError::Resilience(Error::RateLimited { .. }))
    ));
}

#[rate_limiter(name = "keyed-waiting", key = tenant, max_tokens = 1, refill_rate = 1.0, max_wait = "2s")]
async fn waited(tenant: &str) -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_keyed_call_waits_for_its_token_within_max_wait() {
    let start = tokio::time::Instant::now();
    waited("patient").await.unwrap();
    waited("patient").await.unwrap();
    assert_eq!(
        start.elapsed().as_secs(),
        1,
        "the second waited a second for its token"
    );
    waited("other").await.unwrap();
    assert_eq!(
        start.elapsed().as_secs(),
        1,
        "another tenant's token was there"
    );
}
