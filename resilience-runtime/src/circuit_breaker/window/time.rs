use super::{Outcome, Tally, Totals};
use crate::sync::atomic::{AtomicU64, Ordering};

/// Each bucket is one word: the low 16 bits of its period's number, then the
/// calls, failures and slow calls of that period, 16 bits each.
const STAMP: u64 = 0xFFFF;
const COUNT: u64 = 0xFFFF;
const CALL: u64 = 1 << 16;
const FAILURE: u64 = 1 << 32;
const SLOW: u64 = 1 << 48;
/// Buckets of about 100 ms, from 16 to 1024 of them.
const BUCKET_NANOS: u64 = 100_000_000;
const MIN_BUCKETS: u64 = 16;
const MAX_BUCKETS: u64 = 1024;
/// After this many idle periods a stamp can no longer tell old from new.
const WIPE_AFTER: u64 = 0x4000;

/// The outcomes of the calls of the last `duration`, in buckets.
///
/// A record adds to its period's bucket (claiming the bucket from an older
/// period with one compare-and-swap) and to running totals; moving to a new
/// period expires the buckets that fell out of the window by subtracting them
/// from the totals. Every bucket change is one atomic update of one word, so
/// each call is counted once and expired once. A bucket holds at most 65 535
/// calls (a rate of 655 000 calls per second with 100 ms buckets); beyond
/// that, calls are left out of the window rather than miscounted.
pub(crate) struct TimeWindow {
    buckets: Box<[AtomicU64]>,
    width: u64,
    /// The latest period seen, plus one; zero before the first.
    head: AtomicU64,
    totals: Totals,
}

impl TimeWindow {
    pub(crate) fn new(duration_nanos: u64) -> Self {
        let count = (duration_nanos / BUCKET_NANOS).clamp(MIN_BUCKETS, MAX_BUCKETS);
        TimeWindow {
            buckets: (0..count).map(|_| AtomicU64::new(0)).collect(),
            width: duration_nanos.div_ceil(count).max(1),
            head: AtomicU64::new(0),
            totals: Totals::new(),
        }
    }

    #[inline]
    pub(crate) fn record(&self, outcome: Outcome, now: u64) -> Tally {
        let period = now / self.width;
        self.advance(period);
        let increment =
            CALL | if outcome.failed { FAILURE } else { 0 } | if outcome.slow { SLOW } else { 0 };
        let bucket = self.bucket(period);
        let mut word = bucket.load(Ordering::Acquire);
        loop {
            let stamp = word & STAMP;
            let next = if stamp == period & STAMP {
                if (word >> 16) & COUNT == COUNT {
                    break;
                }
                word + increment
            } else if is_older(stamp, period) || word & !STAMP == 0 {
                // An empty bucket is free whatever its stamp: a fresh window's
                // buckets are stamped 0, which reads as newer half the time.
                (period & STAMP) | increment
            } else {
                // A newer period owns the bucket: this call is already out of the window.
                break;
            };
            match bucket.compare_exchange(word, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let dropped = if next & STAMP == word & STAMP {
                        0
                    } else {
                        word
                    };
                    self.add(increment, 1);
                    self.add(dropped, -1);
                    break;
                }
                Err(changed) => word = changed,
            }
        }
        self.totals()
    }

    pub(crate) fn tally(&self, now: u64) -> Tally {
        self.advance(now / self.width);
        self.totals()
    }

    /// A window of `duration_nanos` holding, at `now`, the buckets of this
    /// one whose calls fall within it (each counted in the bucket its period
    /// starts in). Outcomes recorded here meanwhile may be left out.
    pub(crate) fn resized(&self, duration_nanos: u64, now: u64) -> TimeWindow {
        let resized = TimeWindow::new(duration_nanos);
        let latest = now / resized.width;
        let count = resized.buckets.len() as u64;
        self.advance(now / self.width);
        let head = self.head.load(Ordering::Acquire);
        for period in head.saturating_sub(self.buckets.len() as u64)..head {
            let word = self.bucket(period).load(Ordering::Acquire);
            let target = period.saturating_mul(self.width) / resized.width;
            if word & STAMP == period & STAMP && word & !STAMP != 0 && target + count > latest {
                resized.absorb(target.min(latest), word & !STAMP);
            }
        }
        resized.advance(latest);
        resized
    }

    /// Adds the counts of a bucket word to the bucket of `period`, each
    /// saturating; only while no other thread can see this window, and for
    /// periods in increasing order, all within one window's length.
    fn absorb(&self, period: u64, counts: u64) {
        self.advance(period);
        let bucket = self.bucket(period);
        let word = bucket.load(Ordering::Relaxed);
        // Any other stamp is an empty bucket: the periods absorbed are too
        // close together for one to have filled it.
        let held = if word & STAMP == period & STAMP {
            word
        } else {
            0
        };
        let mut merged = period & STAMP;
        for shift in [16, 32, 48] {
            let sum = ((held >> shift) & COUNT) + ((counts >> shift) & COUNT);
            merged |= sum.min(COUNT) << shift;
        }
        bucket.store(merged, Ordering::Relaxed);
        // Each count only grew, so the difference of the words borrows nowhere.
        self.add((merged & !STAMP) - (held & !STAMP), 1);
    }

    pub(crate) fn reset(&self) {
        for bucket in self.buckets.iter() {
            bucket.store(0, Ordering::Relaxed);
        }
        self.head.store(0, Ordering::Relaxed);
        self.totals.reset();
    }

    /// Expires the buckets that fall out of the window when `period` becomes
    /// the latest; the thread that moves `head` does the expiring.
    #[inline]
    fn advance(&self, period: u64) {
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            if head > period {
                return;
            }
            match self
                .head
                .compare_exchange(head, period + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(changed) => head = changed,
            }
        }
        let count = self.buckets.len() as u64;
        let idle = period + 1 - head;
        let wipe = head != 0 && idle > WIPE_AFTER;
        let first = if head == 0 || idle >= count {
            (period + 1).saturating_sub(count)
        } else {
            head
        };
        for stale in first..=period {
            self.expire(stale, wipe);
        }
    }

    /// Readies the bucket of `period`, dropping what an older period left in it
    /// (whatever its stamp, when `wipe`: after a long idle stamps may alias).
    fn expire(&self, period: u64, wipe: bool) {
        let bucket = self.bucket(period);
        let mut word = bucket.load(Ordering::Acquire);
        loop {
            let stamp = word & STAMP;
            if !wipe && !is_older(stamp, period) {
                return;
            }
            match bucket.compare_exchange(word, period & STAMP, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.add(word, -1);
                    return;
                }
                Err(changed) => word = changed,
            }
        }
    }

    #[inline]
    fn bucket(&self, period: u64) -> &AtomicU64 {
        &self.buckets[(period % self.buckets.len() as u64) as usize]
    }

    /// Adds (or with `sign` -1, removes) the counts of a bucket word to the totals.
    #[inline]
    fn add(&self, word: u64, sign: i64) {
        let count = |shift: u32| sign * ((word >> shift) & COUNT) as i64;
        self.totals.add(count(16), count(32), count(48));
    }

    #[inline]
    fn totals(&self) -> Tally {
        self.totals.read(u32::MAX)
    }
}

/// Whether a bucket stamped `stamp` belongs to a period before `period`.
fn is_older(stamp: u64, period: u64) -> bool {
    let age = period.wrapping_sub(stamp) & STAMP;
    age != 0 && age < 0x8000
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;
    const FAIL: Outcome = Outcome {
        failed: true,
        slow: false,
    };
    const PASS: Outcome = Outcome {
        failed: false,
        slow: false,
    };

    fn tally(calls: u32, failures: u32) -> Tally {
        Tally {
            calls,
            failures,
            slow: 0,
        }
    }

    #[test]
    fn calls_leave_the_window_once_it_has_passed_them() {
        let window = TimeWindow::new(10 * SECOND);
        window.record(FAIL, 0);
        window.record(PASS, 4 * SECOND);
        assert_eq!(window.tally(10 * SECOND - 1), tally(2, 1));
        assert_eq!(
            window.tally(10 * SECOND),
            tally(1, 0),
            "the failure at 0 s is 10 s old"
        );
        assert_eq!(window.tally(14 * SECOND), tally(0, 0));
    }

    #[test]
    fn a_long_idle_expires_everything_even_where_stamps_alias() {
        let window = TimeWindow::new(SECOND);
        window.record(FAIL, 0);
        let width = window.width;
        // 0x10000 periods later the stamp of the first bucket comes round again.
        assert_eq!(window.record(PASS, 0x10000 * width), tally(1, 0));
    }

    #[test]
    fn a_full_bucket_leaves_calls_out_instead_of_overflowing() {
        let window = TimeWindow::new(SECOND);
        for _ in 0..COUNT + 10 {
            window.record(FAIL, 0);
        }
        assert_eq!(window.tally(0), tally(COUNT as u32, COUNT as u32));
    }

    #[test]
    fn a_window_first_used_late_records_its_calls() {
        let window = TimeWindow::new(SECOND);
        let late = 0x8000 * window.width;
        assert_eq!(window.record(FAIL, late), tally(1, 1));
        window.reset();
        assert_eq!(window.record(PASS, late), tally(1, 0));
    }

    #[test]
    fn a_resized_window_keeps_the_calls_that_fit_in_it() {
        let window = TimeWindow::new(10 * SECOND);
        window.record(FAIL, SECOND);
        window.record(PASS, 6 * SECOND);
        window.record(FAIL, 9 * SECOND);
        let now = 9 * SECOND + 1;
        assert_eq!(window.resized(5 * SECOND, now).tally(now), tally(2, 1));
        assert_eq!(window.resized(2 * SECOND, now).tally(now), tally(1, 1));
        let grown = window.resized(60 * SECOND, now);
        assert_eq!(grown.tally(now), tally(3, 2));
        // Kept calls leave the grown window when their time comes.
        assert_eq!(grown.tally(61 * SECOND), tally(2, 1));
        assert_eq!(grown.tally(69 * SECOND), tally(0, 0));
        assert_eq!(
            TimeWindow::new(SECOND).resized(SECOND, now).tally(now),
            tally(0, 0)
        );
    }

    #[test]
    fn reset_empties_the_window() {
        let window = TimeWindow::new(SECOND);
        window.record(FAIL, 5);
        window.reset();
        assert_eq!(window.tally(5), tally(0, 0));
        assert_eq!(window.record(PASS, 5), tally(1, 0));
    }
}
