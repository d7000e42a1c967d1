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

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use resilience_examples::redis_server::RedisServer;
use resilience_runtime::{rate_limiter, registry, Error};

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

fn main() {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next(), args.next()) {
        (Some("--replica"), Some(url), Some(callers)) => {
            replica(&url, callers.parse().expect("a number of callers"))
        }
        _ => fleet(),
    }
}

/// Starts Redis and the replicas, and reports what the fleet admitted.
fn fleet() {
    let server = RedisServer::start();
    println!("redis-server on {}", server.url());
    let exe = std::env::current_exe().expect("this program's path");
    let started = Instant::now();
    let replicas: Vec<_> = (0..REPLICAS)
        .map(|i| {
            let callers = if i == 0 { 8 } else { 2 };
            Command::new(&exe)
                .args(["--replica", &server.url(), &callers.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("a replica")
        })
        .collect();
    let mut total = 0;
    for (i, replica) in replicas.into_iter().enumerate() {
        let output = replica.wait_with_output().expect("the replica's report");
        let admitted: u64 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("a count of admitted calls");
        println!("replica {i}: {admitted} calls admitted");
        total += admitted;
    }
    let elapsed = started
        .elapsed()
        .as_secs_f64()
        .min(RUN_FOR.as_secs_f64() + 1.0);
    let allowed = BURST + RATE * RUN_FOR.as_secs_f64();
    println!(
        "the fleet: {total} calls admitted in {:.1} s, the bucket allows {allowed:.0} ({BURST} + {RATE}/s x {}s); {} checks ran on Redis",
        elapsed,
        RUN_FOR.as_secs(),
        server.calls_of("evalsha")
    );
    assert!(
        total as f64 <= allowed + RATE * 0.1,
        "the fleet went over its budget"
    );
}

/// One replica: its own process and connection, `callers` tasks calling as
/// fast as the shared limit lets them; prints how many calls it admitted.
fn replica(url: &str, callers: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        registry().set_redis(url).expect("a Redis URL");
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
        println!("{}", admitted.load(Ordering::Relaxed));
    });
}
