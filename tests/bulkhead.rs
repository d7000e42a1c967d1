//! `#[bulkhead]` as users write it: one permit pool per name, shared by sync
//! and async callers; an at-once rejection by default; a bounded wait with
//! `max_wait` (paused clock for async, a real thread for sync); the slot
//! returned after success, error and a sync panic.
//! Async panics and dropped futures: tests/cancellation.rs.

#[path = "common/act.rs"]
mod act;
mod common;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use act::{until, Act};
use common::AppError;
use resilience_runtime::{bulkhead, registry, Error};
use tokio::sync::oneshot;
use tokio::time::Instant;

fn assert_full<T: std::fmt::Debug>(result: Result<T, AppError>, name: &str, max: usize) {
    match result {
        Err(AppError::Resilience(Error::BulkheadFull {
            name: bulkhead,
            max_concurrent,
            ..
        })) if &*bulkhead == name && max_concurrent == max => {}
        other => panic!("expected BulkheadFull from `{name}`, got {other:?}"),
    }
}

fn slots(name: &str) -> usize {
    registry().bulkhead(name).available_slots()
}

/// A sync body's hold on its slot: it signals `entered`, then waits for `release`.
struct Hold {
    entered: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
}

impl Hold {
    /// The hold, the receiver of its `entered` signal and the sender of its release.
    fn new() -> (Hold, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (entered, entered_rx) = mpsc::channel();
        let (release_tx, release) = mpsc::channel();
        (Hold { entered, release }, entered_rx, release_tx)
    }

    fn wait(self) {
        self.entered.send(()).unwrap();
        self.release.recv().unwrap();
    }
}

#[bulkhead(name = "bh-shared", max_concurrent = 1)]
async fn shared_async(
    entered: Option<oneshot::Sender<()>>,
    release: Option<oneshot::Receiver<()>>,
) -> Result<(), AppError> {
    if let (Some(entered), Some(release)) = (entered, release) {
        entered.send(()).unwrap();
        release.await.unwrap();
    }
    Ok(())
}

#[bulkhead(name = "bh-shared", max_concurrent = 1)]
fn shared_sync(hold: Option<Hold>) -> Result<(), AppError> {
    if let Some(hold) = hold {
        hold.wait();
    }
    Ok(())
}

#[tokio::test]
async fn sync_and_async_callers_of_one_name_share_one_permit_pool() {
    // An async caller holds the slot: a sync caller is rejected at once.
    let (entered, entered_rx) = oneshot::channel();
    let (release, release_rx) = oneshot::channel();
    let holder = tokio::spawn(shared_async(Some(entered), Some(release_rx)));
    entered_rx.await.unwrap();
    assert_eq!(slots("bh-shared"), 0);
    assert_full(shared_sync(None), "bh-shared", 1);
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    assert_eq!(slots("bh-shared"), 1);

    // A sync caller holds it: an async caller is rejected at once.
    let (hold, entered_rx, release) = Hold::new();
    let holder = thread::spawn(move || shared_sync(Some(hold)));
    entered_rx.recv().unwrap();
    assert_eq!(slots("bh-shared"), 0);
    assert_full(shared_async(None, None).await, "bh-shared", 1);
    release.send(()).unwrap();
    holder.join().unwrap().unwrap();
    assert_eq!(slots("bh-shared"), 1);
    assert_eq!(registry().bulkhead("bh-shared").rejected_calls(), 2);
}

static ASYNC_WAIT_ENTERED: AtomicU32 = AtomicU32::new(0);

/// Returns when it got its slot.
#[bulkhead(name = "bh-async-wait", max_concurrent = 1, max_wait = "100ms")]
async fn async_wait(hold: Duration) -> Result<Instant, AppError> {
    ASYNC_WAIT_ENTERED.fetch_add(1, SeqCst);
    let entered = Instant::now();
    tokio::time::sleep(hold).await;
    Ok(entered)
}

#[tokio::test(start_paused = true)]
async fn an_async_caller_waits_up_to_max_wait_for_a_slot() {
    let start = Instant::now();
    let holder = tokio::spawn(async_wait(Duration::from_millis(60)));
    until(|| ASYNC_WAIT_ENTERED.load(SeqCst) == 1).await;
    let entered = async_wait(Duration::ZERO).await.unwrap();
    assert_eq!(entered - start, Duration::from_millis(60));
    holder.await.unwrap().unwrap();

    let start = Instant::now();
    let holder = tokio::spawn(async_wait(Duration::from_millis(250)));
    until(|| ASYNC_WAIT_ENTERED.load(SeqCst) == 3).await;
    assert_full(async_wait(Duration::ZERO).await, "bh-async-wait", 1);
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    holder.await.unwrap().unwrap();
    assert_eq!(slots("bh-async-wait"), 1);
}

#[bulkhead(name = "bh-sync-wait", max_concurrent = 1, max_wait = "30s")]
fn sync_wait(hold: Option<Hold>) -> Result<(), AppError> {
    if let Some(hold) = hold {
        hold.wait();
    }
    Ok(())
}

#[test]
fn a_sync_caller_blocks_its_thread_until_a_slot_frees_within_max_wait() {
    let (hold, entered_rx, release) = Hold::new();
    let holder = thread::spawn(move || sync_wait(Some(hold)));
    entered_rx.recv().unwrap();

    let (calling_tx, calling_rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        calling_tx.send(()).unwrap();
        sync_wait(None)
    });
    calling_rx.recv().unwrap();
    // Give it time to block; it must still be waiting, neither in nor rejected.
    thread::sleep(Duration::from_millis(20));
    assert!(!waiter.is_finished());

    release.send(()).unwrap();
    waiter.join().unwrap().unwrap();
    holder.join().unwrap().unwrap();
    assert_eq!(slots("bh-sync-wait"), 1);
}

#[bulkhead(name = "bh-sync-timeout", max_concurrent = 1, max_wait = "20ms")]
fn sync_timeout(hold: Option<Hold>) -> Result<(), AppError> {
    if let Some(hold) = hold {
        hold.wait();
    }
    Ok(())
}

#[test]
fn a_sync_caller_is_rejected_once_max_wait_has_passed() {
    let (hold, entered_rx, release) = Hold::new();
    let holder = thread::spawn(move || sync_timeout(Some(hold)));
    entered_rx.recv().unwrap();

    let start = std::time::Instant::now();
    assert_full(sync_timeout(None), "bh-sync-timeout", 1);
    assert!(start.elapsed() >= Duration::from_millis(20));

    release.send(()).unwrap();
    holder.join().unwrap().unwrap();
}

static SLOTS_INSIDE: AtomicUsize = AtomicUsize::new(usize::MAX);

#[bulkhead(name = "bh-release", max_concurrent = 2)]
fn release_after(act: Act) -> Result<(), AppError> {
    SLOTS_INSIDE.store(slots("bh-release"), SeqCst);
    act.run_sync()
}

#[test]
fn the_slot_comes_back_after_success_error_and_a_panic() {
    for act in [Act::Succeed, Act::Fail, Act::Panic] {
        SLOTS_INSIDE.store(usize::MAX, SeqCst);
        let result = std::panic::catch_unwind(|| release_after(act));
        match act {
            Act::Succeed => assert!(matches!(result, Ok(Ok(())))),
            Act::Fail => assert!(matches!(result, Ok(Err(AppError::Transient)))),
            _ => assert!(result.is_err(), "the panic did not reach the caller"),
        }
        assert_eq!(SLOTS_INSIDE.load(SeqCst), 1, "{act:?}: no slot held");
        assert_eq!(slots("bh-release"), 2, "{act:?}: slot not returned");
    }
}
