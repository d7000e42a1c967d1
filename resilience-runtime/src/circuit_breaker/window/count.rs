use super::{Outcome, Tally};
use crate::sync::atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering};

const RECORDED: u8 = 1;
const FAILED: u8 = 2;
const SLOW: u8 = 4;

/// The outcomes of the last `size` calls: each record claims the next slot,
/// swaps its outcome in and moves the running counts by the difference with
/// the outcome it replaced, so every record is counted exactly once.
pub(crate) struct CountWindow {
    slots: Box<[AtomicU8]>,
    next: AtomicUsize,
    calls: AtomicI64,
    failures: AtomicI64,
    slow: AtomicI64,
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        CountWindow {
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicUsize::new(0),
            calls: AtomicI64::new(0),
            failures: AtomicI64::new(0),
            slow: AtomicI64::new(0),
        }
    }

    pub(crate) fn record(&self, outcome: Outcome) -> Tally {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let bits = RECORDED
            | if outcome.failed { FAILED } else { 0 }
            | if outcome.slow { SLOW } else { 0 };
        let replaced = self.slots[index].swap(bits, Ordering::AcqRel);
        for (counter, flag) in [
            (&self.calls, RECORDED),
            (&self.failures, FAILED),
            (&self.slow, SLOW),
        ] {
            let delta = i64::from(bits & flag != 0) - i64::from(replaced & flag != 0);
            if delta != 0 {
                counter.fetch_add(delta, Ordering::AcqRel);
            }
        }
        self.tally()
    }

    pub(crate) fn tally(&self) -> Tally {
        // A count read between a swap and its adjustment may be one off; clamp.
        let size = self.slots.len() as i64;
        let read = |counter: &AtomicI64| counter.load(Ordering::Acquire).clamp(0, size) as u32;
        Tally {
            calls: read(&self.calls),
            failures: read(&self.failures),
            slow: read(&self.slow),
        }
    }

    pub(crate) fn reset(&self) {
        for slot in self.slots.iter() {
            slot.store(0, Ordering::Relaxed);
        }
        self.next.store(0, Ordering::Relaxed);
        for counter in [&self.calls, &self.failures, &self.slow] {
            counter.store(0, Ordering::Release);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const FAIL: Outcome = Outcome {
        failed: true,
        slow: false,
    };
    const PASS: Outcome = Outcome {
        failed: false,
        slow: false,
    };
    const SLOW_PASS: Outcome = Outcome {
        failed: false,
        slow: true,
    };

    #[test]
    fn old_outcomes_slide_out_of_the_window() {
        let window = CountWindow::new(3);
        window.record(FAIL);
        window.record(SLOW_PASS);
        assert_eq!(
            window.record(PASS),
            Tally {
                calls: 3,
                failures: 1,
                slow: 1
            }
        );
        assert_eq!(
            window.record(PASS),
            Tally {
                calls: 3,
                failures: 0,
                slow: 1
            }
        );
        assert_eq!(
            window.record(PASS),
            Tally {
                calls: 3,
                failures: 0,
                slow: 0
            }
        );
        window.reset();
        assert_eq!(window.tally(), Tally::default());
    }
}
