//! The breaker's lock-free state machine: one state word, and two deadline
//! words for the current OPEN or HALF_OPEN state, which also carry the count
//! of probe rounds that failed in a row. Time comes in as nanoseconds from the
//! caller, and transitions go out to it, so that this file depends on nothing
//! but atomics and can be model-checked with loom. The settings come in with
//! each operation too: the breaker can swap them while the machine runs, and
//! each decision uses those in force when it is made.
//!
//! A breaker shared with a fleet (`store = "redis"`) also has its probes
//! bounded by the slots its replica holds in the store: a third word grants
//! the HALF_OPEN state of one epoch so many probes, and admits none to a
//! HALF_OPEN state it does not name, so that a grant written late, or for a
//! state that has ended, never lets a probe through unbounded.

use super::word::{Phase, Word};
use crate::sync::atomic::{fence, AtomicU64, Ordering};

/// The settings the state machine needs, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) failure_threshold: u32,
    pub(crate) probes: u32,
    pub(crate) recovery: u64,
    pub(crate) recovery_backoff: f64,
    pub(crate) max_recovery: u64,
    pub(crate) half_open_wait: Option<u64>,
}

/// A phase change made by this machine: (from, to).
pub(crate) type Transition = (Phase, Phase);

/// Leave to make a call, and what its outcome may affect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// CLOSED: counted, recorded in `window`, may open the circuit.
    Counted { epoch: u32, window: u8 },
    /// HALF_OPEN: a probe; its outcome closes or reopens the circuit.
    Probe { epoch: u32 },
    /// METRICS_ONLY: counted and recorded, never a transition.
    Observed { epoch: u32, window: u8 },
    /// DISABLED: nothing is recorded.
    Free,
}

/// A refused call: OPEN (with the time left, when known), FORCED_OPEN, or
/// HALF_OPEN with every probe slot taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) retry_after: Option<u64>,
}

/// The clock, read at most once per operation and only where a phase needs it.
pub(crate) struct Now<F: Fn() -> u64> {
    read: F,
    value: Option<u64>,
}

impl<F: Fn() -> u64> Now<F> {
    #[inline]
    pub(crate) fn new(read: F) -> Self {
        Now { read, value: None }
    }

    #[inline]
    pub(crate) fn get(&mut self) -> u64 {
        *self.value.get_or_insert_with(&self.read)
    }
}

/// A deadline that never comes: the largest a deadline word can hold, over
/// nine years after the breaker's creation.
const NEVER: u64 = Deadline::MAX_NANOS;

/// The probe grant of a breaker not bounded by a fleet: the settings alone decide.
const UNBOUNDED: u64 = u64::MAX;

/// When a state ends, to the nanosecond since the breaker's creation (at most
/// `NEVER`), in two words that each carry the whole epoch of the state
/// they belong to: the high word also holds the probe rounds that failed in a
/// row before it (6 bits) and the time's top 26 bits; the low word its other
/// 32 bits. A reader trusts the time only when both words name its state, so
/// no lock and no rounding (to whole milliseconds, as one word would need) is
/// needed. The whole epoch, not a part of it: a writer delayed while the
/// circuit cycles tens of thousands of times (a 1 µs recovery under load
/// does that in 50 ms) must still see that its state has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadline {
    high: u64,
    low: u64,
}

impl Deadline {
    const MAX_ROUNDS: u32 = (1 << 6) - 1;
    const LOW_BITS: u32 = 32;
    const HIGH_BITS: u32 = 26;
    const MAX_NANOS: u64 = (1 << (Self::LOW_BITS + Self::HIGH_BITS)) - 1;

    fn new(word: Word, rounds: u32, nanos: u64) -> Deadline {
        let tag = u64::from(word.epoch()) << 32;
        let rounds = u64::from(rounds.min(Self::MAX_ROUNDS));
        let nanos = nanos.min(Self::MAX_NANOS);
        Deadline {
            high: tag | rounds << Self::HIGH_BITS | nanos >> Self::LOW_BITS,
            low: tag | nanos & u64::from(u32::MAX),
        }
    }

    fn tag(word: u64) -> u32 {
        (word >> 32) as u32
    }

    fn rounds(high: u64) -> u32 {
        ((high >> Self::HIGH_BITS) & u64::from(Self::MAX_ROUNDS)) as u32
    }

    fn nanos(self) -> u64 {
        (self.high & ((1 << Self::HIGH_BITS) - 1)) << Self::LOW_BITS
            | self.low & u64::from(u32::MAX)
    }
}

pub(crate) struct Machine {
    word: AtomicU64,
    deadline_high: AtomicU64,
    deadline_low: AtomicU64,
    /// `UNBOUNDED`, or the probes granted to one HALF_OPEN state: its epoch
    /// in the high half, the count in the low one.
    grant: AtomicU64,
}

impl Machine {
    pub(crate) fn new() -> Self {
        Machine {
            word: AtomicU64::new(Word::new(0, 0, Phase::Closed { failures: 0 }).0),
            deadline_high: AtomicU64::new(0),
            deadline_low: AtomicU64::new(0),
            grant: AtomicU64::new(UNBOUNDED),
        }
    }

    #[inline]
    pub(crate) fn load(&self) -> Word {
        Word(self.word.load(Ordering::Acquire))
    }

    /// The word after the transitions that are due by time: OPEN to HALF_OPEN
    /// once the open time has passed, HALF_OPEN back to OPEN once probes have
    /// taken longer than `half_open_wait`.
    #[inline]
    pub(crate) fn current<F: Fn() -> u64>(
        &self,
        timing: &Timing,
        now: &mut Now<F>,
        seen: &mut impl FnMut(Transition),
    ) -> Word {
        // Each turn makes a transition or returns; two are the most that can be due.
        for _ in 0..4 {
            let word = self.load();
            // The timing is read in the one phase that needs it, so that the
            // OPEN path does not load it up front.
            let timed = match word.phase() {
                Phase::Open => true,
                Phase::HalfOpen { .. } => timing.half_open_wait.is_some(),
                _ => false,
            };
            if !timed {
                return word;
            }
            // Not yet written by the thread that made the transition: not due.
            let Some(due) = self.due(word) else {
                return word;
            };
            if now.get() < due {
                return word;
            }
            if word.phase() == Phase::Open {
                let half_open = word.next(Phase::HalfOpen {
                    in_flight: 0,
                    successes: 0,
                });
                if self.swap(word, half_open).is_ok() {
                    let until = timing
                        .half_open_wait
                        .map_or(NEVER, |wait| now.get().saturating_add(wait));
                    self.set_due(half_open, self.failed_rounds(word), until);
                    seen((Phase::Open, half_open.phase()));
                }
            } else if let Some(transition) = self.open(timing, word, now.get(), true) {
                seen(transition);
            }
        }
        self.load()
    }

    /// The time left while OPEN and not yet due to probe; `None` in any other
    /// case, which [`acquire`](Self::acquire) decides. Needs no settings, so
    /// the most frequent refusal reads none.
    #[inline]
    pub(crate) fn open_time_left<F: Fn() -> u64>(&self, now: &mut Now<F>) -> Option<u64> {
        let word = self.load();
        if word.phase() != Phase::Open {
            return None;
        }
        let due = self.due(word)?;
        due.checked_sub(now.get()).filter(|&left| left > 0)
    }

    #[inline]
    pub(crate) fn acquire<F: Fn() -> u64>(
        &self,
        timing: &Timing,
        now: &mut Now<F>,
        seen: &mut impl FnMut(Transition),
    ) -> Result<Pass, Refused> {
        let mut word = self.current(timing, now, seen);
        loop {
            let epoch = word.epoch();
            match word.phase() {
                Phase::Closed { .. } => {
                    return Ok(Pass::Counted {
                        epoch,
                        window: word.window(),
                    })
                }
                Phase::MetricsOnly => {
                    return Ok(Pass::Observed {
                        epoch,
                        window: word.window(),
                    })
                }
                Phase::Disabled => return Ok(Pass::Free),
                Phase::ForcedOpen => return Err(Refused { retry_after: None }),
                Phase::Open => {
                    let retry_after = self.due(word).map(|due| due.saturating_sub(now.get()));
                    return Err(Refused { retry_after });
                }
                Phase::HalfOpen {
                    in_flight,
                    successes,
                } if in_flight + successes < self.admits(timing, epoch) => {
                    let taken = word.with(Phase::HalfOpen {
                        in_flight: in_flight + 1,
                        successes,
                    });
                    match self.swap(word, taken) {
                        Ok(()) if self.still_granted(timing, epoch, in_flight + successes) => {
                            return Ok(Pass::Probe { epoch })
                        }
                        Ok(()) => {
                            self.abandon(epoch);
                            return Err(Refused { retry_after: None });
                        }
                        Err(changed) => word = changed,
                    }
                }
                Phase::HalfOpen { .. } => return Err(Refused { retry_after: None }),
            }
        }
    }

    /// A success in CLOSED (consecutive mode): the failure count starts over.
    #[inline]
    pub(crate) fn closed_success(&self, epoch: u32) {
        self.update(epoch, |word| match word.phase() {
            Phase::Closed { failures } if failures > 0 => {
                Some(word.with(Phase::Closed { failures: 0 }))
            }
            _ => None,
        });
    }

    /// A failure in CLOSED (consecutive mode): opens at `failure_threshold` in a row.
    pub(crate) fn closed_failure<F: Fn() -> u64>(
        &self,
        timing: &Timing,
        epoch: u32,
        now: &mut Now<F>,
    ) -> Option<Transition> {
        let mut word = self.load();
        while word.epoch() == epoch {
            let Phase::Closed { failures } = word.phase() else {
                return None;
            };
            if failures + 1 >= timing.failure_threshold {
                if let Some(transition) = self.open(timing, word, now.get(), false) {
                    return Some(transition);
                }
            } else if self
                .swap(
                    word,
                    word.with(Phase::Closed {
                        failures: failures + 1,
                    }),
                )
                .is_ok()
            {
                return None;
            }
            word = self.load();
        }
        None
    }

    /// Opens a CLOSED circuit of `epoch` (a rate was exceeded).
    pub(crate) fn trip<F: Fn() -> u64>(
        &self,
        timing: &Timing,
        epoch: u32,
        now: &mut Now<F>,
    ) -> Option<Transition> {
        self.open_from(timing, epoch, now.get(), false, |phase| {
            matches!(phase, Phase::Closed { .. })
        })
    }

    /// A probe succeeded: with `half_open_max_calls` successes the circuit
    /// closes, after `prepare` has cleared the window it will record into.
    pub(crate) fn probe_success(
        &self,
        timing: &Timing,
        epoch: u32,
        prepare: impl Fn(u8),
    ) -> Option<Transition> {
        let needed = self.needs(timing, epoch);
        let (from, to) = self.update(epoch, |word| match word.phase() {
            Phase::HalfOpen { successes, .. } if successes + 1 >= needed => {
                let closed = word.next_with_fresh_window(Phase::Closed { failures: 0 });
                prepare(closed.window());
                Some(closed)
            }
            Phase::HalfOpen {
                in_flight,
                successes,
            } => Some(word.with(Phase::HalfOpen {
                in_flight: in_flight.saturating_sub(1),
                successes: successes + 1,
            })),
            _ => None,
        })?;
        (to.epoch() != from.epoch()).then(|| (from.phase(), to.phase()))
    }

    /// A probe failed: the circuit reopens, for longer each round in a row.
    pub(crate) fn probe_failure<F: Fn() -> u64>(
        &self,
        timing: &Timing,
        epoch: u32,
        now: &mut Now<F>,
    ) -> Option<Transition> {
        self.open_from(timing, epoch, now.get(), true, |phase| {
            matches!(phase, Phase::HalfOpen { .. })
        })
    }

    /// Opens the circuit while it is still in `epoch`, in a phase `from` accepts.
    fn open_from(
        &self,
        timing: &Timing,
        epoch: u32,
        now: u64,
        probe_failed: bool,
        from: impl Fn(Phase) -> bool,
    ) -> Option<Transition> {
        let mut word = self.load();
        while word.epoch() == epoch && from(word.phase()) {
            if let Some(transition) = self.open(timing, word, now, probe_failed) {
                return Some(transition);
            }
            word = self.load();
        }
        None
    }

    /// A probe ended without an outcome (dropped, panicked or ignored): its slot is free again.
    pub(crate) fn abandon(&self, epoch: u32) {
        self.update(epoch, |word| match word.phase() {
            Phase::HalfOpen {
                in_flight,
                successes,
            } => Some(word.with(Phase::HalfOpen {
                in_flight: in_flight.saturating_sub(1),
                successes,
            })),
            _ => None,
        });
    }

    /// The probes the HALF_OPEN state of `epoch` may have taken in all.
    #[inline]
    fn admits(&self, timing: &Timing, epoch: u32) -> u32 {
        match self.grant.load(Ordering::Acquire) {
            UNBOUNDED => timing.probes,
            grant if (grant >> 32) as u32 == epoch => timing.probes.min(grant as u32),
            _ => 0,
        }
    }

    /// Whether the grant still admits the probe just taken after `taken`
    /// others, read again after the swap that took it: a replica giving its
    /// slots back to the fleet withdraws the grant, then looks for probes
    /// taken (see [`withdraw_probes`](Self::withdraw_probes)), and the
    /// fences make sure that one of the two sees the other.
    #[inline]
    fn still_granted(&self, timing: &Timing, epoch: u32, taken: u32) -> bool {
        if self.grant.load(Ordering::Acquire) == UNBOUNDED {
            return true;
        }
        fence(Ordering::SeqCst);
        taken < self.admits(timing, epoch)
    }

    /// The probe successes that close the HALF_OPEN state of `epoch`: as
    /// many as it was granted (at least one), or the settings' count for
    /// probes admitted without a grant (while unbounded).
    fn needs(&self, timing: &Timing, epoch: u32) -> u32 {
        match self.grant.load(Ordering::Acquire) {
            grant if grant != UNBOUNDED && (grant >> 32) as u32 == epoch => {
                timing.probes.min(grant as u32).max(1)
            }
            _ => timing.probes,
        }
    }

    /// Swaps the word for what `change` makes of it, for as long as it is
    /// still in `epoch` (a late caller changes nothing) and `change` wants a
    /// change; returns the word replaced and its replacement.
    #[inline]
    fn update(
        &self,
        epoch: u32,
        mut change: impl FnMut(Word) -> Option<Word>,
    ) -> Option<(Word, Word)> {
        let mut word = self.load();
        while word.epoch() == epoch {
            let next = change(word)?;
            match self.swap(word, next) {
                Ok(()) => return Some((word, next)),
                Err(changed) => word = changed,
            }
        }
        None
    }

    /// Moves to `target` from any phase: CLOSED (a reset), FORCED_OPEN,
    /// DISABLED or METRICS_ONLY. CLOSED and METRICS_ONLY start a fresh window,
    /// cleared by `prepare` first. Asking for the manual state already in
    /// force changes nothing.
    pub(crate) fn force(&self, target: Phase, prepare: impl Fn(u8)) -> Transition {
        let mut word = self.load();
        loop {
            let manual = matches!(
                target,
                Phase::ForcedOpen | Phase::Disabled | Phase::MetricsOnly
            );
            if manual && word.phase() == target {
                return (target, target);
            }
            let next = match target {
                Phase::Closed { .. } | Phase::MetricsOnly => {
                    let next = word.next_with_fresh_window(target);
                    prepare(next.window());
                    next
                }
                _ => word.next(target),
            };
            match self.swap(word, next) {
                Ok(()) => return (word.phase(), target),
                Err(changed) => word = changed,
            }
        }
    }

    /// Opens the circuit from `word` for the recovery timeout, grown by
    /// `recovery_backoff` for each probe round that failed in a row.
    fn open(
        &self,
        timing: &Timing,
        word: Word,
        now: u64,
        probe_failed: bool,
    ) -> Option<Transition> {
        let rounds = if probe_failed {
            self.failed_rounds(word) + 1
        } else {
            0
        };
        self.open_until(word, rounds, now.saturating_add(open_for(timing, rounds)))
    }

    /// Opens the circuit from `word` until `until`, `rounds` probe rounds
    /// having failed in a row.
    fn open_until(&self, word: Word, rounds: u32, until: u64) -> Option<Transition> {
        let open = word.next(Phase::Open);
        self.swap(word, open).ok()?;
        self.set_due(open, rounds, until);
        Some((word.phase(), Phase::Open))
    }

    /// The probe rounds that failed in a row up to `word`: kept in the deadline
    /// of its OPEN or HALF_OPEN state, or of the OPEN state just before a
    /// HALF_OPEN one whose deadline is not written yet.
    fn failed_rounds(&self, word: Word) -> u32 {
        let high = self.deadline_high.load(Ordering::Acquire);
        let own = word.epoch();
        if Deadline::tag(high) == own || Deadline::tag(high) == own.wrapping_sub(1) {
            Deadline::rounds(high)
        } else {
            0
        }
    }

    /// When the timed phase of `word` ends, in nanoseconds, or `None` until the
    /// thread that entered it has written it.
    #[inline]
    fn due(&self, word: Word) -> Option<u64> {
        let deadline = Deadline {
            high: self.deadline_high.load(Ordering::Acquire),
            low: self.deadline_low.load(Ordering::Acquire),
        };
        let own = word.epoch();
        (Deadline::tag(deadline.high) == own && Deadline::tag(deadline.low) == own)
            .then(|| deadline.nanos())
    }

    /// Writes the deadline of `word`'s state, unless a later state has written
    /// its own already: the thread that made a transition writes after its
    /// swap, and may be overtaken by the next transition.
    fn set_due(&self, word: Word, rounds: u32, nanos: u64) {
        let deadline = Deadline::new(word, rounds, nanos);
        // The low word first: a reader that sees the high one can then
        // find both (until a later state overwrites them, which it detects).
        Self::write_unless_overtaken(&self.deadline_low, deadline.low);
        Self::write_unless_overtaken(&self.deadline_high, deadline.high);
    }

    fn write_unless_overtaken(cell: &AtomicU64, value: u64) {
        let mut current = cell.load(Ordering::Acquire);
        loop {
            let ahead = Deadline::tag(current).wrapping_sub(Deadline::tag(value));
            if ahead != 0 && ahead < 1 << 31 {
                return;
            }
            match cell.compare_exchange(current, value, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(changed) => current = changed,
            }
        }
    }

    #[inline]
    fn swap(&self, from: Word, to: Word) -> Result<(), Word> {
        self.word
            .compare_exchange(from.0, to.0, Ordering::AcqRel, Ordering::Acquire)
            .map(drop)
            .map_err(Word)
    }
}

// What a fleet's syncer does to the machine: used with the Redis store
// (feature `redis`) and by the loom models only.
#[allow(dead_code)]
impl Machine {
    /// Opens a CLOSED, HALF_OPEN or OPEN circuit of `epoch` until `until`:
    /// the deadline the fleet's OPEN gives. From HALF_OPEN it counts as a
    /// failed probe round, which the next open time of this breaker's own
    /// grows by.
    pub(crate) fn open_until_deadline(&self, epoch: u32, until: u64) -> Option<Transition> {
        let mut word = self.load();
        while word.epoch() == epoch {
            let rounds = match word.phase() {
                Phase::Closed { .. } => 0,
                Phase::Open => self.failed_rounds(word),
                Phase::HalfOpen { .. } => self.failed_rounds(word) + 1,
                _ => return None,
            };
            if let Some(transition) = self.open_until(word, rounds, until) {
                return Some(transition);
            }
            word = self.load();
        }
        None
    }

    /// Closes a HALF_OPEN circuit of `epoch` whose fleet's probes succeeded,
    /// after `prepare` has cleared the window it will record into.
    pub(crate) fn close_probing(&self, epoch: u32, prepare: impl Fn(u8)) -> Option<Transition> {
        let (from, to) = self.update(epoch, |word| match word.phase() {
            Phase::HalfOpen { .. } => {
                let closed = word.next_with_fresh_window(Phase::Closed { failures: 0 });
                prepare(closed.window());
                Some(closed)
            }
            _ => None,
        })?;
        Some((from.phase(), to.phase()))
    }

    /// Bounds the probes by grants: until [`grant_probes`](Self::grant_probes)
    /// names a HALF_OPEN state, it admits none.
    pub(crate) fn bound_probes(&self) {
        // Epoch 0 is the first CLOSED state, never a HALF_OPEN one
        // (short of 2^32 transitions).
        self.grant.store(0, Ordering::Release);
    }

    /// Lets the settings alone bound the probes again.
    pub(crate) fn unbound_probes(&self) {
        self.grant.store(UNBOUNDED, Ordering::Release);
    }

    /// Grants the HALF_OPEN state of `epoch` `probes` probes, if the probes
    /// are bounded by grants.
    pub(crate) fn grant_probes(&self, epoch: u32, probes: u32) {
        let grant = u64::from(epoch) << 32 | u64::from(probes);
        let mut current = self.grant.load(Ordering::Acquire);
        while current != UNBOUNDED {
            match self
                .grant
                .compare_exchange(current, grant, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(changed) => current = changed,
            }
        }
    }

    /// Withdraws the probes granted to the HALF_OPEN state of `epoch`, so
    /// that the replica can give their slots back to the fleet: `true`
    /// unless a probe was taken meanwhile, whose slot must stay held.
    pub(crate) fn withdraw_probes(&self, epoch: u32) -> bool {
        self.grant_probes(epoch, 0);
        fence(Ordering::SeqCst);
        let word = self.load();
        match word.phase() {
            Phase::HalfOpen {
                in_flight,
                successes,
            } if word.epoch() == epoch => in_flight + successes == 0,
            _ => true,
        }
    }

    /// Whether the probes are bounded by grants.
    pub(crate) fn probes_bounded(&self) -> bool {
        self.grant.load(Ordering::Acquire) != UNBOUNDED
    }
}

/// How long the circuit stays open after `failed_rounds` probe rounds failed in a row.
fn open_for(timing: &Timing, failed_rounds: u32) -> u64 {
    let Timing {
        recovery,
        recovery_backoff,
        max_recovery,
        ..
    } = *timing;
    if failed_rounds == 0 || recovery_backoff == 1.0 {
        return recovery.min(max_recovery);
    }
    let grown =
        recovery as f64 * recovery_backoff.powi(i32::try_from(failed_rounds).unwrap_or(i32::MAX));
    if grown >= max_recovery as f64 {
        max_recovery
    } else {
        grown as u64
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn timing(probes: u32) -> Timing {
        Timing {
            failure_threshold: 1,
            probes,
            recovery: 0,
            recovery_backoff: 1.0,
            max_recovery: u64::MAX,
            half_open_wait: None,
        }
    }

    fn at(nanos: u64) -> Now<impl Fn() -> u64> {
        Now::new(move || nanos)
    }

    /// A machine opened by a failure and due to turn half-open at once.
    fn opened(machine: &Machine, timing: &Timing) -> u32 {
        machine.closed_failure(timing, machine.load().epoch(), &mut at(0));
        machine.load().epoch() + 1
    }

    fn probes(machine: &Machine, timing: &Timing) -> Vec<Pass> {
        std::iter::from_fn(|| machine.acquire(timing, &mut at(0), &mut |_| {}).ok())
            .take(10)
            .collect()
    }

    #[test]
    fn a_deadline_written_after_tens_of_thousands_of_later_states_replaces_none() {
        // The writer of the first OPEN state's deadline is delayed while the
        // circuit cycles OPEN -> HALF_OPEN -> OPEN 20,000 times, as a thread
        // descheduled for 50 ms can be under a 1 µs recovery.
        let (machine, timing) = (Machine::new(), timing(1));
        opened(&machine, &timing);
        let first_open = machine.load();
        for _ in 0..20_000 {
            let Ok(Pass::Probe { epoch }) = machine.acquire(&timing, &mut at(0), &mut |_| {})
            else {
                panic!("a due OPEN circuit admits a probe");
            };
            machine.probe_failure(&timing, epoch, &mut at(0));
        }
        assert_eq!(machine.load().epoch() - first_open.epoch(), 40_000);
        machine.set_due(first_open, 0, 7);
        assert_ne!(
            machine.current(&timing, &mut at(0), &mut |_| {}).phase(),
            Phase::Open,
            "the current OPEN state lost its deadline to one long ended"
        );
    }

    #[test]
    fn deadlines_keep_every_nanosecond_and_later_ones_are_never() {
        let word = Word::new(7, 0, Phase::Open);
        for nanos in [0, 1, u64::from(u32::MAX), 1 << 40, Deadline::MAX_NANOS - 1] {
            assert_eq!(Deadline::new(word, 5, nanos).nanos(), nanos);
        }
        assert_eq!(Deadline::new(word, 5, u64::MAX).nanos(), NEVER);
        assert_eq!(Deadline::rounds(Deadline::new(word, 70, 3).high), 63);
        assert_eq!(Deadline::tag(Deadline::new(word, 1, 3).low), 7);
    }

    #[test]
    fn bounded_probes_need_a_grant_for_their_half_open_state() {
        let (machine, timing) = (Machine::new(), timing(3));
        machine.bound_probes();
        let half_open = opened(&machine, &timing);
        assert!(probes(&machine, &timing).is_empty());
        machine.grant_probes(half_open - 1, 3);
        assert!(
            probes(&machine, &timing).is_empty(),
            "a grant for another state"
        );
        machine.grant_probes(half_open, 2);
        assert_eq!(probes(&machine, &timing).len(), 2);
        // As many successes as granted close the circuit.
        assert!(machine.probe_success(&timing, half_open, |_| {}).is_none());
        assert!(machine.probe_success(&timing, half_open, |_| {}).is_some());
        assert_eq!(machine.load().phase(), Phase::Closed { failures: 0 });
    }

    #[test]
    fn unbounded_probes_are_the_settings_and_a_grant_changes_nothing() {
        let (machine, timing) = (Machine::new(), timing(3));
        let half_open = opened(&machine, &timing);
        machine.grant_probes(half_open, 1);
        assert_eq!(probes(&machine, &timing).len(), 3);
        machine.bound_probes();
        assert!(
            probes(&machine, &timing).is_empty(),
            "bounded, the grant made while unbounded is no more"
        );
        assert!(machine.probes_bounded());
        machine.unbound_probes();
        assert!(!machine.probes_bounded());
    }

    #[test]
    fn the_fleets_open_lasts_until_its_deadline_and_its_close_starts_afresh() {
        let (machine, timing) = (Machine::new(), timing(1));
        let closed = machine.load();
        let (from, to) = machine
            .open_until_deadline(closed.epoch(), 5_000)
            .expect("a CLOSED circuit opens");
        assert_eq!((from, to), (closed.phase(), Phase::Open));
        assert_eq!(machine.open_time_left(&mut at(1_000)), Some(4_000));
        assert!(
            machine.open_until_deadline(closed.epoch(), 9_000).is_none(),
            "a late call for an ended state changes nothing"
        );
        let open = machine.load();
        assert!(machine.open_until_deadline(open.epoch(), 9_000).is_some());
        assert_eq!(machine.open_time_left(&mut at(1_000)), Some(8_000));
        machine.current(&timing, &mut at(9_000), &mut |_| {});
        let half_open = machine.load();
        assert!(matches!(half_open.phase(), Phase::HalfOpen { .. }));
        let cleared = std::cell::Cell::new(None);
        machine.close_probing(half_open.epoch(), |window| cleared.set(Some(window)));
        let closed_again = machine.load();
        assert_eq!(closed_again.phase(), Phase::Closed { failures: 0 });
        assert_eq!(cleared.get(), Some(closed_again.window()));
        assert_ne!(closed_again.window(), half_open.window());
    }
}
