//! One slot of a family's table, and the protocol by which readers that take
//! no lock read it while its one writer changes it. Kept apart, on the
//! crate's atomics, so that `resilience-loom` model-checks this very code.
//!
//! A slot's key is rewritten when a later key takes the slot, while a reader
//! may still be reading the earlier one: a reader copies the key, then checks
//! that the slot still holds the member it read first (a seqlock on the
//! member's pointer, which no live member shares).

use crate::sync::atomic::{fence, AtomicU64, Ordering};

/// A slot no key has taken since the table was made: a probe ends here.
pub(crate) const EMPTY: u64 = 0;
/// A slot whose member was removed: a probe goes on past it.
pub(crate) const REMOVED: u64 = 1;
/// The longest key kept in the slot; a longer one is boxed.
pub(crate) const INLINE: usize = 23;
/// The last key byte of a slot with a boxed key (an inline one has its length there).
pub(crate) const BOXED: u8 = 0xFF;

/// One key and its member's pointer, in half a cache line.
#[repr(C, align(32))]
pub(crate) struct Slot {
    /// The member's `Arc::into_raw` pointer, or [`EMPTY`] or [`REMOVED`].
    member: AtomicU64,
    /// The key: its bytes and its length in the last byte, or a pointer to
    /// the boxed key and its hash, with [`BOXED`] in the last byte.
    key: [AtomicU64; 3],
}

impl Slot {
    pub(crate) fn new() -> Self {
        Slot {
            member: AtomicU64::new(EMPTY),
            key: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// The member's pointer, [`EMPTY`] or [`REMOVED`], as the writer, the
    /// only one to change it, sees it.
    pub(crate) fn member(&self) -> u64 {
        self.member.load(Ordering::Relaxed)
    }

    /// The key, copied: whole for the writer; a reader checks its copy
    /// ([`read`](Self::read)).
    #[inline]
    pub(crate) fn words(&self) -> Words {
        Words(self.key.each_ref().map(|word| word.load(Ordering::Relaxed)))
    }

    /// Gives the slot to `member` under the key `words`; the writer only.
    pub(crate) fn publish(&self, member: u64, words: Words) {
        // A reader still on this slot's earlier member, if it reads any of
        // the new key, also sees the slot's member changed.
        fence(Ordering::Release);
        for (word, value) in self.key.iter().zip(words.0) {
            word.store(value, Ordering::Relaxed);
        }
        self.member.store(member, Ordering::Release);
    }

    /// Takes the member out; the writer only. The key stays until a later
    /// key takes the slot.
    pub(crate) fn remove(&self) {
        self.member.store(REMOVED, Ordering::Release);
    }

    /// Reads the slot whole: a key copied while the writer gives the slot to
    /// a later key is read again.
    #[inline]
    pub(crate) fn read(&self) -> Read {
        loop {
            // The ordering seize asks of a load that protects a pointer.
            let member = self.member.load(Ordering::SeqCst);
            match member {
                EMPTY => return Read::Empty,
                REMOVED => return Read::Removed,
                _ => {}
            }
            let words = self.words();
            fence(Ordering::Acquire);
            if self.member.load(Ordering::Relaxed) == member {
                return Read::Member(member, words);
            }
        }
    }
}

/// A key as a slot holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Words(pub(crate) [u64; 3]);

impl Words {
    /// `key` as an inline slot holds it, or as a boxed slot of that hash
    /// holds it, less the pointer.
    #[inline]
    pub(crate) fn of(key: &str, hash: u64) -> Self {
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
        words[full] |= tail(&bytes[full * 8..]);
        Words(words)
    }

    /// Whether these words, copied from a slot, hold `key`, of hash `hash`.
    ///
    /// # Safety
    ///
    /// As [`boxed`](Self::boxed).
    #[inline]
    pub(crate) unsafe fn holds(self, key: &str, hash: u64) -> bool {
        let mark = (self.0[2] >> 56) as usize;
        let bytes = key.as_bytes();
        if bytes.len() > INLINE {
            // SAFETY: the caller's.
            return mark == usize::from(BOXED)
                && self.0[1] == hash
                && unsafe { self.boxed() } == key;
        }
        // Word by word, as `of` writes them (the length included): no call
        // to `memcmp`, which took a sixth of a call's time for a 13-byte key.
        self == Words::of(key, hash)
    }

    pub(crate) fn is_boxed(self) -> bool {
        (self.0[2] >> 56) as u8 == BOXED
    }

    /// The boxed key: only for a slot's boxed words, read while the slot is
    /// protected.
    ///
    /// # Safety
    ///
    /// The words are a boxed slot's, copied and checked under a guard that
    /// is still held.
    pub(crate) unsafe fn boxed<'a>(self) -> &'a str {
        // SAFETY: the pointer is a `Box<Box<str>>` the writer made before it
        // published the slot, and frees only through the epoch, after the
        // slot no longer holds it.
        unsafe { &*(self.0[0] as *const Box<str>) }
    }

    /// An inline key's bytes, as the slot was written.
    #[inline]
    pub(crate) fn bytes(self) -> [u8; 24] {
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
    pub(crate) unsafe fn with_key<R>(self, f: impl FnOnce(&str) -> R) -> R {
        if self.is_boxed() {
            // SAFETY: the caller's.
            return f(unsafe { self.boxed() });
        }
        let bytes = self.bytes();
        let len = usize::from(bytes[INLINE]);
        f(std::str::from_utf8(&bytes[..len]).expect("copied from a `str`"))
    }
}

/// Up to 7 bytes as a little-endian word, read as at most two loads that
/// may overlap rather than byte by byte: [`Words::holds`] runs on every call.
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

/// What a reader finds in a slot.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// [`EMPTY`]: no key past this one on a probe.
    Empty,
    /// [`REMOVED`]: a probe goes on.
    Removed,
    /// A member's pointer, and the key the slot held for it.
    Member(u64, Words),
}

// Not under loom, whose atomics work only inside a model.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

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
    fn a_reader_sees_a_slot_as_the_writer_left_it() {
        let slot = Slot::new();
        assert_eq!(slot.read(), Read::Empty);
        let acme = Words::of("acme", 0);
        slot.publish(64, acme);
        assert_eq!(slot.read(), Read::Member(64, acme));
        slot.remove();
        assert_eq!(slot.read(), Read::Removed);
        let globex = Words::of("globex", 0);
        slot.publish(128, globex);
        assert_eq!(slot.read(), Read::Member(128, globex));
    }
}
