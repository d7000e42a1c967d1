use std::sync::atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering};

const EMPTY: u8 = 0;
const SUCCESS: u8 = 1;
const FAILURE: u8 = 2;

/// The outcomes of the last `size` calls, lock-free: each record claims the
/// next slot, swaps its outcome in and adjusts the running counts by the
/// difference with the outcome it replaced.
#[derive(Debug)]
pub(crate) struct CountWindow {
    slots: Box<[AtomicU8]>,
    next: AtomicUsize,
    filled: AtomicI64,
    failures: AtomicI64,
}

/// Calls in the window and how many of them failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        CountWindow {
            slots: (0..size).map(|_| AtomicU8::new(EMPTY)).collect(),
            next: AtomicUsize::new(0),
            filled: AtomicI64::new(0),
            failures: AtomicI64::new(0),
        }
    }

    pub(crate) fn record(&self, failed: bool) -> Tally {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let outcome = if failed { FAILURE } else { SUCCESS };
        let replaced = self.slots[index].swap(outcome, Ordering::AcqRel);
        if replaced == EMPTY {
            self.filled.fetch_add(1, Ordering::AcqRel);
        }
        let delta = i64::from(outcome == FAILURE) - i64::from(replaced == FAILURE);
        if delta != 0 {
            self.failures.fetch_add(delta, Ordering::AcqRel);
        }
        self.tally()
    }

    pub(crate) fn tally(&self) -> Tally {
        let size = self.slots.len() as i64;
        let clamp = |n: i64| n.clamp(0, size) as u32;
        Tally {
            calls: clamp(self.filled.load(Ordering::Acquire)),
            failures: clamp(self.failures.load(Ordering::Acquire)),
        }
    }

    pub(crate) fn reset(&self) {
        for slot in self.slots.iter() {
            slot.store(EMPTY, Ordering::Relaxed);
        }
        self.filled.store(0, Ordering::Release);
        self.failures.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_outcomes_slide_out_of_the_window() {
        let window = CountWindow::new(3);
        window.record(true);
        window.record(true);
        assert_eq!(
            window.record(false),
            Tally {
                calls: 3,
                failures: 2
            }
        );
        assert_eq!(
            window.record(false),
            Tally {
                calls: 3,
                failures: 1
            }
        );
        assert_eq!(
            window.record(false),
            Tally {
                calls: 3,
                failures: 0
            }
        );
        window.reset();
        assert_eq!(
            window.tally(),
            Tally {
                calls: 0,
                failures: 0
            }
        );
    }
}
