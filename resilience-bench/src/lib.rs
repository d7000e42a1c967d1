//! What the benchmarks share: the error type the annotated functions return,
//! criterion's settings, and a driver for two threads on one instance.
//!
//! Naming, which `report.py` relies on: one criterion group per case
//! (`breaker_closed_success`, ...), and in it the function ids `baseline` (the
//! bare function), `attribute` (our attribute as users write it), `runtime_api`
//! (our policy's API by hand) and one id per peer configuration
//! (`recloser`, `failsafe_default`, `tokio_semaphore`, ...). Two-thread cases
//! are groups ending in `_2_threads`, measured as the time per call with two
//! threads calling at once.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// A service's error type, wired to the library's rejections.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The dependency failed.
    #[error("downstream failed")]
    Downstream,
    /// A policy's rejection.
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

mod telemetry;

#[cfg(feature = "tracing")]
pub use telemetry::install_subscriber;

/// Short, steady runs: enough samples for a stable median on a 2-core machine.
/// Installs the telemetry of the enabled features first (see `telemetry.rs`).
pub fn criterion() -> Criterion {
    telemetry::install();
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .without_plots()
        .configure_from_args()
}

/// Runs `call` `iterations` times split over two threads started together,
/// and returns the wall time: criterion divides it by `iterations`, giving
/// the time per call at two calls at once (lower is more throughput).
pub fn two_threads(iterations: u64, call: impl Fn() + Sync) -> Duration {
    let start = Barrier::new(2);
    let half = iterations / 2;
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            start.wait();
            for _ in 0..iterations - half {
                call();
            }
        });
        start.wait();
        let began = Instant::now();
        for _ in 0..half {
            call();
        }
        other.join().expect("the other thread panicked");
        began.elapsed()
    })
}

/// Adds `id` to `group`: `call` measured with two threads calling it at once
/// (see [`two_threads`]).
pub fn on_two_threads<T>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    call: impl Fn() -> T + Sync,
) {
    group.bench_function(id, |b| {
        b.iter_custom(|iterations| {
            two_threads(iterations, || {
                std::hint::black_box(across_call(&call));
            })
        })
    });
}

/// Polls `future` to completion on this thread with a waker that does
/// nothing, so that an async call is measured without an executor's cost. For
/// futures that finish without waiting on a timer or I/O: ready at once, or
/// pending only until they wake themselves. Time-driven futures need a tokio
/// runtime entered on this thread (`Runtime::enter`).
pub fn poll_now<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// A future that is pending once, waking itself, then ready with `value`.
pub struct PendingOnce<T> {
    value: Option<T>,
    polled: bool,
}

impl<T> PendingOnce<T> {
    /// Ready with `value` on the second poll.
    pub fn new(value: T) -> Self {
        PendingOnce {
            value: Some(value),
            polled: false,
        }
    }
}

impl<T: Unpin> std::future::Future for PendingOnce<T> {
    type Output = T;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        if self.polled {
            std::task::Poll::Ready(self.value.take().expect("polled after completion"))
        } else {
            self.polled = true;
            context.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

/// Runs `call` behind a function call that is never inlined, so that every
/// case hands its result back the same way: across a call, through memory,
/// as any function too big to inline does. Without it, a peer's closure
/// inlined into criterion's loop returns nothing through memory while an
/// annotated function, which the compiler does not inline, pays the return.
#[inline(never)]
pub fn across_call<R>(call: impl FnOnce() -> R) -> R {
    call()
}
