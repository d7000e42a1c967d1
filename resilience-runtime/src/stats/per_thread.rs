//! A counter for success paths, where even an uncontended `lock xadd` costs
//! several times a plain add and a policy's whole path is a few nanoseconds:
//! each thread adds to a slot of its own with a plain load and store, and a
//! read sums every thread's slot.
//!
//! Every counter has an index into a per-thread table of pages, allocated on
//! a thread's first count in that page. A thread's table is listed in the
//! registry while the thread lives; when the thread ends, its counts are
//! folded into `RETIRED` and its pages freed, so short-lived threads leave
//! nothing behind. Indices of dropped counters are reused, their slots zeroed
//! first. Beyond `(PAGES - 1) * PAGE` live counters, a counter falls back to
//! one shared atomic: it gets the last page, which no table ever allocates.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

const PAGE: usize = 64;
// A `u8` indexes the pages with no bounds check.
const PAGES: usize = 256;
const OVERFLOW: usize = (PAGES - 1) * PAGE;

type Page = [AtomicU64; PAGE];

/// Where a counter's slot is in every table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Index {
    page: u8,
    slot: u8,
}

impl Index {
    fn new(index: usize) -> Self {
        Index {
            page: u8::try_from(index / PAGE).expect("below `PAGES`"),
            slot: (index % PAGE) as u8,
        }
    }

    fn get(self) -> usize {
        usize::from(self.page) * PAGE + usize::from(self.slot)
    }

    fn is_overflow(self) -> bool {
        self.get() >= OVERFLOW
    }
}

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

    #[inline]
    fn slot(&self, index: Index) -> Option<&AtomicU64> {
        let page = self.pages[usize::from(index.page)].load(Ordering::Acquire);
        // SAFETY: a page, once published, lives until its table is dropped,
        // which happens under `REGISTRY`'s lock with the table unlisted, or
        // on the owning thread, which is the one calling.
        (!page.is_null()).then(|| unsafe { &(*page)[usize::from(index.slot) % PAGE] })
    }

    fn slot_or_new(&self, index: Index) -> &AtomicU64 {
        let cell = &self.pages[usize::from(index.page)];
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

thread_local! {
    // Without a destructor, so that reaching it is an offset from the thread
    // pointer, with no check of its state.
    static TABLE: Table = const { Table::new() };
    // Touched on a thread's first count: it lists the table, and when the
    // thread ends, folds it into `RETIRED` and unlists it.
    static LISTED: Listed = const { Listed };
}

struct Listed;

impl Listed {
    /// Lists this thread's table, once.
    fn touch(&self) {}
}

impl Drop for Listed {
    fn drop(&mut self) {
        // `TABLE` has no destructor, so it is still there.
        TABLE.with(|table| {
            let mut registry = registry();
            registry.threads.retain(|listed| !ptr::eq(*listed, table));
            for (page_index, cell) in table.pages.iter().enumerate() {
                let page = cell.load(Ordering::Acquire);
                if page.is_null() {
                    continue;
                }
                // SAFETY: this thread's own page, not yet freed.
                for (slot, count) in unsafe { &*page }.iter().enumerate() {
                    let count = count.load(Ordering::Relaxed);
                    if count > 0 {
                        RETIRED
                            .slot_or_new(Index::new(page_index * PAGE + slot))
                            .fetch_add(count, Ordering::Relaxed);
                    }
                }
            }
            table.free_pages();
        });
    }
}

/// A count of events, added to on the calling thread's own slot.
#[derive(Debug)]
pub(crate) struct PerThreadCounter {
    /// In the last page once the others are full: counted in `overflow` instead.
    index: Index,
    overflow: AtomicU64,
}

impl PerThreadCounter {
    pub(crate) fn new() -> Self {
        let mut registry = registry();
        let index = match registry.free.pop() {
            Some(index) => index,
            None if registry.next < OVERFLOW => {
                registry.next += 1;
                registry.next - 1
            }
            None => OVERFLOW,
        };
        PerThreadCounter {
            index: Index::new(index),
            overflow: AtomicU64::new(0),
        }
    }

    /// Adds one: a plain load and store on this thread's slot, no lock prefix;
    /// a counter past the last page adds to its shared atomic instead.
    #[inline]
    pub(crate) fn add(&self) {
        // First, with no thread-local lookup: most members of a large keyed
        // family are past the last page.
        if self.index.is_overflow() {
            self.overflow.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let counted = TABLE.with(|table| match table.slot(self.index) {
            Some(slot) => {
                // Only this thread writes its slot, so no count is lost.
                slot.store(slot.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                true
            }
            None => false,
        });
        if !counted {
            self.add_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn add_slow(&self) {
        // Listed before its first count, so that a read never misses one;
        // and a thread being torn down counts in `overflow`.
        if LISTED.try_with(Listed::touch).is_err() {
            self.overflow.fetch_add(1, Ordering::Relaxed);
            return;
        }
        TABLE.with(|table| {
            let slot = {
                let mut registry = registry();
                if !registry
                    .threads
                    .iter()
                    .any(|listed| ptr::eq(*listed, table))
                {
                    // SAFETY: the table lives as long as the thread, and
                    // `Listed::drop` unlists it before the thread ends.
                    let table: &'static Table = unsafe { &*ptr::from_ref(table) };
                    registry.threads.push(table);
                }
                table.slot_or_new(self.index)
            };
            slot.store(slot.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        });
    }

    /// The sum over every thread, alive or ended.
    pub(crate) fn get(&self) -> u64 {
        let mut sum = self.overflow.load(Ordering::Relaxed);
        if self.index.is_overflow() {
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
        if self.index.is_overflow() {
            return;
        }
        let mut registry = registry();
        // Zeroed for the next owner: no thread writes a dropped counter's slot.
        for table in registry.threads.iter().copied().chain([&RETIRED]) {
            if let Some(slot) = table.slot(self.index) {
                slot.store(0, Ordering::Relaxed);
            }
        }
        registry.free.push(self.index.get());
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
