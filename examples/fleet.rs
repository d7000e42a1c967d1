//! A fleet of replicas sharing one Redis: four processes, each with its own
//! connection, draw on one rate limit, and a dependency that fails for one
//! replica opens its breaker on every replica.
//!
//! ```sh
//! cargo run --example fleet --features redis
//! ```
//!
//! It starts a `redis-server` of its own on a free port of 127.0.0.1 (the
//! one on the `PATH`: `apt-get install redis-server`), then runs this same
//! program four times as replicas. Each replica calls a third-party API
//! wrapped in `#[rate_limiter(name = "partner-api", store = "redis")]`, one
//! budget of 100 calls a second (burst 20) for the whole fleet, as fast as it
//! may for three seconds: one replica with eight callers, the others with
//! two. The parent adds up what each admitted and compares it with what the
//! bucket allows.
//!
//! Then the inventory service fails, but only for replica 0. Every replica
//! guards it with `#[circuit_breaker(name = "inventory", store = "redis")]`:
//! replica 0 opens its breaker on its own failures, and the others, which
//! saw none, follow at their next sync, within one `sync_interval` (50ms)
//! of it. Each replica reports the wall-clock time its breaker opened; the
//! parent prints how long after replica 0 each other one did, and checks it
//! is within two intervals, which leaves room for a loaded machine.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use resilience_examples::redis_server::{command_at, RedisServer};
use resilience_runtime::{circuit_breaker, rate_limiter, registry, CircuitState, Error};

const REPLICAS: usize = 4;
const RUN_FOR: Duration = Duration::from_secs(3);
const BURST: f64 = 20.0;
const RATE: f64 = 100.0;

/// The partner's API, as one replica calls it.
#[rate_limiter(
    name = "partner-api",
    store = "redis",
    max_tokens = 20,
    refill_rate = 100.0,
    expected_replicas = 4
)]
async fn call_partner() -> Result<(), Error> {
    Ok(())
}

/// The breaker's `sync_interval` below (an attribute takes a literal).
const SYNC_INTERVAL: Duration = Duration::from_millis(50);

/// The inventory service, which fails for one replica only.
#[circuit_breaker(
    name = "inventory",
    store = "redis",
    failure_rate_threshold = 0.5,
    window_size = 10,
    minimum_calls = 5,
    sync_interval = "50ms",
    recovery_timeout = "30s"
)]
async fn call_inventory(failing: bool) -> Result<(), InventoryError> {
    match failing {
        true => Err(InventoryError::Unavailable),
        false => Ok(()),
    }
}

#[derive(Debug, thiserror::Error)]
enum InventoryError {
    #[error("inventory answered 503")]
    Unavailable,
    #[error(transparent)]
    Resilience(#[from] Error),
}

fn main() {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next(), args.next()) {
        (Some("--replica"), Some(url), Some(index)) => {
            replica(&url, index.parse().expect("a replica's index"))
        }
        _ => fleet(),
    }
}

/// Starts Redis and the replicas, and reports what the fleet admitted.
fn fleet() {
    let server = RedisServer::start();
    println!("redis-server on {}", server.url());
    let exe = std::env::current_exe().expect("this program's path");
    let replicas: Vec<_> = (0..REPLICAS)
        .map(|i| {
            Command::new(&exe)
                .args(["--replica", &server.url(), &i.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("a replica")
        })
        .collect();
    let mut total = 0;
    let mut opened_at = Vec::new();
    for (i, replica) in replicas.into_iter().enumerate() {
        let output = replica.wait_with_output().expect("the replica's report");
        assert!(output.status.success(), "replica {i} failed");
        let report = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut lines = report.lines().map(str::trim);
        let admitted: u64 = lines
            .next()
            .and_then(|line| line.parse().ok())
            .expect("a count of admitted calls");
        let opened: u128 = lines
            .next()
            .and_then(|line| line.parse().ok())
            .expect("the time the breaker opened");
        println!("replica {i}: {admitted} calls admitted");
        total += admitted;
        opened_at.push(opened);
    }
    let secs = RUN_FOR.as_secs();
    let allowed = BURST + RATE * RUN_FOR.as_secs_f64();
    println!(
        "the fleet: {total} calls admitted in {secs} s, the bucket allows {allowed:.0} ({BURST} + {RATE}/s x {secs} s); {} checks ran on Redis",
        server.calls_of("evalsha")
    );
    assert!(
        total as f64 <= allowed + RATE * 0.1,
        "the fleet went over its budget"
    );

    println!("the inventory service fails for replica 0 only:");
    let first = opened_at[0];
    for (i, &opened) in opened_at.iter().enumerate().skip(1) {
        let after = opened as i128 - first as i128;
        println!(
            "replica {i}: breaker OPEN {after} ms after replica 0's, without a failure of its own"
        );
        // One machine's clock, read by every replica.
        assert!(
            after <= 2 * SYNC_INTERVAL.as_millis() as i128,
            "replica {i} opened {after} ms after replica 0"
        );
    }
}

/// One replica: its own process and connection. Prints how many calls it
/// admitted, then when (unix ms) its inventory breaker opened.
fn replica(url: &str, index: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        registry().set_redis(url).expect("a Redis URL");
        let callers = if index == 0 { 8 } else { 2 };
        println!("{}", share_the_limit(callers).await);
        println!("{}", open_the_breaker(index == 0).await);
    });
    if index == 0 {
        stay_until_the_fleet_has_the_open(url);
    }
}

/// The failing replica's syncer publishes its OPEN on the tick its opening
/// wakes; a process that exits at once can take the OPEN with it, and the
/// others would never see it. So replica 0 stays up until Redis holds it,
/// under the key `docs/redis.md` gives.
fn stay_until_the_fleet_has_the_open(url: &str) {
    let port = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("a port in the Redis URL");
    let deadline = Instant::now() + Duration::from_secs(5);
    while command_at(port, &["EXISTS", "resilience:cb:inventory:open"]).as_deref() != Some(":1\r\n")
    {
        assert!(Instant::now() < deadline, "the OPEN never reached Redis");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `callers` tasks calling as fast as the shared limit lets them for
/// `RUN_FOR`; returns how many calls were admitted.
async fn share_the_limit(callers: usize) -> u64 {
    let admitted = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let admitted = admitted.clone();
            tokio::spawn(async move {
                while start.elapsed() < RUN_FOR {
                    match call_partner().await {
                        Ok(()) => {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(Error::RateLimited { retry_after, .. }) => {
                            tokio::time::sleep(retry_after.min(Duration::from_millis(20))).await
                        }
                        Err(other) => panic!("{other}"),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a caller");
    }
    admitted.load(Ordering::Relaxed)
}

/// The failing replica calls until its breaker opens; the others make one
/// good call (which registers their breaker) and watch it. Returns the unix
/// time in milliseconds at which this replica's breaker was first seen open.
async fn open_the_breaker(failing: bool) -> u128 {
    call_inventory(false)
        .await
        .expect("inventory answers at first");
    let breaker = registry().circuit_breaker("inventory");
    // Every replica has joined before the failures start.
    tokio::time::sleep(4 * SYNC_INTERVAL).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while breaker.state() != CircuitState::Open {
        assert!(Instant::now() < deadline, "the breaker never opened");
        if failing {
            let _ = call_inventory(true).await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let opened = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    assert_eq!(
        breaker.metrics().failed_calls > 0,
        failing,
        "only the failing replica saw failures"
    );
    opened.as_millis()
}
