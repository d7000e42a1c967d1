//! A family's members, in an open-addressing table made for the lookup of a
//! call: a slot holds the key (up to 23 bytes inline) beside the member's
//! pointer, so finding an existing key reads one slot and then the member.
//! A map with boxed entries (papaya, which this replaced) reads the entry in
//! between, a dependent cache miss more per call once the family outgrows
//! the cache; BENCHMARKS.md has the measurements.
//!
//! Readers take no lock and write nothing shared: they enter an epoch
//! ([seize](https://docs.rs/seize)) and probe. Writers take turns under the
//! family's lock, which the [`Writer`] passed to each change stands for. A
//! removed member, a long key and a table outgrown are handed to the epoch,
//! which frees them once no reader that might hold them is left.
//!
//! A slot's key is rewritten when a later key takes the slot, while a reader
//! may still be reading the earlier one: a reader copies the key, then checks
//! that the slot still holds the member it read first (a seqlock on the
//! member's pointer, which no live member shares).

use std::hash::{BuildHasher, RandomState};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use seize::{Collector, Guard, LocalGuard};

/// A slot no key has taken since the table was made: a probe ends here.
const EMPTY: u64 = 0;
/// A slot whose member was removed: a probe goes on past it.
const REMOVED: u64 = 1;
/// The longest key kept in the slot; a longer one is boxed.
const INLINE: usize = 23;
/// The last key byte of a slot with a boxed key (an inline one has its length there).
const BOXED: u8 = 0xFF;

/// A table is made at least this large.
const MIN_CAPACITY: usize = 16;

#[repr(C, align(32))]
struct Slot {
    /// The member's `Arc::into_raw` pointer, or [`EMPTY`] or [`REMOVED`].
    member: AtomicU64,
    /// The key: its bytes and its length in the last byte, or a pointer to
    /// the boxed key and its hash, with [`BOXED`] in the last byte.
    key: [AtomicU64; 3],
}

/// A key as a slot holds it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Words([u64; 3]);

impl Words {
    /// `key` as an inline slot holds it, or as a boxed slot of that hash
    /// holds it, less the pointer.
    fn of(key: &str, hash: u64) -> Self {
        let bytes = key.as_bytes();
        let len = bytes.len();
        if len > INLINE {
            return Words([0, hash, u64::from(BOXED) << 56]);
        }
        let mut words = [0, 0, (len as u64) << 56];
        let full = len / 8;
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            *word |= u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        // The last `len % 8` bytes, read as at most two loads that may overlap
        // rather than byte by byte: this runs on every call.
        words[full] |= tail(&bytes[full * 8..]);
        Words(words)
    }

    /// Whether these words, copied from a slot, hold `key`, of hash `hash`.
    ///
    /// # Safety
    ///
    /// As [`boxed`](Self::boxed).
    #[inline]
    unsafe fn holds(self, key: &str, hash: u64) -> bool {
        let mark = (self.0[2] >> 56) as usize;
        let bytes = key.as_bytes();
        if bytes.len() > INLINE {
            // SAFETY: the caller's.
            return mark == usize::from(BOXED)
                && self.0[1] == hash
                && unsafe { self.boxed() } == key;
        }
        if mark != bytes.len() {
            return false;
        }
        // Word by word, as `of` writes them: no call to `memcmp`, which
        // took a sixth of a call's time for a 13-byte key.
        let stored = [self.0[0], self.0[1], self.0[2] & !(0xFF << 56)];
        let full = bytes.len() / 8;
        stored
            .iter()
            .zip(bytes.chunks_exact(8))
            .all(|(word, chunk)| *word == u64::from_le_bytes(chunk.try_into().expect("8 bytes")))
            && stored[full] == tail(&bytes[full * 8..])
    }

    fn is_boxed(self) -> bool {
        (self.0[2] >> 56) as u8 == BOXED
    }

    /// The boxed key: only for a slot's boxed words, read while the slot is
    /// protected.
    ///
    /// # Safety
    ///
    /// The words are a boxed slot's, copied and checked under a guard that
    /// is still held.
    unsafe fn boxed<'a>(self) -> &'a str {
        // SAFETY: the pointer is a `Box<Box<str>>` the writer made before it
        // published the slot, and frees only through the epoch, after the
        // slot no longer holds it.
        unsafe { &*(self.0[0] as *const Box<str>) }
    }

    /// An inline key's bytes, as the slot was written.
    #[inline]
    fn bytes(self) -> [u8; 24] {
        let mut bytes = [0u8; 24];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// Calls `f` with the key these words hold.
    ///
    /// # Safety
    ///
    /// As [`boxed`](Self::boxed) when the key is boxed.
    unsafe fn with_key<R>(self, f: impl FnOnce(&str) -> R) -> R {
        if self.is_boxed() {
            // SAFETY: the caller's.
            return f(unsafe { self.boxed() });
        }
        let bytes = self.bytes();
        let len = usize::from(bytes[INLINE]);
        f(std::str::from_utf8(&bytes[..len]).expect("copied from a `str`"))
    }
}

/// Up to 7 bytes as a little-endian word.
#[inline]
fn tail(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let two = |at: usize| u64::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let four = |at: usize| {
        u64::from(u32::from_le_bytes([
            bytes[at],
            bytes[at + 1],
            bytes[at + 2],
            bytes[at + 3],
        ]))
    };
    match len {
        0 => 0,
        1 => u64::from(bytes[0]),
        2..=3 => two(0) | two(len - 2) << ((len - 2) * 8),
        _ => four(0) | four(len - 4) << ((len - 4) * 8),
    }
}

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
            slots: (0..capacity)
                .map(|_| Slot {
                    member: AtomicU64::new(EMPTY),
                    key: [const { AtomicU64::new(0) }; 3],
                })
                .collect(),
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
            .find(|&index| {
                matches!(
                    self.slots[index].member.load(Ordering::Relaxed),
                    EMPTY | REMOVED
                )
            })
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
        let hash = self.table.hasher.hash_one(key);
        let slots = self.slots;
        let mut index = hash as usize & slots.mask;
        loop {
            let slot = &slots.slots[index];
            // The ordering seize asks of a load that protects a pointer.
            let member = slot.member.load(Ordering::SeqCst);
            match member {
                EMPTY => return None,
                REMOVED => {}
                _ => {
                    let words = Words(slot.key.each_ref().map(|word| word.load(Ordering::Relaxed)));
                    fence(Ordering::Acquire);
                    if slot.member.load(Ordering::Relaxed) != member {
                        // A writer took the slot meanwhile: read it again.
                        continue;
                    }
                    // SAFETY: copied and checked under this guard.
                    let matched = unsafe { words.holds(key, hash) };
                    if matched {
                        return Some(Found {
                            // SAFETY: the table holds one count of the
                            // member, which the epoch keeps while this
                            // reader lasts; `ManuallyDrop` gives none back.
                            policy: ManuallyDrop::new(unsafe { Arc::from_raw(member as *const P) }),
                            recency: &slots.recency[index],
                        });
                    }
                }
            }
            index = (index + 1) & slots.mask;
        }
    }
}

/// A member as a writer sees it.
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

    /// The current array, as its writer sees it.
    fn writing(&self, _: &Writer) -> &Slots {
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
        let hash = self.hasher.hash_one(key);
        let index = slots.free_slot(hash);
        let mut words = Words::of(key, hash);
        if words.is_boxed() {
            words.0[0] = Box::into_raw(Box::new(Box::<str>::from(key))) as u64;
        }
        let slot = &slots.slots[index];
        if slot.member.load(Ordering::Relaxed) == EMPTY {
            writer.used += 1;
        }
        // A reader still on this slot's earlier member, if it reads any of
        // the new key, also sees the slot's member changed.
        fence(Ordering::Release);
        for (word, value) in slot.key.iter().zip(words.0) {
            word.store(value, Ordering::Relaxed);
        }
        slots.recency[index].store(arrivals, Ordering::Relaxed);
        slot.member
            .store(Arc::into_raw(policy) as u64, Ordering::Release);
        self.len.store(len, Ordering::Relaxed);
    }

    /// Calls `f` with every member.
    pub(super) fn each(&self, writer: &Writer, mut f: impl FnMut(Entry<'_, P>)) {
        let slots = self.writing(writer);
        for (index, slot) in slots.slots.iter().enumerate() {
            let member = slot.member.load(Ordering::Relaxed);
            if matches!(member, EMPTY | REMOVED) {
                continue;
            }
            let words = Words(slot.key.each_ref().map(|word| word.load(Ordering::Relaxed)));
            // SAFETY: the table's own count of its member, not given back.
            let policy = ManuallyDrop::new(unsafe { Arc::from_raw(member as *const P) });
            let recency = slots.recency[index].load(Ordering::Relaxed);
            // SAFETY: the writer's own slot, which it holds.
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

    /// Removes the member at `index` if `remove` says so; returns whether it went.
    pub(super) fn remove_if(
        &self,
        writer: &mut Writer,
        index: usize,
        remove: impl FnOnce(&Arc<P>) -> bool,
    ) -> bool {
        let slot = &self.writing(writer).slots[index];
        let member = slot.member.load(Ordering::Relaxed);
        if matches!(member, EMPTY | REMOVED) {
            return false;
        }
        // SAFETY: the table's count of its member, not given back.
        let policy = ManuallyDrop::new(unsafe { Arc::from_raw(member as *const P) });
        if !remove(&policy) {
            return false;
        }
        slot.member.store(REMOVED, Ordering::Release);
        let words = Words(slot.key.each_ref().map(|word| word.load(Ordering::Relaxed)));
        // SAFETY: no new reader finds either once the slot says REMOVED; the
        // epoch frees them when the readers that might have are gone.
        unsafe {
            if words.is_boxed() {
                self.collector
                    .retire(words.0[0] as *mut Box<str>, seize::reclaim::boxed);
            }
            self.collector.retire(member as *mut P, release::<P>);
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
            let member = slot.member.load(Ordering::Relaxed);
            if matches!(member, EMPTY | REMOVED) {
                continue;
            }
            let words = Words(slot.key.each_ref().map(|word| word.load(Ordering::Relaxed)));
            let hash = if words.is_boxed() {
                words.0[1]
            } else {
                // SAFETY: an inline key.
                unsafe { words.with_key(|key| self.hasher.hash_one(key)) }
            };
            let to = new.free_slot(hash);
            for (word, value) in new.slots[to].key.iter().zip(words.0) {
                word.store(value, Ordering::Relaxed);
            }
            new.recency[to].store(
                old.recency[index].load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
            new.slots[to].member.store(member, Ordering::Relaxed);
        }
        writer.used = self.len();
        // Release: a reader that finds the new array finds its slots filled.
        let old = self
            .slots
            .swap(Box::into_raw(Box::new(new)), Ordering::AcqRel);
        // SAFETY: no new reader reaches the old array; its members and boxed
        // keys moved to the new one, and freeing the array frees neither.
        unsafe { self.collector.retire(old, seize::reclaim::boxed) };
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
            let member = slot.member.load(Ordering::Relaxed);
            if matches!(member, EMPTY | REMOVED) {
                continue;
            }
            let words = Words(slot.key.each_ref().map(|word| word.load(Ordering::Relaxed)));
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

    fn keys(table: &Table<String>, writer: &Writer) -> Vec<String> {
        let mut keys = Vec::new();
        table.each(writer, |entry| {
            assert_eq!(entry.key, **entry.policy, "each member under its own key");
            keys.push(entry.key.to_owned());
        });
        keys.sort();
        keys
    }

    #[test]
    fn a_key_of_any_inline_length_is_its_bytes_and_length() {
        let text = "abcdefghijklmnopqrstuvw";
        for len in 0..=INLINE {
            let key = &text[..len];
            let words = Words::of(key, 0);
            assert!(!words.is_boxed());
            let mut expected = [0u8; 24];
            expected[..len].copy_from_slice(key.as_bytes());
            expected[INLINE] = len as u8;
            assert_eq!(words.bytes(), expected, "{key:?}");
        }
        assert!(Words::of(&format!("{text}x"), 0).is_boxed());
    }

    #[test]
    fn a_key_matches_itself_and_no_key_one_byte_or_one_length_apart() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789";
        for len in 0..=text.len() {
            let key = &text[..len];
            let hash = 7;
            let mut words = Words::of(key, hash);
            let boxed = words.is_boxed().then(|| Box::new(Box::<str>::from(key)));
            if let Some(boxed) = &boxed {
                words.0[0] = std::ptr::from_ref::<Box<str>>(boxed) as u64;
            }
            // SAFETY: the boxed key outlives these checks.
            unsafe {
                assert!(words.holds(key, hash), "{key:?}");
                if len > 0 {
                    let mut changed = key.as_bytes().to_vec();
                    changed[len - 1] ^= 1;
                    let changed = String::from_utf8(changed).expect("ASCII");
                    assert!(!words.holds(&changed, hash), "{changed:?} is not {key:?}");
                    assert!(!words.holds(&key[..len - 1], hash));
                }
                if len < text.len() {
                    assert!(
                        !words.holds(&text[..=len], hash),
                        "one byte longer than {key:?}"
                    );
                }
            }
        }
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
        assert!(
            table.writing(&writer).capacity() <= 32_768,
            "at most four slots per key"
        );
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
        table.each(&writer, |entry| {
            indices.push((entry.index, entry.key.to_owned()))
        });
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
        assert_eq!(keys(&table, &writer).len(), 100 - removed + 1);
    }

    #[test]
    fn readers_see_each_key_with_its_own_member_while_slots_are_reused() {
        // One writer removes and inserts keys (inline and boxed) while
        // readers look them up: a reader finds a key's own member or none,
        // never another key's, and every member is freed once.
        let (table, mut writer) = Table::new();
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
            for _ in 0..2 {
                scope.spawn(|| {
                    let mut found = 0u64;
                    while !done.load(Ordering::Relaxed) {
                        for key in &keys {
                            if let Some(member) = table.pin().get(key) {
                                assert_eq!(**member.policy(), *key);
                                found += 1;
                            }
                        }
                    }
                    assert!(found > 0);
                });
            }
            for round in 0..20_000u64 {
                let key = &keys[(round as usize * 7) % keys.len()];
                let mut at = None;
                table.each(&writer, |entry| {
                    if entry.key == key {
                        at = Some(entry.index);
                    }
                });
                match at {
                    Some(index) => assert!(table.remove_if(&mut writer, index, |_| true)),
                    None => table.insert(&mut writer, key, Arc::new(key.clone()), round),
                }
            }
            done.store(true, Ordering::Relaxed);
        });
    }
}
