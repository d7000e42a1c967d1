//! Calls one annotated function N times, for counting the instructions a
//! call costs with callgrind, which repeats where nanoseconds do not on a
//! noisy machine. Subtract a short run from a long one to leave out the
//! start-up (the clock's calibration varies, by about 3 instructions a call
//! over 200,000 calls):
//!
//! ```sh
//! cargo build --release -p resilience-bench --example instructions
//! for n in 1000 201000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/instructions open $n 2>&1 | grep Collected
//! done
//! ```
//!
//! Cases: `closed` (a closed breaker's success), `open` (an open breaker's
//! rejection), `bulkhead` (a free slot), `allowed` (a rate limiter's token),
//! `ready` and `pending` (a time limiter whose body is ready at once, or
//! pending once), `retry` and
//! `retry_async` (a retry's first attempt succeeding), `retry_budget` (the
//! same with a retry budget, which every call deposits into), `hedge` and
//! `hedge_p95` (a hedge whose primary is ready at once, with a fixed delay,
//! and with a percentile delay, which times the call).
//!
//! Built with the bench crate's feature `tracing`, it runs under a subscriber
//! that wants INFO and above, as a service would; with `metrics`, the call
//! path is the same code (nothing is published on it), which the counts show.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use resilience_runtime::{bulkhead, circuit_breaker, hedge, rate_limiter, retry, time_limiter};

#[derive(Debug)]
struct E;
impl From<resilience_runtime::Error> for E {
    fn from(_: resilience_runtime::Error) -> Self {
        E
    }
}

struct PendingOnce(bool, u64);
impl Future for PendingOnce {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if self.0 {
            Poll::Ready(self.1)
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[time_limiter(name = "cg-pending", timeout = "1s")]
async fn pending(v: u64) -> Result<u64, E> {
    Ok(std::hint::black_box(PendingOnce(false, v).await))
}

#[time_limiter(name = "cg-ready", timeout = "1s")]
async fn ready(v: u64) -> Result<u64, E> {
    Ok(std::hint::black_box(v))
}

#[rate_limiter(name = "cg-rate", max_tokens = 1000000000, refill_rate = 1000000000.0)]
fn allowed(v: u64) -> Result<u64, E> {
    Ok(std::hint::black_box(v))
}

#[circuit_breaker(name = "cg-closed")]
fn closed(v: u64) -> Result<u64, E> {
    Ok(std::hint::black_box(v))
}

#[circuit_breaker(name = "cg-open", failure_threshold = 1, recovery_timeout = "1h")]
fn open(fail: bool) -> Result<u64, E> {
    if fail {
        Err(E)
    } else {
        Ok(1)
    }
}

#[retry(name = "cg-retry")]
fn first_try(v: u64) -> Result<u64, E> {
    Ok(std::hint::black_box(v))
}

#[retry(name = "cg-retry-async")]
async fn first_try_async(v: u64) -> Result<u64, E> {
    Ok(std::hint::black_box(v))
}

#[retry(name = "cg-retry-budget", budget = "cg-budget")]
fn first_try_budgeted(v: u64) -> Result<u64, E> {
    Ok(std::hint::black_box(v))
}

#[hedge(name = "cg-hedge", delay = "50ms")]
async fn hedged(v: u64) -> Result<u64, E> {
    Ok(std::hint::black_box(v))
}

#[hedge(name = "cg-hedge-p95", delay = "p95")]
async fn hedged_p95(v: u64) -> Result<u64, E> {
    Ok(std::hint::black_box(v))
}

#[bulkhead(name = "cg-bulkhead")]
fn slot(v: u64) -> Result<u64, E> {
    Ok(std::hint::black_box(v))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args
        .next()
        .expect("a case: closed, open, bulkhead, allowed, ready, pending, retry, retry_async, retry_budget, hedge or hedge_p95");
    let n: u64 = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number of calls");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    #[cfg(feature = "tracing")]
    resilience_bench::install_subscriber();
    let mut cx = Context::from_waker(Waker::noop());
    // One loop per case, so that choosing the case costs nothing per call.
    macro_rules! calls {
        ($i:ident => $call:expr) => {
            for $i in 0..n {
                $call;
            }
        };
    }
    match case.as_str() {
        "pending" => calls!(i => poll(pending(i), &mut cx)),
        "ready" => calls!(i => poll(ready(i), &mut cx)),
        "closed" => calls!(i => std::hint::black_box(closed(i)).unwrap()),
        "open" => calls!(i => {
            let _ = std::hint::black_box(open(i == 0));
        }),
        "bulkhead" => calls!(i => std::hint::black_box(slot(i)).unwrap()),
        "allowed" => calls!(i => std::hint::black_box(allowed(i)).unwrap()),
        "retry" => calls!(i => std::hint::black_box(first_try(i)).unwrap()),
        "retry_budget" => calls!(i => std::hint::black_box(first_try_budgeted(i)).unwrap()),
        "retry_async" => calls!(i => poll(first_try_async(i), &mut cx)),
        "hedge" => calls!(i => poll(hedged(i), &mut cx)),
        "hedge_p95" => calls!(i => poll(hedged_p95(i), &mut cx)),
        other => panic!("unknown case `{other}`"),
    }
}

/// Polls `future` until it is ready; the cases never leave it waiting.
#[inline(always)]
fn poll<F: Future>(future: F, cx: &mut Context<'_>) {
    let mut future = std::pin::pin!(future);
    while future.as_mut().poll(cx).is_pending() {}
}
