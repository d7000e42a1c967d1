//! Settings that can be replaced while the policy that reads them is in use.
//!
//! A policy keeps its settings, and everything it derives from them for its
//! call path, in one immutable block behind an atomic pointer. A call reads
//! the pointer once (one Acquire load, a plain `mov` on x86 and `ldar` on
//! ARM) and then reads the block like any other field: no lock, no reference
//! count written, no allocation. A reload builds a new block, publishes it
//! with one Release store, and keeps the block it replaced.
//!
//! Keeping every block until the policy is dropped is what makes the lone
//! Acquire load enough: a reader may still be inside the block it loaded
//! when a reload publishes the next one, and freeing it would need a way to
//! know when the last such reader has left (epochs, hazard pointers, or a
//! reference count written by every call), all of which cost the call path
//! more than the memory they would save. Blocks are only made by reloads
//! that change something, so a policy keeps one block per effective reload:
//! a few dozen bytes for most policies; for a circuit breaker with a window,
//! also its two windows (a byte per call of a count window, 8 bytes per
//! bucket of a time window). A service that reloads its configuration a few
//! times a day keeps a few kilobytes a year.
//!
//! The blocks are held as `Arc`s rather than `Box`es for the sake of the
//! aliasing rules alone: a `Box` asserts unique ownership of its contents
//! whenever it is moved (as the list of blocks grows), which would
//! invalidate the pointer the readers hold; an `Arc`'s contents are shared by
//! construction. No count is ever touched after a block is stored.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A block of settings `T` that is read lock-free and replaced under a lock.
// `current`, read by every call, leads.
#[repr(C)]
pub(crate) struct Live<T> {
    current: AtomicPtr<T>,
    /// Every block published, the current one last; only ever appended to.
    blocks: Mutex<Vec<Arc<T>>>,
}

impl<T> Live<T> {
    pub(crate) fn new(settings: T) -> Self {
        Self::shared(Arc::new(settings))
    }

    /// Settings in a block that other policies may hold too: the members of
    /// a keyed family share theirs, so that it stays in cache.
    pub(crate) fn shared(block: Arc<T>) -> Self {
        Live {
            current: AtomicPtr::new(Arc::as_ptr(&block).cast_mut()),
            blocks: Mutex::new(vec![block]),
        }
    }

    /// The settings in force now.
    #[inline(always)]
    pub(crate) fn get(&self) -> &T {
        let current = self.current.load(Ordering::Acquire);
        // SAFETY: `current` always points into a block of `self.blocks` (set
        // from one in `shared` and `replace`, with the Release store that
        // pairs with the Acquire load above, so the block's contents are
        // visible). Blocks are never removed, mutated or given out mutably,
        // and are dropped only with `self`, which the returned borrow cannot
        // outlive.
        unsafe { &*current }
    }

    /// The block in force now, to share.
    pub(crate) fn block(&self) -> Arc<T> {
        let blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(blocks.last().expect("a block from the start"))
    }

    /// Publishes the block `next` makes of the one in force, unless it
    /// returns `None`; reloads are serialised, so `next` sees the latest
    /// block and whatever it does besides happens in the same order as the
    /// publications. Returns whether a block was published.
    pub(crate) fn replace(&self, next: impl FnOnce(&T) -> Option<Arc<T>>) -> bool {
        let mut blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(current) = blocks.last() else {
            return false;
        };
        let Some(block) = next(current) else {
            return false;
        };
        self.current
            .store(Arc::as_ptr(&block).cast_mut(), Ordering::Release);
        blocks.push(block);
        true
    }

    /// As [`replace`](Self::replace), with a block of its own.
    pub(crate) fn update(&self, next: impl FnOnce(&T) -> Option<T>) -> bool {
        self.replace(|current| next(current).map(Arc::new))
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_keeps_its_block_across_updates() {
        let live = Live::new(String::from("first"));
        let before = live.get();
        assert!(live.update(|current| Some(format!("{current}, then second"))));
        assert!(!live.update(|_| None));
        assert_eq!(before, "first");
        assert_eq!(live.get(), "first, then second");
    }

    #[test]
    fn readers_on_other_threads_see_whole_blocks() {
        let live = Live::new([0u64; 8]);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for n in 1..=1000 {
                    live.update(|_| Some([n; 8]));
                }
            });
            scope.spawn(|| {
                let mut last = 0;
                while last < 1000 {
                    let block = *live.get();
                    assert!(block.iter().all(|&n| n == block[0]), "a torn block");
                    assert!(block[0] >= last, "went back in time");
                    last = block[0];
                }
            });
        });
    }
}
