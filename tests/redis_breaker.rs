//! Circuit breakers shared through Redis, against a real `redis-server`
//! each test starts for itself. Replicas are breakers of one name, each with
//! its own state as separate processes would have: an OPEN reaches them all
//! within two sync intervals, the fleet's window opens them when no replica
//! alone has seen enough, the half-open probes are bounded across the fleet,
//! the calls make no round trip, and a replica that loses Redis goes on
//! with its own breaker, and says so, until Redis is back.
//!
//! The store is process-wide (`registry().set_redis`), so the tests take
//! turns.

#![cfg(feature = "redis")]

mod common;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Recorder;
use resilience_examples::redis_server::RedisServer;
use resilience_runtime::circuit_breaker::CircuitBreakerConfig;
use resilience_runtime::stores::{Store, StoreStatus};
use resilience_runtime::telemetry::{HealthStatus, ReasonCode};
use resilience_runtime::{registry, CircuitBreaker, CircuitState, Error};

/// One test at a time: they share the process's store.
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A Redis of this test's own, set as the process's store.
fn redis() -> RedisServer {
    let server = RedisServer::start();
    registry().set_redis(server.url()).unwrap();
    server
}

/// Opens at half of at least four calls failed, locally or across the fleet.
fn shared(sync_interval: Duration) -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .store(Store::Redis)
        .failure_rate_threshold(0.5)
        .window_size(10)
        .minimum_calls(4)
        .sync_interval(sync_interval)
        .recovery_timeout(Duration::from_secs(30))
}

/// `count` breakers named `name`, as `count` processes would each have.
fn replicas(name: &str, config: &CircuitBreakerConfig, count: usize) -> Vec<Arc<CircuitBreaker>> {
    (0..count)
        .map(|_| CircuitBreaker::new_shared(name.to_owned(), config.clone()).unwrap())
        .collect()
}

fn fail(breaker: &CircuitBreaker, times: usize) {
    for _ in 0..times {
        breaker.try_acquire().unwrap().failure();
    }
}

/// Polls `done` until it holds, and returns how long that took; panics
/// with `what` after `limit`.
fn within(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
    start.elapsed()
}

/// Waits up to two seconds for every breaker of `fleet` to be OPEN, and
/// returns how long that took.
fn all_open(fleet: &[Arc<CircuitBreaker>], what: &str) -> Duration {
    within(Duration::from_secs(2), what, || {
        fleet
            .iter()
            .all(|replica| replica.state() == CircuitState::Open)
    })
}

/// Waits until every replica has synced once: each tick reads the fleet's
/// OPEN with one `PTTL`.
fn synced(server: &RedisServer, ticks: u64) {
    within(Duration::from_secs(5), "the first ticks", || {
        server.calls_of("pttl") >= ticks
    });
}

#[test]
fn an_open_by_one_replica_reaches_the_others_within_two_sync_intervals() {
    let _turn = turn();
    let server = redis();
    let interval = Duration::from_millis(50);
    let fleet = replicas("fleet-open", &shared(interval), 3);
    synced(&server, 3);

    fail(&fleet[0], 4);
    assert_eq!(fleet[0].state(), CircuitState::Open);
    let took = all_open(&fleet[1..], "the others OPEN");
    assert!(
        took <= 2 * interval,
        "the others opened {took:?} after the first, more than two sync intervals"
    );
    // The others refuse calls for what is left of the first one's open time.
    match fleet[2].try_acquire() {
        Err(Error::CircuitOpen {
            retry_after: Some(left),
            ..
        }) => assert!(left > Duration::from_secs(29), "{left:?}"),
        other => panic!("expected an open circuit, got {other:?}"),
    }
    for replica in &fleet[1..] {
        assert_eq!(replica.metrics().failed_calls, 0, "they saw no failure");
    }
}

#[test]
fn the_fleets_window_opens_every_replica_when_none_alone_has_enough_calls() {
    let _turn = turn();
    let server = redis();
    let config = shared(Duration::from_millis(30)).minimum_calls(6);
    let fleet = replicas("fleet-window", &config, 3);
    synced(&server, 3);

    // Two failures each: below any replica's six, six in the fleet's window.
    for replica in &fleet {
        fail(replica, 2);
        assert_eq!(replica.state(), CircuitState::Closed);
    }
    all_open(&fleet, "every replica OPEN");
    for replica in &fleet {
        assert_eq!(replica.metrics().window_calls, 2);
    }
}

#[test]
fn half_open_probes_are_bounded_across_the_fleet_and_their_success_closes_it() {
    let _turn = turn();
    let server = redis();
    let config = shared(Duration::from_millis(20))
        .recovery_timeout(Duration::from_millis(300))
        .half_open_max_calls(2);
    let fleet = replicas("fleet-probes", &config, 3);
    synced(&server, 3);
    fail(&fleet[0], 4);
    all_open(&fleet, "every replica OPEN");

    // Every replica tries to probe for half a second after the open time,
    // keeping each probe it gets in flight: alone, each would admit two.
    let admitted = probe_for(&fleet, Duration::from_millis(800));
    assert_eq!(
        admitted.iter().sum::<usize>(),
        2,
        "probes admitted by each replica: {admitted:?}; store errors: {:?}",
        fleet
            .iter()
            .map(|replica| replica.metrics().store_errors)
            .collect::<Vec<_>>()
    );
    // The probes succeeded: their replicas closed, and told the others.
    within(Duration::from_secs(2), "every replica CLOSED", || {
        fleet
            .iter()
            .all(|replica| replica.state() == CircuitState::Closed)
    });
}

#[test]
fn a_failed_probe_reopens_the_whole_fleet() {
    let _turn = turn();
    let server = redis();
    let interval = Duration::from_millis(20);
    let config = shared(interval).recovery_timeout(Duration::from_millis(300));
    let fleet = replicas("fleet-reopen", &config, 2);
    synced(&server, 2);
    fail(&fleet[0], 4);
    all_open(&fleet, "both OPEN");

    // After the open time, whichever replica gets the fleet's one slot probes.
    let mut probe = None;
    within(Duration::from_secs(3), "a probe", || {
        probe = fleet
            .iter()
            .enumerate()
            .find_map(|(i, replica)| Some((i, replica.try_acquire().ok()?)));
        probe.is_some()
    });
    let (prober, permit) = probe.unwrap();
    let other = &fleet[1 - prober];
    assert!(other.try_acquire().is_err(), "one probe in the fleet");
    permit.failure();
    assert_eq!(fleet[prober].state(), CircuitState::Open);
    // Open for the new open time, not for what was left of the first.
    let took = within(Duration::from_secs(2), "the other OPEN again", || {
        open_for(other) > Duration::from_millis(200)
    });
    assert!(
        took <= 2 * interval,
        "reopened {took:?} after the probe failed"
    );
}

/// How long `breaker` refuses calls still, if it is OPEN.
fn open_for(breaker: &CircuitBreaker) -> Duration {
    match breaker.try_acquire() {
        Err(Error::CircuitOpen {
            retry_after: Some(left),
            ..
        }) => left,
        _ => Duration::ZERO,
    }
}

#[test]
fn calls_make_no_round_trip_and_their_counts_go_with_the_next_tick() {
    let _turn = turn();
    let server = redis();
    // Ticks a second apart; a tick reads the ten buckets of the window last.
    let breaker =
        CircuitBreaker::new_shared("fleet-quiet", shared(Duration::from_secs(1))).unwrap();
    within(Duration::from_secs(5), "the first tick", || {
        server.calls_of("hmget") >= 10
    });

    let started = unix_seconds();
    let before = commands(&server);
    for _ in 0..10_000 {
        breaker.try_acquire().unwrap().success();
    }
    assert_eq!(commands(&server), before, "calls sent commands");

    within(Duration::from_secs(5), "the second tick", || {
        server.calls_of("hmget") >= 20
    });
    let sent: u64 = (started - 1..=unix_seconds() + 1)
        .map(|bucket| {
            let key = format!("resilience:cb:fleet-quiet:w:{bucket}");
            integer(&server.command(&["HGET", &key, "s"]).unwrap())
        })
        .sum();
    assert_eq!(sent, 10_000, "the successes in the fleet's window");
}

#[test]
fn a_replica_without_redis_goes_on_alone_says_so_and_shares_again_once_it_is_back() {
    let _turn = turn();
    let mut server = redis();
    let name = "fleet-outage";
    let recorder = Recorder::new(&[name]);
    registry()
        .configure_circuit_breaker(name, shared(Duration::from_millis(30)))
        .unwrap();
    let local = registry().circuit_breaker(name);
    let other = CircuitBreaker::new_shared(name, shared(Duration::from_millis(30))).unwrap();
    // One the syncer cannot reach is local, whatever its settings say.
    let unreachable = CircuitBreaker::new(name, shared(Duration::from_millis(30))).unwrap();
    assert_eq!(unreachable.store_status(), StoreStatus::Local);
    synced(&server, 2);
    assert_eq!(local.store_status(), StoreStatus::Available);

    server.kill();
    within(Duration::from_secs(5), "several failed ticks", || {
        local.metrics().store_errors >= 5
    });
    assert!(matches!(
        local.store_status(),
        StoreStatus::Unavailable { .. }
    ));
    let unavailable = |lines: &[String]| {
        lines
            .iter()
            .filter(|line| *line == &format!("store unavailable {name}"))
            .count()
    };
    // Once per outage, from each replica (both are named `name`).
    assert_eq!(unavailable(&recorder.lines()), 2, "{:?}", recorder.lines());
    let health = registry().health();
    let instance = health
        .instances
        .iter()
        .find(|instance| instance.name == name)
        .expect("the breaker is listed");
    assert_eq!(instance.status, HealthStatus::Degraded);
    assert_eq!(instance.reasons[0].code, ReasonCode::StoreUnavailable);
    assert!(
        instance.reasons[0]
            .message
            .ends_with("judging its own calls alone"),
        "{}",
        instance.reasons[0].message
    );
    #[cfg(feature = "metrics")]
    {
        let text = rendered_metrics();
        let series = |metric: &str| series(&text, &format!("{metric}{{name=\"{name}\"}}"));
        assert_eq!(series("resilience_circuitbreaker_store_available"), 0.0);
        assert!(series("resilience_circuitbreaker_store_errors_total") >= 5.0);
    }

    // Alone, a replica still opens on its own failures; the other cannot
    // learn of it.
    fail(&local, 4);
    assert_eq!(local.state(), CircuitState::Open);
    within(Duration::from_secs(2), "more failed ticks", || {
        other.metrics().store_errors >= 10
    });
    assert_eq!(other.state(), CircuitState::Closed);

    server.restart();
    within(Duration::from_secs(5), "the store back", || {
        recorder
            .lines()
            .contains(&format!("store recovered {name}"))
    });
    // Back on Redis, the OPEN made alone reaches the other replica.
    within(Duration::from_secs(2), "the other OPEN", || {
        other.state() == CircuitState::Open
    });
    assert_eq!(local.store_status(), StoreStatus::Available);
    assert_eq!(unavailable(&recorder.lines()), 2, "{:?}", recorder.lines());
    assert!(registry()
        .health()
        .instances
        .iter()
        .filter(|instance| instance.name == name)
        .all(|instance| instance
            .reasons
            .iter()
            .all(|reason| reason.code != ReasonCode::StoreUnavailable)));

    // The registry keeps its breaker: back to local, it syncs with the
    // next test's Redis no more.
    registry()
        .configure_circuit_breaker(name, CircuitBreakerConfig::default())
        .unwrap();
    assert_eq!(local.store_status(), StoreStatus::Local);
}

#[test]
fn probes_are_bounded_across_the_fleet_again_once_redis_is_back() {
    let _turn = turn();
    let mut server = redis();
    let config = shared(Duration::from_millis(20)).recovery_timeout(Duration::from_millis(300));
    let fleet = replicas("fleet-bounded-again", &config, 2);
    synced(&server, 2);
    server.kill();
    within(Duration::from_secs(5), "failed ticks", || {
        fleet
            .iter()
            .all(|replica| replica.metrics().store_errors >= 3)
    });
    server.restart();
    within(Duration::from_secs(5), "the store back", || {
        fleet
            .iter()
            .all(|replica| replica.store_status() == StoreStatus::Available)
    });

    fail(&fleet[0], 4);
    all_open(&fleet, "both OPEN");
    let admitted = probe_for(&fleet, Duration::from_millis(800));
    assert_eq!(
        admitted.iter().sum::<usize>(),
        1,
        "probes admitted by each replica: {admitted:?}"
    );
}

/// Calls through every replica at once for `time`, keeping each probe
/// admitted in flight until the end, when it succeeds; the probes each
/// replica admitted.
fn probe_for(fleet: &[Arc<CircuitBreaker>], time: Duration) -> Vec<usize> {
    std::thread::scope(|scope| {
        let callers: Vec<_> = fleet
            .iter()
            .map(|replica| {
                scope.spawn(move || {
                    let mut probes = Vec::new();
                    let until = Instant::now() + time;
                    while Instant::now() < until {
                        match replica.try_acquire() {
                            Ok(permit) => probes.push(permit),
                            Err(_) => std::thread::sleep(Duration::from_millis(1)),
                        }
                    }
                    let count = probes.len();
                    for probe in probes {
                        probe.success();
                    }
                    count
                })
            })
            .collect();
        callers
            .into_iter()
            .map(|caller| caller.join().unwrap())
            .collect()
    })
}

/// Every command Redis ran, but those the harness sends to read the counts.
fn commands(server: &RedisServer) -> u64 {
    server
        .command_calls()
        .into_iter()
        .filter(|(name, _)| name != "info" && name != "config|resetstat")
        .map(|(_, calls)| calls)
        .sum()
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A RESP bulk string's number, or zero for a nil.
fn integer(reply: &str) -> u64 {
    reply
        .lines()
        .nth(1)
        .and_then(|line| line.parse().ok())
        .unwrap_or(0)
}

#[cfg(feature = "metrics")]
fn rendered_metrics() -> String {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, resilience_runtime::telemetry::publish_metrics);
    handle.render()
}

/// The value of `series` (`name{labels}`) in the Prometheus text.
#[cfg(feature = "metrics")]
fn series(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series `{series}` in:\n{text}"))
}
