//! A family's members, in an open-addressing table made for the lookup of a
//! call: a slot holds the key (up to 23 bytes inline) beside the member's
//! pointer, so finding an existing key reads one slot and then the member.
//! A map with boxed entries (papaya, which this replaced) reads the entry in
//! between, a dependent cache miss more per call once the family outgrows
//! the cache; BENCHMARKS.md has the measurements.
//!
//! Readers take no lock and write nothing shared but a key's last use, when
//! it changes: they enter an epoch ([seize](https://docs.rs/seize)) and
//! probe. Writers take turns under the
//! family's lock, which the [`Writer`] passed to each change stands for. A
//! removed member, a long key and a table outgrown are handed to the epoch,
//! which frees them once no reader that might hold them is left.
//! How a reader reads a slot that the writer may be changing is in
//! [`slot`](super::slot).

use std::hash::{BuildHasher, Hasher, RandomState};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use seize::{Collector, Guard, LocalGuard};

use super::slot::{Read, Slot, Words, EMPTY, REMOVED};

/// A table is made at least this large.
const MIN_CAPACITY: usize = 16;

/// One array of slots, with each slot's last use beside it.
struct Slots {
    mask: usize,
    slots: Box<[Slot]>,
    /// The family's arrival count at each slot's last use, apart from the
    /// slots so that a call writes them only when it changes.
    recency: Box<[AtomicU64]>,
}

impl Slots {
    fn new(capacity: usize) -> Self {
        debug_assert!(capacity.is_power_of_two());
        Slots {
            mask: capacity - 1,
            slots: (0..capacity).map(|_| Slot::new()).collect(),
            recency: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The slots a probe for `hash` visits, in order, around the table once.
    fn probe(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        let start = hash as usize & self.mask;
        (0..self.capacity()).map(move |step| (start + step) & self.mask)
    }

    /// The first slot of `hash`'s probe that no member holds.
    fn free_slot(&self, hash: u64) -> usize {
        self.probe(hash)
            .find(|&index| matches!(self.slots[index].member(), EMPTY | REMOVED))
            .expect("a table is never full")
    }
}

/// The members of a family, by key.
pub(super) struct Table<P> {
    collector: Collector,
    hasher: RandomState,
    slots: AtomicPtr<Slots>,
    len: AtomicUsize,
    _members: PhantomData<Arc<P>>,
}

/// The right to change a [`Table`]: one per table, kept under the family's
/// lock.
pub(super) struct Writer {
    /// Slots that are not [`EMPTY`] in the current array: members and
    /// removed ones, which probes go on past.
    used: usize,
}

/// A member found by a reader, valid while the reader's epoch lasts.
pub(super) struct Found<'p, P> {
    policy: ManuallyDrop<Arc<P>>,
    recency: &'p AtomicU64,
}

impl<P> Found<'_, P> {
    /// The member, marking it used as of `arrivals`; the mark is written only
    /// when it changes, so that the calls of a busy key do not all write it.
    #[inline]
    pub(super) fn touch(&self, arrivals: u64) -> &Arc<P> {
        if self.recency.load(Ordering::Relaxed) != arrivals {
            self.recency.store(arrivals, Ordering::Relaxed);
        }
        &self.policy
    }

    /// The member, without marking it used.
    pub(super) fn policy(&self) -> &Arc<P> {
        &self.policy
    }
}

/// A reader's view of a table, for as long as its epoch lasts.
pub(super) struct Pinned<'t, P> {
    table: &'t Table<P>,
    slots: &'t Slots,
    _guard: LocalGuard<'t>,
}

impl<'t, P> Pinned<'t, P> {
    /// The member for `key`, if it has one.
    #[inline]
    pub(super) fn get(&self, key: &str) -> Option<Found<'_, P>> {
        let hash = self.table.hash(key);
        let slots = self.slots;
        let mut index = hash as usize & slots.mask;
        loop {
            match slots.slots[index].read() {
                Read::Empty => return None,
                Read::Removed => {}
                // SAFETY: read whole under this guard.
                Read::Member(member, words) if unsafe { words.holds(key, hash) } => {
                    return Some(Found {
                        // SAFETY: the table holds one count of the member,
                        // which the epoch keeps while this reader lasts;
                        // `ManuallyDrop` gives none back.
                        policy: ManuallyDrop::new(unsafe { Arc::from_raw(member as *const P) }),
                        recency: &slots.recency[index],
                    });
                }
                Read::Member(..) => {}
            }
            index = (index + 1) & slots.mask;
        }
    }

    /// Calls `f` with every member, as each slot is when it is read: a key
    /// made or dropped meanwhile may be seen or not.
    pub(super) fn each(&self, mut f: impl FnMut(Entry<'_, P>)) {
        for (index, slot) in self.slots.slots.iter().enumerate() {
            let Read::Member(member, words) = slot.read() else {
                continue;
            };
            // SAFETY: as in `get`.
            let policy = ManuallyDrop::new(unsafe { Arc::from_raw(member as *const P) });
            let recency = self.slots.recency[index].load(Ordering::Relaxed);
            // SAFETY: read whole under this guard.
            unsafe {
                words.with_key(|key| {
                    f(Entry {
                        index,
                        key,
                        recency,
                        policy: &policy,
                    })
                });
            }
        }
    }
}

/// A member as [`Pinned::each`] finds it.
pub(super) struct Entry<'w, P> {
    /// Where it is, for [`Table::remove_if`].
    pub(super) index: usize,
    pub(super) key: &'w str,
    pub(super) recency: u64,
    pub(super) policy: &'w Arc<P>,
}

impl<P> Table<P> {
    /// An empty table, and the right to change it.
    pub(super) fn new() -> (Self, Writer) {
        let table = Table {
            collector: Collector::new(),
            hasher: RandomState::new(),
            slots: AtomicPtr::new(Box::into_raw(Box::new(Slots::new(MIN_CAPACITY)))),
            len: AtomicUsize::new(0),
            _members: PhantomData,
        };
        (table, Writer { used: 0 })
    }

    /// `key`'s hash: its bytes alone, in one write, since a table's keys are
    /// all strings and never hashed as part of a larger value (`str`'s own
    /// `Hash` adds a terminator, a second write).
    #[inline]
    fn hash(&self, key: &str) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(key.as_bytes());
        hasher.finish()
    }

    /// A reader's view, until it is dropped.
    #[inline]
    pub(super) fn pin(&self) -> Pinned<'_, P> {
        let guard = self.collector.enter();
        let slots = guard.protect(&self.slots, Ordering::Acquire);
        Pinned {
            table: self,
            // SAFETY: the array is freed through the epoch only, after it
            // is replaced; the guard keeps it.
            slots: unsafe { &*slots },
            _guard: guard,
        }
    }

    /// How many keys have a member.
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// The current array, as its writer sees it, for as long as it holds
    /// the right to change it, which a rebuild takes whole.
    fn writing<'a>(&'a self, _: &'a Writer) -> &'a Slots {
        // SAFETY: only the writer replaces the array, and it is this caller.
        unsafe { &*self.slots.load(Ordering::Relaxed) }
    }

    /// Makes `policy` the member for `key`, which has none.
    pub(super) fn insert(&self, writer: &mut Writer, key: &str, policy: Arc<P>, arrivals: u64) {
        let len = self.len() + 1;
        // Linear probing stays short below half full; removed slots count,
        // since probes go on past them, and a rebuild drops them.
        if (writer.used + 1) * 2 > self.writing(writer).capacity() {
            self.rebuild(writer, (len * 2).next_power_of_two().max(MIN_CAPACITY));
        }
        let slots = self.writing(writer);
        let hash = self.hash(key);
        let index = slots.free_slot(hash);
        let mut words = Words::of(key, hash);
        if words.is_boxed() {
            words.0[0] = Box::into_raw(Box::new(Box::<str>::from(key))) as u64;
        }
        let slot = &slots.slots[index];
        let was_empty = slot.member() == EMPTY;
        slots.recency[index].store(arrivals, Ordering::Relaxed);
        slot.publish(Arc::into_raw(policy) as u64, words);
        writer.used += usize::from(was_empty);
        self.len.store(len, Ordering::Relaxed);
    }

    /// Removes the member at `index` if `remove` says so; returns whether it went.
    pub(super) fn remove_if(
        &self,
        writer: &mut Writer,
        index: usize,
        remove: impl FnOnce(&Arc<P>) -> bool,
    ) -> bool {
        let slot = &self.writing(writer).slots[index];
        let member = slot.member();
        if matches!(member, EMPTY | REMOVED) {
            return false;
        }
        // SAFETY: the table's count of its member, not given back.
        let policy = ManuallyDrop::new(unsafe { Arc::from_raw(member as *const P) });
        if !remove(&policy) {
            return false;
        }
        slot.remove();
        let words = slot.words();
        // Deferred through a guard: this thread may itself be reading the
        // member, in the call whose new key made this eviction.
        let guard = self.collector.enter();
        // SAFETY: no new reader finds either once the slot says REMOVED; the
        // epoch frees them when the readers that might have are gone.
        unsafe {
            if words.is_boxed() {
                guard.defer_retire(words.0[0] as *mut Box<str>, seize::reclaim::boxed);
            }
            guard.defer_retire(member as *mut P, release::<P>);
        }
        self.len.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// Moves every member to a new array of `capacity` slots, leaving the
    /// removed ones behind.
    fn rebuild(&self, writer: &mut Writer, capacity: usize) {
        let old = self.writing(writer);
        let new = Slots::new(capacity);
        for (index, slot) in old.slots.iter().enumerate() {
            let member = slot.member();
            if matches!(member, EMPTY | REMOVED) {
                continue;
            }
            let words = slot.words();
            let hash = if words.is_boxed() {
                words.0[1]
            } else {
                // SAFETY: an inline key.
                unsafe { words.with_key(|key| self.hash(key)) }
            };
            let to = new.free_slot(hash);
            new.recency[to].store(
                old.recency[index].load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
            new.slots[to].publish(member, words);
        }
        writer.used = self.len();
        // Release: a reader that finds the new array finds its slots filled.
        let old = self
            .slots
            .swap(Box::into_raw(Box::new(new)), Ordering::AcqRel);
        // SAFETY: no new reader reaches the old array; its members and boxed
        // keys moved to the new one, and freeing the array frees neither.
        unsafe {
            self.collector
                .enter()
                .defer_retire(old, seize::reclaim::boxed)
        };
    }
}

/// Gives back the table's count of a removed member.
///
/// # Safety
///
/// `member` came from `Arc::into_raw`, and its count is the table's.
unsafe fn release<P>(member: *mut P, _: &Collector) {
    // SAFETY: the caller's.
    drop(unsafe { Arc::from_raw(member.cast_const()) });
}

impl<P> Drop for Table<P> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reader is left, and the array is the
        // table's own.
        let slots = unsafe { Box::from_raw(*self.slots.get_mut()) };
        for slot in slots.slots.iter() {
            let member = slot.member();
            if matches!(member, EMPTY | REMOVED) {
                continue;
            }
            let words = slot.words();
            // SAFETY: the table's own count and boxed key, given back once.
            unsafe {
                if words.is_boxed() {
                    drop(Box::from_raw(words.0[0] as *mut Box<str>));
                }
                drop(Arc::from_raw(member as *const P));
            }
        }
        // The collector, dropped next, frees what was retired.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(table: &Table<String>) -> Vec<String> {
        let mut keys = Vec::new();
        table.pin().each(|entry| {
            assert_eq!(entry.key, **entry.policy, "each member under its own key");
            keys.push(entry.key.to_owned());
        });
        keys.sort();
        keys
    }

    #[test]
    fn finds_inline_and_boxed_keys_and_not_others() {
        let (table, mut writer) = Table::new();
        let long = "a-key-longer-than-twenty-three-bytes";
        for key in ["", "acme", "exactly-23-bytes-long-k", long] {
            table.insert(&mut writer, key, Arc::new(key.to_owned()), 1);
        }
        let pinned = table.pin();
        for key in ["", "acme", "exactly-23-bytes-long-k", long] {
            let found = pinned.get(key).expect("inserted");
            assert_eq!(**found.policy(), key);
        }
        for key in [
            "acm",
            "acme ",
            "a-key-longer-than-twenty-three-byteS",
            "exactly-23-bytes-long-",
        ] {
            assert!(pinned.get(key).is_none(), "{key:?} was never inserted");
        }
        assert_eq!(table.len(), 4);
    }

    #[test]
    fn grows_keeps_every_member_and_drops_each_once() {
        let (table, mut writer) = Table::new();
        let policies: Vec<Arc<String>> = (0..10_000)
            .map(|n| Arc::new(format!("key-{n}{}", "-long".repeat(n % 7))))
            .collect();
        for policy in &policies {
            table.insert(&mut writer, policy, Arc::clone(policy), 0);
        }
        assert_eq!(table.len(), 10_000);
        let capacity = table.writing(&writer).capacity();
        assert!(capacity <= 32_768, "at most four slots per key");
        assert!(capacity >= 20_000, "at least two slots per key");
        let pinned = table.pin();
        for policy in &policies {
            assert!(Arc::ptr_eq(
                pinned.get(policy).expect("kept").policy(),
                policy
            ));
        }
        drop(pinned);
        assert!(policies.iter().all(|policy| Arc::strong_count(policy) == 2));
        drop(table);
        assert!(
            policies.iter().all(|policy| Arc::strong_count(policy) == 1),
            "every count given back"
        );
    }

    #[test]
    fn a_removed_key_is_gone_and_its_slot_taken_again() {
        let (table, mut writer) = Table::new();
        for n in 0..100 {
            let key = format!("k{n}");
            table.insert(&mut writer, &key, Arc::new(key.clone()), n);
        }
        let mut removed = 0;
        let mut indices = Vec::new();
        table
            .pin()
            .each(|entry| indices.push((entry.index, entry.key.to_owned())));
        for (index, key) in &indices {
            if key.ends_with('7') {
                assert!(table.remove_if(&mut writer, *index, |_| true));
                assert!(
                    !table.remove_if(&mut writer, *index, |_| true),
                    "already gone"
                );
                removed += 1;
            }
        }
        assert_eq!(table.len(), 100 - removed);
        assert!(table.pin().get("k17").is_none());
        assert!(table.pin().get("k18").is_some());
        table.insert(&mut writer, "k17", Arc::new("k17".to_owned()), 200);
        assert_eq!(**table.pin().get("k17").expect("back").policy(), "k17");
        assert_eq!(keys(&table).len(), 100 - removed + 1);
    }

    #[test]
    fn a_member_removed_while_this_thread_reads_it_stays_until_the_read_ends() {
        // As in a keyed call whose closure makes a new key that evicts the
        // member the call is using.
        let (table, mut writer) = Table::new();
        let acme = Arc::new(String::from("acme"));
        table.insert(&mut writer, "acme", Arc::clone(&acme), 0);
        let pinned = table.pin();
        let found = pinned.get("acme").expect("inserted");
        let mut at = None;
        table.pin().each(|entry| at = Some(entry.index));
        assert!(table.remove_if(&mut writer, at.expect("one member"), |_| true));
        assert!(table.pin().get("acme").is_none(), "gone for new readers");
        assert_eq!(**found.policy(), "acme", "still there for this one");
        assert_eq!(
            Arc::strong_count(&acme),
            2,
            "the table's count not given back yet"
        );
        drop(pinned);
        drop(table);
        assert_eq!(Arc::strong_count(&acme), 1, "given back once");
    }

    #[test]
    fn readers_see_each_key_with_its_own_member_while_slots_are_reused() {
        // One writer removes and inserts keys (inline and boxed) while
        // readers look them up: a reader finds a key's own member or none,
        // never another key's, and every member is freed once.
        static LIVE: AtomicUsize = AtomicUsize::new(0);
        struct Tracked(String);
        impl Tracked {
            fn new(key: &str) -> Arc<Self> {
                LIVE.fetch_add(1, Ordering::Relaxed);
                Arc::new(Tracked(key.to_owned()))
            }
        }
        impl Drop for Tracked {
            fn drop(&mut self) {
                LIVE.fetch_sub(1, Ordering::Relaxed);
            }
        }

        let (table, mut writer) = Table::<Tracked>::new();
        let keys: Vec<String> = (0..64)
            .map(|n| {
                if n % 2 == 0 {
                    format!("t{n}")
                } else {
                    format!("tenant-with-a-long-name-{n}")
                }
            })
            .collect();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let mut found = 0u64;
                        while !done.load(Ordering::Relaxed) {
                            for key in &keys {
                                if let Some(member) = table.pin().get(key) {
                                    assert_eq!(member.policy().0, *key);
                                    found += 1;
                                }
                            }
                        }
                        found
                    })
                })
                .collect();
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    table
                        .pin()
                        .each(|entry| assert_eq!(entry.key, entry.policy.0));
                }
            });
            for round in 0..20_000u64 {
                let key = &keys[(round as usize * 7) % keys.len()];
                let mut at = None;
                table.pin().each(|entry| {
                    if entry.key == key {
                        at = Some(entry.index);
                    }
                });
                match at {
                    Some(index) => assert!(table.remove_if(&mut writer, index, |_| true)),
                    None => table.insert(&mut writer, key, Tracked::new(key), round),
                }
            }
            done.store(true, Ordering::Relaxed);
            for reader in readers {
                assert!(reader.join().expect("no reader panicked") > 0);
            }
        });
        assert!(
            LIVE.load(Ordering::Relaxed) > 0,
            "the table holds members still"
        );
        drop(table);
        assert_eq!(LIVE.load(Ordering::Relaxed), 0, "every member freed, once");
    }
}
