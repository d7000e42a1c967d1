//! The deposits and withdrawals of the last `ttl`, in ten slots of a tenth
//! of `ttl` each, and the balance they leave; lock-free.
//!
//! Each slot is one word: the epoch it counts (in slot widths since the
//! budget's creation, 32 bits, wrapping) and its net amount (32 bits,
//! signed). A slot whose epoch is ten or more behind the current one has left
//! the window: the next operation to meet it takes its amount out of the
//! balance and reuses it. The balance is updated apart from the slots, so
//! every update is ordered to keep it at or below the sum it stands for
//! (the reserve plus the slots' amounts): it is lowered before a slot that
//! raises it is, and raised after. A withdrawal is a compare-and-swap on
//! the balance that never takes it below zero, so the retries of a window
//! never exceed its reserve plus its deposits.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::SeqCst};

/// Slots in the window.
pub(crate) const SLOTS: u64 = 10;
const TAG_MASK: u64 = u32::MAX as u64;
/// Epochs at least this far ahead of a slot's read as the slot being ahead:
/// the reader's time is older than the writer's.
const AHEAD: u64 = 1 << 31;

#[derive(Debug)]
pub(crate) struct Window {
    slots: [AtomicU64; SLOTS as usize],
    balance: AtomicI64,
}

fn pack(tag: u64, amount: i64) -> u64 {
    (tag << 32) | u64::from(amount as i32 as u32)
}

fn unpack(word: u64) -> (u64, i64) {
    (word >> 32, i64::from(word as u32 as i32))
}

impl Window {
    pub(crate) fn new(reserve: i64) -> Self {
        Window {
            slots: Default::default(),
            balance: AtomicI64::new(reserve),
        }
    }

    /// Adds `amount` for a call made in `epoch`; a slot that cannot hold it
    /// (full, or already counting a later epoch) drops it, which only makes
    /// the budget stricter.
    pub(crate) fn deposit(&self, epoch: u64, amount: i64) {
        if amount > 0 && self.record(epoch, amount) {
            self.balance.fetch_add(amount, SeqCst);
        }
    }

    /// Takes `amount` for a retry made in `epoch` if the window's balance
    /// holds it.
    pub(crate) fn withdraw(&self, epoch: u64, amount: i64) -> bool {
        self.sweep(epoch);
        let mut balance = self.balance.load(SeqCst);
        loop {
            if balance < amount {
                return false;
            }
            match self
                .balance
                .compare_exchange_weak(balance, balance - amount, SeqCst, SeqCst)
            {
                Ok(_) => break,
                Err(now) => balance = now,
            }
        }
        if self.record(epoch, -amount) {
            true
        } else {
            self.balance.fetch_add(amount, SeqCst);
            false
        }
    }

    /// The balance of the window ending in `epoch`.
    pub(crate) fn balance(&self, epoch: u64) -> i64 {
        self.sweep(epoch);
        self.balance.load(SeqCst)
    }

    /// Takes every slot that has left the window out of the balance.
    fn sweep(&self, epoch: u64) {
        let tag = epoch & TAG_MASK;
        for slot in &self.slots {
            let word = slot.load(SeqCst);
            let (slot_tag, amount) = unpack(word);
            let age = tag.wrapping_sub(slot_tag) & TAG_MASK;
            if amount != 0 && (SLOTS..AHEAD).contains(&age) {
                // Lost to another sweeper or writer, who expires it instead.
                self.replace(slot, word, pack(slot_tag, 0));
            }
        }
    }

    /// Adds `amount` to the slot of `epoch`, first expiring what an earlier
    /// epoch left in it. `false` if it cannot.
    fn record(&self, epoch: u64, amount: i64) -> bool {
        let tag = epoch & TAG_MASK;
        let slot = &self.slots[(epoch % SLOTS) as usize];
        loop {
            let word = slot.load(SeqCst);
            let (slot_tag, held) = unpack(word);
            let age = tag.wrapping_sub(slot_tag) & TAG_MASK;
            // An empty slot is free whatever it last counted.
            if age >= AHEAD && held != 0 {
                return false;
            }
            let sum = if age == 0 { held + amount } else { amount };
            if i32::try_from(sum).is_err() {
                return false;
            }
            let replaced = if age == 0 {
                slot.compare_exchange_weak(word, pack(tag, sum), SeqCst, SeqCst)
                    .is_ok()
            } else {
                self.replace(slot, word, pack(tag, sum))
            };
            if replaced {
                return true;
            }
        }
    }

    /// Swaps a slot's word from `old` to `new`, moving the amount `old` held
    /// out of the balance: lowered before the swap, raised after it.
    fn replace(&self, slot: &AtomicU64, old: u64, new: u64) -> bool {
        let (_, held) = unpack(old);
        if held > 0 {
            self.balance.fetch_sub(held, SeqCst);
        }
        let swapped = slot.compare_exchange(old, new, SeqCst, SeqCst).is_ok();
        if held > 0 && !swapped {
            self.balance.fetch_add(held, SeqCst);
        }
        if held < 0 && swapped {
            self.balance.fetch_add(-held, SeqCst);
        }
        swapped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withdrawals_stop_at_the_reserve_plus_the_deposits() {
        let window = Window::new(2_000);
        assert!(window.withdraw(0, 1_000));
        assert!(window.withdraw(0, 1_000));
        assert!(!window.withdraw(0, 1_000));
        for _ in 0..5 {
            window.deposit(3, 200);
        }
        assert!(window.withdraw(4, 1_000));
        assert!(!window.withdraw(4, 1_000));
    }

    #[test]
    fn amounts_leave_the_window_after_ten_slots() {
        let window = Window::new(0);
        window.deposit(0, 1_000);
        window.deposit(5, 1_000);
        assert_eq!(window.balance(9), 2_000);
        assert_eq!(window.balance(10), 1_000, "epoch 0 left");
        assert!(window.withdraw(12, 1_000));
        assert_eq!(
            window.balance(15),
            -1_000,
            "epoch 5 left, the withdrawal of 12 stays"
        );
        assert_eq!(window.balance(22), 0, "and leaves too");
    }

    #[test]
    fn a_slot_reused_by_a_later_epoch_expires_what_it_held() {
        let window = Window::new(0);
        window.deposit(3, 500);
        window.deposit(13, 200);
        assert_eq!(window.balance(13), 200);
    }

    #[test]
    fn a_late_writer_does_not_erase_a_newer_slot() {
        let window = Window::new(0);
        window.deposit(13, 200);
        window.deposit(3, 500);
        assert_eq!(window.balance(13), 200);
    }

    #[test]
    fn the_epoch_wraps_without_losing_the_window() {
        let window = Window::new(0);
        let near_wrap = u64::from(u32::MAX) - 2;
        window.deposit(near_wrap, 1_000);
        assert_eq!(window.balance(near_wrap + 5), 1_000);
        assert_eq!(window.balance(near_wrap + 10), 0);
    }
}
