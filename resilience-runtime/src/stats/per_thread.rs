//! A counter for success paths, where even an uncontended `lock xadd` (about
//! 5 ns) would be most of what a policy costs: each thread adds to a slot of
//! its own with a plain load and store, and a read sums every thread's slot.
//!
//! Every counter has an index into a per-thread table of pages, allocated on
//! a thread's first count in that page. A thread's table is listed in
//! `THREADS` while the thread lives; when the thread ends, its counts are
//! folded into `RETIRED` and its pages freed, so short-lived threads leave
//! nothing behind. Indices of dropped counters are reused, their slots zeroed
//! first. Beyond `PAGES * PAGE` live counters, a counter falls back to one
//! shared atomic.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

const PAGE: usize = 64;
const PAGES: usize = 256;

type Page = [AtomicU64; PAGE];

/// One thread's slots (or, as `RETIRED`, the sums of every thread that ended).
struct Table {
    pages: [AtomicPtr<Page>; PAGES],
}

impl Table {
    const fn new() -> Self {
        Table {
            pages: [const { AtomicPtr::new(ptr::null_mut()) }; PAGES],
        }
    }

    fn slot(&self, index: usize) -> Option<&AtomicU64> {
        let page = self.pages[index / PAGE].load(Ordering::Acquire);
        // SAFETY: a page, once published, lives until its table is dropped,
        // which happens under `REGISTRY`'s lock with the table unlisted, or
        // on the owning thread, which is the one calling.
        (!page.is_null()).then(|| unsafe { &(*page)[index % PAGE] })
    }

    fn slot_or_new(&self, index: usize) -> &AtomicU64 {
        let cell = &self.pages[index / PAGE];
        if cell.load(Ordering::Acquire).is_null() {
            let page = Box::into_raw(Box::new([const { AtomicU64::new(0) }; PAGE]));
            // Only the owner (or the registry, under its lock) installs pages.
            cell.store(page, Ordering::Release);
        }
        self.slot(index).expect("the page was just installed")
    }

    fn free_pages(&self) {
        for cell in &self.pages {
            let page = cell.swap(ptr::null_mut(), Ordering::AcqRel);
            if !page.is_null() {
                // SAFETY: made by `Box::into_raw` in `slot_or_new`; unlisted
                // and swapped out, so no one else reaches it.
                drop(unsafe { Box::from_raw(page) });
            }
        }
    }
}

struct Registry {
    /// The tables of the threads alive now.
    threads: Vec<&'static Table>,
    /// Indices of dropped counters, free for reuse.
    free: Vec<usize>,
    next: usize,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    threads: Vec::new(),
    free: Vec::new(),
    next: 0,
});

/// The counts of threads that have ended.
static RETIRED: Table = Table::new();

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A thread's table, listed on its first count and folded into `RETIRED`
/// when the thread ends.
struct Local {
    table: Table,
    listed: Cell<bool>,
}

impl Drop for Local {
    fn drop(&mut self) {
        if !self.listed.get() {
            return;
        }
        let mut registry = registry();
        let me: *const Table = &self.table;
        registry.threads.retain(|table| !ptr::eq(*table, me));
        for (page_index, cell) in self.table.pages.iter().enumerate() {
            let page = cell.load(Ordering::Acquire);
            if page.is_null() {
                continue;
            }
            // SAFETY: this thread's own page, not yet freed.
            for (slot, count) in unsafe { &*page }.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    RETIRED
                        .slot_or_new(page_index * PAGE + slot)
                        .fetch_add(count, Ordering::Relaxed);
                }
            }
        }
        self.table.free_pages();
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            table: Table::new(),
            listed: Cell::new(false),
        }
    };
}

/// A count of events, added to on the calling thread's own slot.
#[derive(Debug)]
pub(crate) struct PerThreadCounter {
    /// `usize::MAX` once the tables are full: counted in `overflow` instead.
    index: usize,
    overflow: AtomicU64,
}

impl PerThreadCounter {
    pub(crate) fn new() -> Self {
        let mut registry = registry();
        let index = match registry.free.pop() {
            Some(index) => index,
            None if registry.next < PAGES * PAGE => {
                registry.next += 1;
                registry.next - 1
            }
            None => usize::MAX,
        };
        PerThreadCounter {
            index,
            overflow: AtomicU64::new(0),
        }
    }

    /// Adds one: a plain load and store on this thread's slot, no lock prefix.
    #[inline]
    pub(crate) fn add(&self) {
        let counted = LOCAL.try_with(|local| {
            let Some(slot) = local.table.slot(self.index) else {
                return false;
            };
            // Only this thread writes its slot, so the sum cannot be lost.
            slot.store(slot.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            true
        });
        if counted != Ok(true) {
            self.add_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn add_slow(&self) {
        if self.index == usize::MAX {
            self.overflow.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let added = LOCAL.try_with(|local| {
            let slot = {
                // Listed before the first count, so a read never misses it.
                let mut registry = registry();
                if !local.listed.replace(true) {
                    // SAFETY: the table lives as long as the thread, and is
                    // unlisted by `Local::drop` before it goes away.
                    let table: &'static Table = unsafe { &*ptr::from_ref(&local.table) };
                    registry.threads.push(table);
                }
                local.table.slot_or_new(self.index)
            };
            slot.store(slot.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        });
        // A count made while this thread is being torn down.
        if added.is_err() {
            self.overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The sum over every thread, alive or ended.
    pub(crate) fn get(&self) -> u64 {
        let mut sum = self.overflow.load(Ordering::Relaxed);
        if self.index == usize::MAX {
            return sum;
        }
        let registry = registry();
        for table in registry.threads.iter().copied().chain([&RETIRED]) {
            if let Some(slot) = table.slot(self.index) {
                sum += slot.load(Ordering::Relaxed);
            }
        }
        sum
    }
}

impl Default for PerThreadCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PerThreadCounter {
    fn drop(&mut self) {
        if self.index == usize::MAX {
            return;
        }
        let mut registry = registry();
        // Zeroed for the next owner: no thread writes a dropped counter's slot.
        for table in registry.threads.iter().copied().chain([&RETIRED]) {
            if let Some(slot) = table.slot(self.index) {
                slot.store(0, Ordering::Relaxed);
            }
        }
        registry.free.push(self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_every_thread_including_those_that_ended() {
        let counter = PerThreadCounter::new();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..10_000 {
                        counter.add();
                    }
                });
            }
        });
        // Every thread has ended and folded its count.
        assert_eq!(counter.get(), 80_000);
        counter.add();
        assert_eq!(counter.get(), 80_001);
    }

    #[test]
    fn reads_while_threads_count_never_go_back() {
        let counter = PerThreadCounter::new();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let writers: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        for _ in 0..50_000 {
                            counter.add();
                        }
                    })
                })
                .collect();
            scope.spawn(|| {
                let mut last = 0;
                while !done.load(Ordering::Relaxed) {
                    let now = counter.get();
                    assert!(now >= last, "went back from {last} to {now}");
                    assert!(now <= 150_000);
                    last = now;
                }
            });
            for writer in writers {
                writer.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
        });
        assert_eq!(counter.get(), 150_000);
    }

    #[test]
    fn a_reused_index_starts_from_zero() {
        let first = PerThreadCounter::new();
        first.add();
        first.add();
        let index = first.index;
        drop(first);
        // Other tests make counters at the same time, so take indices until
        // the freed one comes back.
        let mut taken = Vec::new();
        let reused = loop {
            let counter = PerThreadCounter::new();
            if counter.index == index {
                break counter;
            }
            taken.push(counter);
        };
        assert_eq!(reused.get(), 0);
        reused.add();
        assert_eq!(reused.get(), 1);
    }
}
