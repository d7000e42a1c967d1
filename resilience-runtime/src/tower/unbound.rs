//! A policy behind an `Arc`, borrowed for as long as the future that keeps
//! the `Arc` lives.

use std::sync::Arc;

/// `policy` as a `'static` borrow, for the permits and attempts that borrow
/// their policy, kept in a `'static` response future next to a clone of the
/// `Arc`.
///
/// # Safety
///
/// Every value holding the returned borrow must live in the same struct (or
/// enum variant) as a clone of `policy`, declared after it so that it is
/// dropped after it, and must never be moved out of that struct.
pub(super) unsafe fn unbound<P>(policy: &Arc<P>) -> &'static P {
    // SAFETY: the policy lives on the heap for as long as an `Arc` to it
    // does; the caller keeps one beside every borrow, dropped after them.
    // Moving an `Arc` does not move its policy, and nothing takes it out
    // mutably (`Arc` only gives shared access).
    unsafe { &*Arc::as_ptr(policy) }
}
