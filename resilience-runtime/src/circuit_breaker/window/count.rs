use super::{Outcome, Tally, Totals};
use crate::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

const RECORDED: u8 = 1;
const FAILED: u8 = 2;
const SLOW: u8 = 4;

/// The outcomes of the last `size` calls: each record claims the next slot,
/// swaps its outcome in and moves the running counts by the difference with
/// the outcome it replaced, so every record is counted exactly once.
pub(crate) struct CountWindow {
    slots: Box<[AtomicU8]>,
    next: AtomicUsize,
    totals: Totals,
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        CountWindow {
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicUsize::new(0),
            totals: Totals::new(),
        }
    }

    #[inline]
    pub(crate) fn record(&self, outcome: Outcome) -> Tally {
        self.put(
            RECORDED
                | if outcome.failed { FAILED } else { 0 }
                | if outcome.slow { SLOW } else { 0 },
        )
    }

    /// A window of `size` calls holding the most recent outcomes of this one
    /// that fit, in their order. Outcomes recorded here meanwhile may be left out.
    pub(crate) fn resized(&self, size: u32) -> CountWindow {
        let resized = CountWindow::new(size);
        let next = self.next.load(Ordering::Relaxed);
        let len = self.slots.len();
        let kept = len.min(size as usize).min(next);
        for made in next - kept..next {
            let bits = self.slots[made % len].load(Ordering::Acquire);
            if bits & RECORDED != 0 {
                resized.put(bits);
            }
        }
        resized
    }

    #[inline]
    fn put(&self, bits: u8) -> Tally {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let replaced = self.slots[index].swap(bits, Ordering::AcqRel);
        let delta = |flag: u8| i64::from(bits & flag != 0) - i64::from(replaced & flag != 0);
        self.totals.add(delta(RECORDED), delta(FAILED), delta(SLOW));
        self.tally()
    }

    #[inline]
    pub(crate) fn tally(&self) -> Tally {
        self.totals.read(self.slots.len() as u32)
    }

    pub(crate) fn reset(&self) {
        for slot in self.slots.iter() {
            slot.store(0, Ordering::Relaxed);
        }
        self.next.store(0, Ordering::Relaxed);
        self.totals.reset();
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

    #[test]
    fn a_resized_window_keeps_the_most_recent_outcomes_that_fit() {
        let window = CountWindow::new(4);
        for outcome in [FAIL, FAIL, PASS, SLOW_PASS, FAIL, PASS] {
            window.record(outcome);
        }
        let tally = |calls, failures, slow| Tally {
            calls,
            failures,
            slow,
        };
        // The window holds PASS, SLOW_PASS, FAIL, PASS, oldest first.
        assert_eq!(window.resized(2).tally(), tally(2, 1, 0));
        assert_eq!(window.resized(3).tally(), tally(3, 1, 1));
        let grown = window.resized(8);
        assert_eq!(grown.tally(), tally(4, 1, 1));
        // The kept outcomes slide out oldest first once it is full.
        for _ in 0..5 {
            grown.record(PASS);
        }
        assert_eq!(grown.tally(), tally(8, 1, 1));
        assert_eq!(grown.record(PASS), tally(8, 1, 0));
        assert_eq!(CountWindow::new(3).resized(5).tally(), Tally::default());
    }
}
