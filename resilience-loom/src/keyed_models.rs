//! A keyed family's table slot: a reader that takes no lock, against the
//! writer that removes the slot's member and gives the slot to another key.

use loom::sync::Arc;
use loom::thread;

use crate::keyed::slot::{Read, Slot, Words};
use crate::model;

/// Two members' pointers (any values but the two markers will do).
const ACME: u64 = 64;
const GLOBEX: u64 = 128;

#[test]
fn a_reader_never_pairs_a_member_with_another_keys_words() {
    model(|| {
        let acme = Words::of("acme", 0);
        let globex = Words::of("globex", 0);
        let slot = Arc::new(Slot::new());
        slot.publish(ACME, acme);
        let writer = {
            let slot = slot.clone();
            thread::spawn(move || {
                slot.remove();
                slot.publish(GLOBEX, globex);
            })
        };
        match slot.read() {
            Read::Member(ACME, words) => assert_eq!(words, acme, "acme's member under another key"),
            Read::Member(GLOBEX, words) => {
                assert_eq!(words, globex, "globex's member under another key")
            }
            Read::Removed => {}
            other => panic!("a slot with a member or none, not {other:?}"),
        }
        writer.join().unwrap();
    });
}

#[test]
fn a_reader_sees_a_slot_reused_twice_whole() {
    // The writer reuses the slot twice while the reader reads it twice.
    model(|| {
        let keys = [Words::of("a", 0), Words::of("b", 0), Words::of("c", 0)];
        let slot = Arc::new(Slot::new());
        slot.publish(64, keys[0]);
        let writer = {
            let slot = slot.clone();
            thread::spawn(move || {
                for (member, words) in [(128, keys[1]), (192, keys[2])] {
                    slot.remove();
                    slot.publish(member, words);
                }
            })
        };
        for _ in 0..2 {
            if let Read::Member(member, words) = slot.read() {
                assert_eq!(words, keys[(member / 64 - 1) as usize]);
            }
        }
        writer.join().unwrap();
    });
}
