use std::sync::atomic::{AtomicU64, Ordering};

/// A relaxed event counter on a cache line of its own, so that counting
/// successes on one core does not slow the state reads of another.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub(crate) fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

mod per_thread;

pub(crate) use per_thread::PerThreadCounter;
