//! The breaker's lock-free state machine: one state word, and two deadline
//! words for the current OPEN or HALF_OPEN state, which also carry the count
//! of probe rounds that failed in a row. Time comes in as nanoseconds from the
//! caller, and transitions go out to it, so that this file depends on nothing
//! but atomics and can be model-checked with loom. The settings come in with
//! each operation too: the breaker can swap them while the machine runs, and
//! each decision uses those in force when it is made.

use super::word::{Phase, Word};
use crate::sync::atomic::{AtomicU64, Ordering};

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

const NEVER: u64 = u64::MAX;

/// When a state ends, to the nanosecond (never is all ones), in two words
/// that each carry the low 16 bits of the epoch of the state they belong to:
/// the high word also holds the probe rounds that failed in a row before it
/// (6 bits) and the time's top 16 bits; the low word its other 48 bits. A
/// reader trusts the time only when both words name its state, so no lock
/// and no rounding (to whole milliseconds, as one word would need) is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadline {
    high: u64,
    low: u64,
}

impl Deadline {
    const MAX_ROUNDS: u32 = (1 << 6) - 1;
    const LOW_BITS: u32 = 48;

    fn new(word: Word, rounds: u32, nanos: u64) -> Deadline {
        let tag = u64::from(tag(word.epoch()));
        let rounds = u64::from(rounds.min(Self::MAX_ROUNDS));
        Deadline {
            high: nanos >> Self::LOW_BITS << 22 | rounds << 16 | tag,
            low: nanos << (64 - Self::LOW_BITS) >> (64 - Self::LOW_BITS) << 16 | tag,
        }
    }

    fn tag(word: u64) -> u16 {
        word as u16
    }

    fn rounds(high: u64) -> u32 {
        ((high >> 16) & u64::from(Self::MAX_ROUNDS)) as u32
    }

    fn nanos(self) -> u64 {
        (self.high >> 22) << Self::LOW_BITS | self.low >> 16
    }
}

fn tag(epoch: u32) -> u16 {
    epoch as u16
}

pub(crate) struct Machine {
    word: AtomicU64,
    deadline_high: AtomicU64,
    deadline_low: AtomicU64,
}

impl Machine {
    pub(crate) fn new() -> Self {
        Machine {
            word: AtomicU64::new(Word::new(0, 0, Phase::Closed { failures: 0 }).0),
            deadline_high: AtomicU64::new(0),
            deadline_low: AtomicU64::new(0),
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
                } if in_flight + successes < timing.probes => {
                    let taken = word.with(Phase::HalfOpen {
                        in_flight: in_flight + 1,
                        successes,
                    });
                    match self.swap(word, taken) {
                        Ok(()) => return Ok(Pass::Probe { epoch }),
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
        let (from, to) = self.update(epoch, |word| match word.phase() {
            Phase::HalfOpen { successes, .. } if successes + 1 >= timing.probes => {
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
        let open = word.next(Phase::Open);
        self.swap(word, open).ok()?;
        self.set_due(open, rounds, now.saturating_add(open_for(timing, rounds)));
        Some((word.phase(), Phase::Open))
    }

    /// The probe rounds that failed in a row up to `word`: kept in the deadline
    /// of its OPEN or HALF_OPEN state, or of the OPEN state just before a
    /// HALF_OPEN one whose deadline is not written yet.
    fn failed_rounds(&self, word: Word) -> u32 {
        let high = self.deadline_high.load(Ordering::Acquire);
        let own = tag(word.epoch());
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
        let own = tag(word.epoch());
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
            if ahead != 0 && ahead < 0x8000 {
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
