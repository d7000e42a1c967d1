//! Keyed families under real threads: each key's limits hold while members
//! are made and evicted around it, and the family stays within `max_keys`.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread;

use common::AppError;
use resilience_runtime::{bulkhead, circuit_breaker, rate_limiter, registry, CircuitState, Error};

const THREADS: usize = 4;
const POOLS: usize = 64;
const MAX_KEYS: usize = 16;

static INSIDE: [AtomicUsize; POOLS] = [const { AtomicUsize::new(0) }; POOLS];
static MOST_INSIDE: AtomicUsize = AtomicUsize::new(0);

#[bulkhead(name = "keyed-stress-pools", key = pool as u64, max_concurrent = 2, max_keys = 16)]
fn in_pool(pool: usize) -> Result<(), AppError> {
    let inside = INSIDE[pool].fetch_add(1, SeqCst) + 1;
    MOST_INSIDE.fetch_max(inside, SeqCst);
    thread::yield_now();
    INSIDE[pool].fetch_sub(1, SeqCst);
    Ok(())
}

#[test]
fn no_pool_ever_runs_more_than_its_limit_while_members_churn() {
    let family = registry().bulkhead_family("keyed-stress-pools");
    let most_members = AtomicUsize::new(0);
    thread::scope(|scope| {
        for thread in 0..THREADS {
            let (family, most_members) = (&family, &most_members);
            scope.spawn(move || {
                for call in 0..20_000 {
                    // Each thread walks the pools in its own order, so keys
                    // keep arriving and leaving while others are in use.
                    let pool = (call * (2 * thread + 1) + thread * 7) % POOLS;
                    match in_pool(pool) {
                        Ok(()) | Err(AppError::Resilience(Error::BulkheadFull { .. })) => {}
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                    most_members.fetch_max(family.len(), SeqCst);
                }
            });
        }
    });
    assert!(
        MOST_INSIDE.load(SeqCst) <= 2,
        "a pool ran {} at once",
        MOST_INSIDE.load(SeqCst)
    );
    assert!(family.evicted() > 0, "the test churned no members");
    assert!(family.len() <= MAX_KEYS, "{} members at rest", family.len());
    // New keys are made one at a time: at most one is past the bound,
    // between its insertion and its eviction pass.
    assert!(
        most_members.load(SeqCst) <= MAX_KEYS + 1,
        "{} members at once",
        most_members.load(SeqCst)
    );
}

#[rate_limiter(name = "keyed-stress-quota", key = tenant, max_tokens = 5, refill_rate = 0.0, max_keys = 64)]
fn quota(tenant: &str) -> Result<(), AppError> {
    Ok(())
}

#[test]
fn every_tenant_gets_exactly_its_quota_across_threads() {
    let tenants: Vec<String> = (0..32).map(|n| format!("tenant-{n}")).collect();
    let admitted: Vec<AtomicUsize> = (0..tenants.len()).map(|_| AtomicUsize::new(0)).collect();
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..10 {
                    for (tenant, admitted) in tenants.iter().zip(&admitted) {
                        if quota(tenant).is_ok() {
                            admitted.fetch_add(1, SeqCst);
                        }
                    }
                }
            });
        }
    });
    for (tenant, admitted) in tenants.iter().zip(&admitted) {
        assert_eq!(admitted.load(SeqCst), 5, "{tenant}");
    }
}

#[circuit_breaker(name = "keyed-stress-hosts", key = host, failure_threshold = 3, recovery_timeout = "1h")]
fn call_host(host: &str) -> Result<(), AppError> {
    if host == "down.example" {
        Err(AppError::Transient)
    } else {
        Ok(())
    }
}

#[test]
fn a_failing_host_never_turns_away_calls_to_a_healthy_one() {
    let opened = AtomicBool::new(false);
    thread::scope(|scope| {
        for thread in 0..THREADS {
            let opened = &opened;
            scope.spawn(move || {
                for _ in 0..5_000 {
                    if thread % 2 == 0 {
                        if let Err(AppError::Resilience(Error::CircuitOpen { .. })) =
                            call_host("down.example")
                        {
                            opened.store(true, SeqCst);
                        }
                    } else {
                        call_host("up.example").expect("the healthy host is never refused");
                    }
                }
            });
        }
    });
    assert!(opened.load(SeqCst));
    let hosts = registry().circuit_breaker_family("keyed-stress-hosts");
    assert_eq!(
        hosts.find("down.example").unwrap().state(),
        CircuitState::Open
    );
    assert_eq!(
        hosts.find("up.example").unwrap().state(),
        CircuitState::Closed
    );
}
