//! The circuit breaker's state machine and count window: callers, probes,
//! the fleet's grants and the window's tallies, raced under loom.

use loom::sync::Arc;
use loom::thread;

use crate::circuit_breaker::machine::{Machine, Now, Pass, Timing};
use crate::circuit_breaker::window::{CountWindow, Outcome, Tally};
use crate::circuit_breaker::word::Phase;
use crate::model;

/// Settings come into each operation; a model uses one `failure_threshold`
/// and one `half_open_max_calls` throughout.
fn timing(failure_threshold: u32, probes: u32) -> Timing {
    Timing {
        failure_threshold,
        probes,
        recovery: 0,
        recovery_backoff: 1.0,
        max_recovery: u64::MAX,
        half_open_wait: None,
    }
}

/// The clock stands still: transitions due "by now" are due at once, as the
/// recovery time is zero.
fn now() -> Now<impl Fn() -> u64> {
    Now::new(|| 0)
}

fn epoch_of(machine: &Machine) -> u32 {
    machine.load().epoch()
}

/// A machine that has failed once (threshold 1) and turned half-open.
fn half_open(probes: u32) -> Machine {
    let machine = Machine::new();
    let timing = timing(1, probes);
    machine.closed_failure(&timing, epoch_of(&machine), &mut now());
    machine.current(&timing, &mut now(), &mut |_| {});
    assert!(matches!(machine.load().phase(), Phase::HalfOpen { .. }));
    machine
}

fn acquire(machine: &Machine, timing: &Timing) -> Option<Pass> {
    machine.acquire(timing, &mut now(), &mut |_| {}).ok()
}

#[test]
fn half_open_never_admits_more_probes_than_allowed() {
    model(|| {
        let machine = Arc::new(half_open(2));
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let machine = machine.clone();
                thread::spawn(move || acquire(&machine, &timing(1, 2)))
            })
            .collect();
        let probes = callers
            .into_iter()
            .filter_map(|caller| caller.join().unwrap())
            .filter(|pass| matches!(pass, Pass::Probe { .. }))
            .count();
        assert_eq!(probes, 2);
    });
}

#[test]
fn an_abandoned_probe_frees_its_slot_for_the_next() {
    model(|| {
        let machine = Arc::new(half_open(1));
        let timing = timing(1, 1);
        let Some(Pass::Probe { epoch }) = acquire(&machine, &timing) else {
            panic!("the first caller is the probe")
        };
        let dropper = {
            let machine = machine.clone();
            thread::spawn(move || machine.abandon(epoch))
        };
        let contender = {
            let machine = machine.clone();
            thread::spawn(move || acquire(&machine, &timing))
        };
        dropper.join().unwrap();
        let contended = contender.join().unwrap();
        // Whoever ran first, the slot is not lost: either the contender took it,
        // or it is free now.
        match contended {
            Some(Pass::Probe { .. }) => assert!(acquire(&machine, &timing).is_none()),
            _ => assert!(matches!(
                acquire(&machine, &timing),
                Some(Pass::Probe { .. })
            )),
        }
    });
}

#[test]
fn a_probe_failure_racing_a_probe_success_reopens_the_circuit() {
    model(|| {
        let machine = Arc::new(half_open(2));
        let timing = timing(1, 2);
        let Some(Pass::Probe { epoch }) = acquire(&machine, &timing) else {
            panic!()
        };
        assert!(matches!(
            acquire(&machine, &timing),
            Some(Pass::Probe { .. })
        ));
        let success = {
            let machine = machine.clone();
            thread::spawn(move || machine.probe_success(&timing, epoch, |_| {}))
        };
        let failure = {
            let machine = machine.clone();
            thread::spawn(move || machine.probe_failure(&timing, epoch, &mut now()))
        };
        assert!(
            success.join().unwrap().is_none(),
            "one success of two cannot close"
        );
        assert!(failure.join().unwrap().is_some());
        assert_eq!(machine.load().phase(), Phase::Open);
    });
}

#[test]
fn the_last_probe_success_closes_once() {
    model(|| {
        let machine = Arc::new(half_open(2));
        let timing = timing(1, 2);
        let Some(Pass::Probe { epoch }) = acquire(&machine, &timing) else {
            panic!()
        };
        assert!(matches!(
            acquire(&machine, &timing),
            Some(Pass::Probe { .. })
        ));
        let probes: Vec<_> = (0..2)
            .map(|_| {
                let machine = machine.clone();
                thread::spawn(move || machine.probe_success(&timing, epoch, |_| {}))
            })
            .collect();
        let closes = probes
            .into_iter()
            .filter_map(|probe| probe.join().unwrap())
            .count();
        assert_eq!(closes, 1);
        assert_eq!(machine.load().phase(), Phase::Closed { failures: 0 });
    });
}

/// Records one failure on each of two threads, each judged against its own
/// `failure_threshold`; how many of them opened the circuit.
fn failures_that_open(machine: &Arc<Machine>, epoch: u32, thresholds: [u32; 2]) -> usize {
    let failures: Vec<_> = thresholds
        .into_iter()
        .map(|threshold| {
            let machine = machine.clone();
            thread::spawn(move || machine.closed_failure(&timing(threshold, 1), epoch, &mut now()))
        })
        .collect();
    failures
        .into_iter()
        .filter_map(|failure| failure.join().unwrap())
        .count()
}

#[test]
fn concurrent_failures_open_the_circuit_exactly_once() {
    model(|| {
        let machine = Arc::new(Machine::new());
        let epoch = epoch_of(&machine);
        assert_eq!(failures_that_open(&machine, epoch, [2, 2]), 1);
        assert_eq!(machine.load().phase(), Phase::Open);
    });
}

#[test]
fn a_late_failure_never_counts_against_a_reset_circuit() {
    model(|| {
        let machine = Arc::new(Machine::new());
        let epoch = epoch_of(&machine);
        let late = {
            let machine = machine.clone();
            thread::spawn(move || machine.closed_failure(&timing(1, 1), epoch, &mut now()))
        };
        let reset = {
            let machine = machine.clone();
            thread::spawn(move || machine.force(Phase::Closed { failures: 0 }, |_| {}))
        };
        late.join().unwrap();
        reset.join().unwrap();
        // Either the failure opened the old circuit and the reset closed it, or
        // the reset came first and the failure, of an ended epoch, counted nowhere.
        assert_eq!(machine.load().phase(), Phase::Closed { failures: 0 });
    });
}

#[test]
fn every_record_in_a_count_window_is_counted_once() {
    model(|| {
        let window = Arc::new(CountWindow::new(4));
        window.record(Outcome {
            failed: true,
            slow: false,
        });
        let recorders: Vec<_> = [false, true]
            .into_iter()
            .map(|failed| {
                let window = window.clone();
                thread::spawn(move || {
                    window.record(Outcome {
                        failed,
                        slow: !failed,
                    });
                })
            })
            .collect();
        for recorder in recorders {
            recorder.join().unwrap();
        }
        assert_eq!(
            window.tally(),
            Tally {
                calls: 3,
                failures: 2,
                slow: 1
            }
        );
    });
}

/// One thread turns a due OPEN circuit half-open while another takes a probe
/// that fails and reopens it: the half-open deadline, written late, must not
/// replace the reopened circuit's own and strand it OPEN.
#[test]
fn a_late_half_open_deadline_never_strands_a_reopened_circuit() {
    model(|| {
        let timing = timing(1, 1);
        let machine = Machine::new();
        machine.closed_failure(&timing, epoch_of(&machine), &mut now());
        let machine = Arc::new(machine);
        let reader = {
            let machine = machine.clone();
            thread::spawn(move || {
                machine.current(&timing, &mut now(), &mut |_| {});
            })
        };
        let caller = {
            let machine = machine.clone();
            thread::spawn(move || {
                if let Some(Pass::Probe { epoch }) = acquire(&machine, &timing) {
                    machine.probe_failure(&timing, epoch, &mut now());
                }
            })
        };
        reader.join().unwrap();
        caller.join().unwrap();
        // The open time (zero) has passed: the circuit admits a probe again.
        assert_ne!(
            machine.current(&timing, &mut now(), &mut |_| {}).phase(),
            Phase::Open
        );
    });
}

/// One thread opens the circuit while another resets it and opens it again:
/// the first opening's deadline, written late, must not strand the second.
#[test]
fn a_late_open_deadline_never_strands_a_circuit_reopened_after_a_reset() {
    model(|| {
        let timing = timing(1, 1);
        let machine = Arc::new(Machine::new());
        let epoch = epoch_of(&machine);
        let first = {
            let machine = machine.clone();
            thread::spawn(move || {
                machine.closed_failure(&timing, epoch, &mut now());
            })
        };
        let second = {
            let machine = machine.clone();
            thread::spawn(move || {
                machine.force(Phase::Closed { failures: 0 }, |_| {});
                machine.closed_failure(&timing, epoch_of(&machine), &mut now());
            })
        };
        first.join().unwrap();
        second.join().unwrap();
        assert_ne!(
            machine.current(&timing, &mut now(), &mut |_| {}).phase(),
            Phase::Open
        );
    });
}

/// A reload lowers `failure_threshold` while failures are being recorded:
/// one judged by the old settings, one by the new, and the circuit opens
/// exactly once whichever comes first.
#[test]
fn failures_judged_by_old_and_new_settings_open_the_circuit_once() {
    model(|| {
        let machine = Arc::new(Machine::new());
        let epoch = epoch_of(&machine);
        machine.closed_failure(&timing(3, 1), epoch, &mut now());
        assert_eq!(failures_that_open(&machine, epoch, [3, 1]), 1);
        assert_eq!(machine.load().phase(), Phase::Open);
    });
}

/// A fleet's grant of one probe slot, written while two callers turn the
/// circuit half-open and ask for probes: never more than the grant is
/// admitted, and the grant is not lost to the race.
#[test]
fn a_grant_racing_the_turn_to_half_open_admits_no_more_than_granted() {
    model(|| {
        let timing = timing(1, 2);
        let machine = Machine::new();
        machine.bound_probes();
        machine.closed_failure(&timing, epoch_of(&machine), &mut now());
        let half_open = epoch_of(&machine) + 1;
        let machine = Arc::new(machine);
        let grant = {
            let machine = machine.clone();
            thread::spawn(move || machine.grant_probes(half_open, 1))
        };
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let machine = machine.clone();
                thread::spawn(move || acquire(&machine, &timing))
            })
            .collect();
        grant.join().unwrap();
        let mut probes = callers
            .into_iter()
            .filter_map(|caller| caller.join().unwrap())
            .count();
        assert!(probes <= 1);
        probes += usize::from(acquire(&machine, &timing).is_some());
        assert_eq!(probes, 1);
    });
}

/// A replica gives its probe slot back to the fleet (withdrawing its grant)
/// while a caller takes a probe on it: either the caller is refused, or the
/// replica sees the probe and keeps the slot.
#[test]
fn a_slot_given_back_never_carries_a_probe() {
    model(|| {
        let timing = timing(1, 1);
        let machine = half_open(1);
        machine.bound_probes();
        let epoch = epoch_of(&machine);
        machine.grant_probes(epoch, 1);
        let machine = Arc::new(machine);
        let caller = {
            let machine = machine.clone();
            thread::spawn(move || acquire(&machine, &timing).is_some())
        };
        let given_back = machine.withdraw_probes(epoch);
        let probe = caller.join().unwrap();
        assert!(!(given_back && probe), "a probe on a slot given back");
        if !probe {
            // A refused caller left no probe in flight behind.
            assert!(!matches!(
                machine.load().phase(),
                Phase::HalfOpen { in_flight: 1, .. }
            ));
        }
    });
}

/// The fleet's OPEN arrives while a local failure opens the circuit: it
/// opens once.
#[test]
fn a_fleet_open_racing_a_local_trip_opens_the_circuit_once() {
    model(|| {
        let machine = Arc::new(Machine::new());
        let epoch = epoch_of(&machine);
        let local = {
            let machine = machine.clone();
            thread::spawn(move || machine.closed_failure(&timing(1, 1), epoch, &mut now()))
        };
        let fleet = {
            let machine = machine.clone();
            thread::spawn(move || machine.open_until_deadline(epoch, 1_000))
        };
        let opened = [local.join().unwrap(), fleet.join().unwrap()]
            .into_iter()
            .flatten()
            .count();
        assert_eq!(opened, 1);
        assert_eq!(machine.load().phase(), Phase::Open);
    });
}

/// The fleet's probes close the circuit while this replica's own probe
/// fails: one of the two wins, and the circuit is in its state.
#[test]
fn the_fleets_close_racing_a_probe_failure_has_one_outcome() {
    model(|| {
        let machine = Arc::new(half_open(1));
        let timing = timing(1, 1);
        let Some(Pass::Probe { epoch }) = acquire(&machine, &timing) else {
            panic!("the first caller is the probe")
        };
        let failure = {
            let machine = machine.clone();
            thread::spawn(move || machine.probe_failure(&timing, epoch, &mut now()))
        };
        let close = {
            let machine = machine.clone();
            thread::spawn(move || machine.close_probing(epoch, |_| {}))
        };
        let (failed, closed) = (failure.join().unwrap(), close.join().unwrap());
        assert!(
            failed.is_some() != closed.is_some(),
            "{failed:?} {closed:?}"
        );
        let expected = if closed.is_some() {
            Phase::Closed { failures: 0 }
        } else {
            Phase::Open
        };
        assert_eq!(machine.load().phase(), expected);
    });
}
