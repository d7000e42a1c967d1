//! Time limiter: a deadline on an async call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::config::ConfigError;
use crate::event::{emit, Event, Listeners};
use crate::live::Live;
use crate::stats::{Counter, PerThreadCounter};
use crate::{Error, ListenerId, Name};
use std::sync::Arc;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

/// A time limiter's settings.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct TimeLimiterConfig {
    /// The longest a call may take. The attribute requires it; default 30 s.
    pub timeout: Duration,
}

impl Default for TimeLimiterConfig {
    fn default() -> Self {
        TimeLimiterConfig {
            timeout: Duration::from_secs(30),
        }
    }
}

impl TimeLimiterConfig {
    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks every setting; every timeout is valid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// Cancels a call that runs past its timeout by dropping its future.
///
/// A future that is ready on its first poll always completes, whatever the
/// timeout.
///
/// ```
/// use resilience_runtime::time_limiter::{TimeLimiter, TimeLimiterConfig};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let limiter = TimeLimiter::new("report", TimeLimiterConfig::default().timeout(Duration::from_millis(10))).unwrap();
/// let slow = limiter.run(tokio::time::sleep(Duration::from_secs(1))).await;
/// assert!(slow.unwrap_err().is_timeout());
/// assert_eq!(limiter.timeouts(), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct TimeLimiter {
    name: Name,
    config: Live<TimeLimiterConfig>,
    successful: PerThreadCounter,
    failed: PerThreadCounter,
    timeouts: Counter,
    listeners: Listeners<EventListener>,
}

type EventListener = dyn Fn(&TimeLimiterEvent) + Send + Sync;

/// What one time limiter reports to the listeners registered with
/// [`TimeLimiter::on_event`]. Listeners run on the task that made the call.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLimiterEvent {
    /// A call ended in time with `Ok` (or, through [`run`](TimeLimiter::run), at all).
    Succeeded,
    /// A call ended in time with `Err`.
    Failed,
    /// A call ran past its timeout and was dropped.
    TimedOut {
        /// The limit.
        timeout: Duration,
    },
}

/// A point-in-time copy of a time limiter's counters.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimiterMetrics {
    /// Calls that ended in time with `Ok`, since creation.
    pub successful_calls: u64,
    /// Calls that ended in time with `Err`.
    pub failed_calls: u64,
    /// Calls that timed out.
    pub timeout_calls: u64,
}

impl TimeLimiter {
    /// A time limiter named `name`.
    pub fn new(name: impl Into<Name>, config: TimeLimiterConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(TimeLimiter {
            name: name.into(),
            config: Live::new(config),
            successful: PerThreadCounter::new(),
            failed: PerThreadCounter::new(),
            timeouts: Counter::default(),
            listeners: Listeners::new(),
        })
    }

    /// The limiter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limiter's settings in force now.
    #[inline]
    pub fn config(&self) -> &TimeLimiterConfig {
        self.config.get()
    }

    /// Applies new settings from the next call on; a call in progress keeps
    /// the deadline it started with. An invalid configuration is returned as
    /// the error and changes nothing.
    ///
    /// ```
    /// use resilience_runtime::time_limiter::{TimeLimiter, TimeLimiterConfig};
    /// use std::time::Duration;
    ///
    /// let limiter = TimeLimiter::new("report", TimeLimiterConfig::default()).unwrap();
    /// limiter.reconfigure(TimeLimiterConfig::default().timeout(Duration::from_secs(5))).unwrap();
    /// assert_eq!(limiter.config().timeout, Duration::from_secs(5));
    /// ```
    pub fn reconfigure(&self, config: TimeLimiterConfig) -> Result<(), ConfigError> {
        config.validate()?;
        self.config
            .update(|current| (*current != config).then_some(config));
        Ok(())
    }

    /// Calls that timed out so far.
    pub fn timeouts(&self) -> u64 {
        self.timeouts.get()
    }

    /// The counters, read now.
    pub fn metrics(&self) -> TimeLimiterMetrics {
        TimeLimiterMetrics {
            successful_calls: self.successful.get(),
            failed_calls: self.failed.get(),
            timeout_calls: self.timeouts.get(),
        }
    }

    /// Calls `listener` with every [`TimeLimiterEvent`] of this limiter from
    /// now on, until [`remove_listener`](Self::remove_listener).
    pub fn on_event(
        &self,
        listener: impl Fn(&TimeLimiterEvent) + Send + Sync + 'static,
    ) -> ListenerId {
        self.listeners.add(Arc::new(listener))
    }

    /// Stops calling a listener; `false` if it was not registered here.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
    }

    /// Awaits the future `f` makes, or drops it and returns [`Error::Timeout`]
    /// (converted into `E`) once the timeout has passed; counts an `Ok` in
    /// time as successful and an `Err` as failed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use resilience_runtime::time_limiter::{TimeLimiter, TimeLimiterConfig};
    ///
    /// #[derive(Debug)]
    /// enum ReportError { Down, Resilience(resilience_runtime::Error) }
    /// impl From<resilience_runtime::Error> for ReportError {
    ///     fn from(error: resilience_runtime::Error) -> Self { ReportError::Resilience(error) }
    /// }
    ///
    /// let limiter = TimeLimiter::new("report", TimeLimiterConfig::default()).unwrap();
    /// let failed: Result<(), ReportError> = limiter.call_async(|| async { Err(ReportError::Down) }).await;
    /// assert!(matches!(failed, Err(ReportError::Down)));
    /// assert_eq!(limiter.metrics().failed_calls, 1);
    /// # }
    /// ```
    pub async fn call_async<T, E, Fut>(&self, f: impl FnOnce() -> Fut) -> Result<T, E>
    where
        E: From<Error>,
        Fut: Future<Output = Result<T, E>>,
    {
        self.judged(f(), Result::is_ok).await?
    }

    /// Awaits `future`, or drops it and returns [`Error::Timeout`] once the
    /// timeout has passed (on tokio's clock). The deadline counts from the
    /// call, as with `tokio::time::timeout`; the timer itself is only set up
    /// once a poll finds the future pending, so a future ready at once costs
    /// one clock read.
    ///
    /// A future that ends in time counts as successful: `run` does not look
    /// into its output (use [`call_async`](Self::call_async) for `Result`s).
    #[inline]
    pub fn run<F: Future>(&self, future: F) -> Judged<'_, F, impl Fn(&F::Output) -> bool> {
        self.judged(future, |_| true)
    }

    /// [`run`](Self::run), counting an output in time as successful when
    /// `ok` says so and as failed otherwise: the attribute's expansion and
    /// [`call_async`](Self::call_async).
    #[doc(hidden)]
    #[inline]
    pub fn judged<F: Future, Ok: Fn(&F::Output) -> bool>(
        &self,
        future: F,
        ok: Ok,
    ) -> Judged<'_, F, Ok> {
        let timeout = self.config.get().timeout;
        Judged {
            limiter: self,
            // `None` beyond the clock's range, where no deadline can pass.
            deadline: Instant::now().checked_add(timeout),
            timeout,
            ok,
            future,
            timer: None,
        }
    }

    /// Counts a call that ended in time, and tells the listeners.
    #[inline]
    fn finished(&self, ok: bool) {
        if ok {
            self.successful.add();
        } else {
            self.failed.add();
        }
        if self.listeners.routine_wanted() {
            self.report_finished(ok);
        }
    }

    // Out of line, so that a call nobody listens to pays a branch.
    #[cold]
    #[inline(never)]
    fn report_finished(&self, ok: bool) {
        let event = if ok {
            TimeLimiterEvent::Succeeded
        } else {
            TimeLimiterEvent::Failed
        };
        self.listeners.notify(|listener| listener(&event));
        emit(Event::TimeLimiterFinished {
            name: &self.name,
            ok,
        });
    }

    #[cold]
    fn timed_out(&self, timeout: Duration) -> Error {
        self.timeouts.add();
        self.listeners
            .notify(|listener| listener(&TimeLimiterEvent::TimedOut { timeout }));
        emit(Event::TimedOut {
            name: &self.name,
            timeout,
        });
        Error::Timeout {
            name: self.name.clone(),
            timeout,
        }
    }
}

pin_project! {
    /// The future of [`TimeLimiter::run`]: the output of the future it
    /// guards, or [`Error::Timeout`].
    //
    // Written by hand rather than as an `async fn`: the state machine of one
    // moved the guarded future twice and dropped itself out of line, which
    // cost a ready call about 30 instructions.
    #[must_use = "futures do nothing unless polled"]
    pub struct Judged<'a, F, Ok> {
        limiter: &'a TimeLimiter,
        deadline: Option<Instant>,
        timeout: Duration,
        ok: Ok,
        #[pin]
        future: F,
        #[pin]
        timer: Option<Sleep>,
    }
}

impl<F: Future, Ok: Fn(&F::Output) -> bool> Future for Judged<'_, F, Ok> {
    type Output = Result<F::Output, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(output) = this.future.poll(context) {
            this.limiter.finished((this.ok)(&output));
            return Poll::Ready(Ok(output));
        }
        let Some(deadline) = *this.deadline else {
            return Poll::Pending;
        };
        if this.timer.is_none() {
            this.timer.set(Some(tokio::time::sleep_until(deadline)));
        }
        match this.timer.as_pin_mut().map(|timer| timer.poll(context)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(this.limiter.timed_out(*this.timeout))),
            _ => Poll::Pending,
        }
    }
}
