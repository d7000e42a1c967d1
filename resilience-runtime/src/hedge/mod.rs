//! Hedging: when a call has not answered after a delay, a copy of it starts
//! beside it, and the first `Ok` wins.
//!
//! A hedge trades extra load for a shorter tail: most calls answer before
//! the delay and cost nothing more, and the few stuck behind a slow replica,
//! a lost packet or a garbage-collection pause get a second chance that does
//! not wait for them to fail. Hedge only calls that are safe to make twice
//! (reads, idempotent writes).
//!
//! - After `delay` without an answer, a copy of the call starts; after
//!   another `delay`, another, up to `max_hedged_attempts` copies.
//! - The first copy to return `Ok` (the primary or a hedge) is the call's
//!   answer; the others are dropped at once, which cancels them.
//! - An `Err` from one copy does not end the call while others run. When
//!   every copy started has failed, the call returns the primary's error; no
//!   further copy starts then: a hedge is not a retry (stack `#[retry]`
//!   above `#[hedge]` for that).
//! - A panic in any copy resumes in the caller, as a panic in an unhedged
//!   body would; the other copies are dropped with the call.
//!
//! `delay` is either a duration or a percentile of the instance's recent
//! latencies ([`HedgeDelay::Percentile`]): the latencies of the last 128
//! copies that returned `Ok`, each timed from its own start (failures are
//! left out, as a fast error would pull the delay down). Until 20 are known,
//! the delay is `delay_floor`, and after that never shorter than it. The
//! percentile is computed when a call's first poll finds it pending, and
//! again after every 16 new latencies.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use resilience_runtime::hedge::{Hedge, HedgeConfig, HedgeDelay};
//! use std::time::Duration;
//!
//! let hedge = Hedge::new(
//!     "search",
//!     HedgeConfig::default().delay(HedgeDelay::Fixed(Duration::from_millis(50))),
//! )
//! .unwrap();
//! let copies = std::sync::atomic::AtomicU32::new(0);
//! let answer: Result<&str, ()> = hedge
//!     .call_async(|| async {
//!         // The first copy is stuck; the hedge started at 50 ms answers at once.
//!         if copies.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
//!             tokio::time::sleep(Duration::from_secs(10)).await;
//!         }
//!         Ok("found")
//!     })
//!     .await;
//! assert_eq!(answer, Ok("found"));
//! assert_eq!(hedge.metrics().hedge_wins, 1);
//! # }
//! ```

mod hedged;
mod latency;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use hedged::Hedged;

use crate::config::{check, ConfigError};
use crate::event::{emit, Event, Listeners};
use crate::live::Live;
use crate::stats::{Counter, PerThreadCounter};
use crate::{ListenerId, Name};
use latency::Latencies;

/// The most copies a call may add: each is a whole call's load on the
/// dependency.
pub const MAX_HEDGED_ATTEMPTS: u32 = 10;

/// How long a hedge waits for an answer before it starts a copy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HedgeDelay {
    /// This long.
    Fixed(Duration),
    /// This percentile (in `(0, 100)`, e.g. `95.0`) of the instance's recent
    /// latencies, never shorter than `delay_floor`; written `"p95"`.
    Percentile(f64),
}

impl From<Duration> for HedgeDelay {
    fn from(delay: Duration) -> Self {
        HedgeDelay::Fixed(delay)
    }
}

/// As the attributes and files write it: `"50ms"`, `"p95"`, `"p99.9"`.
impl fmt::Display for HedgeDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HedgeDelay::Fixed(delay) => f.write_str(&resilience_grammar::duration::format(*delay)),
            HedgeDelay::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

/// A hedge's settings; the attribute's arguments, with the same defaults.
///
/// ```
/// use resilience_runtime::hedge::{HedgeConfig, HedgeDelay};
/// use std::time::Duration;
///
/// let config = HedgeConfig::default()
///     .delay(HedgeDelay::Percentile(95.0))
///     .delay_floor(Duration::from_millis(20))
///     .max_hedged_attempts(2);
/// assert!(config.validate().is_ok());
/// assert!(HedgeConfig::default().max_hedged_attempts(0).validate().is_err());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct HedgeConfig {
    /// The wait for an answer before each copy. The attribute requires it;
    /// default 2 s.
    pub delay: HedgeDelay,
    /// Copies a call may add to the primary, in `1..=10`. Default 1.
    pub max_hedged_attempts: u32,
    /// With a percentile `delay`: the delay while fewer than 20 latencies
    /// are known, and the shortest one after. Default 10 ms.
    pub delay_floor: Duration,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        HedgeConfig {
            delay: HedgeDelay::Fixed(Duration::from_secs(2)),
            max_hedged_attempts: 1,
            delay_floor: Duration::from_millis(10),
        }
    }
}

impl HedgeConfig {
    /// Sets [`delay`](Self::delay): a [`HedgeDelay`] or a `Duration`.
    pub fn delay(mut self, delay: impl Into<HedgeDelay>) -> Self {
        self.delay = delay.into();
        self
    }

    /// Sets [`max_hedged_attempts`](Self::max_hedged_attempts).
    pub fn max_hedged_attempts(mut self, n: u32) -> Self {
        self.max_hedged_attempts = n;
        self
    }

    /// Sets [`delay_floor`](Self::delay_floor).
    pub fn delay_floor(mut self, floor: Duration) -> Self {
        self.delay_floor = floor;
        self
    }

    /// Checks every setting, naming the first one at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let HedgeDelay::Percentile(p) = self.delay {
            check(p > 0.0 && p < 100.0, "delay", || {
                format!("a percentile must be above 0 and below 100, got {p}")
            })?;
        }
        check(
            (1..=MAX_HEDGED_ATTEMPTS).contains(&self.max_hedged_attempts),
            "max_hedged_attempts",
            || {
                format!(
                    "must be in 1..={MAX_HEDGED_ATTEMPTS}, got {}",
                    self.max_hedged_attempts
                )
            },
        )
    }
}

/// What one hedge reports to the listeners registered with
/// [`Hedge::on_event`]. Listeners run on the task that made the call.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HedgeEvent {
    /// A copy of a call started, `delay` after the previous one.
    Hedged {
        /// The copy, counting the hedged ones from 1.
        attempt: u32,
        /// The delay in force.
        delay: Duration,
    },
    /// The primary answered `Ok` first.
    PrimarySucceeded,
    /// A hedged copy answered `Ok` first.
    HedgeSucceeded {
        /// The copy, counting the hedged ones from 1.
        attempt: u32,
    },
    /// Every copy failed; the primary's error is returned.
    AllFailed {
        /// Copies that ran, the primary included.
        copies: u32,
    },
}

/// A point-in-time copy of a hedge's counters.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HedgeMetrics {
    /// Calls that ended, however: the sum of the three below.
    pub calls: u64,
    /// Calls the primary answered with `Ok`, hedged or not.
    pub primary_wins: u64,
    /// Calls a hedged copy answered with `Ok`.
    pub hedge_wins: u64,
    /// Calls whose every copy failed.
    pub failed_calls: u64,
    /// Hedged copies started, over all calls.
    pub hedges_started: u64,
}

type EventListener = dyn Fn(&HedgeEvent) + Send + Sync;

/// Starts copies of a slow call and keeps the first `Ok`; see the
/// [module](self) for the rules.
#[derive(Debug)]
pub struct Hedge {
    name: Name,
    config: Live<HedgeConfig>,
    latencies: Latencies,
    primary_wins: PerThreadCounter,
    hedge_wins: Counter,
    failed: Counter,
    hedges_started: Counter,
    listeners: Listeners<EventListener>,
}

impl Hedge {
    /// A hedge named `name`.
    pub fn new(name: impl Into<Name>, config: HedgeConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Hedge {
            name: name.into(),
            config: Live::new(config),
            latencies: Latencies::new(),
            primary_wins: PerThreadCounter::new(),
            hedge_wins: Counter::default(),
            failed: Counter::default(),
            hedges_started: Counter::default(),
            listeners: Listeners::new(),
        })
    }

    /// The hedge's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hedge's settings in force now.
    #[inline]
    pub fn config(&self) -> &HedgeConfig {
        self.config.get()
    }

    /// Applies new settings from the next call on; a call in progress keeps
    /// those it started with. The recorded latencies are kept. An invalid
    /// configuration is returned as the error and changes nothing.
    pub fn reconfigure(&self, config: HedgeConfig) -> Result<(), ConfigError> {
        config.validate()?;
        self.config
            .update(|current| (*current != config).then_some(config));
        Ok(())
    }

    /// The delay a call pending now would wait before its first copy: the
    /// fixed delay, or the percentile of the recent latencies (at least
    /// `delay_floor`; `delay_floor` itself while fewer than 20 are known).
    ///
    /// ```
    /// use resilience_runtime::hedge::{Hedge, HedgeConfig, HedgeDelay};
    /// use std::time::Duration;
    ///
    /// let config = HedgeConfig::default()
    ///     .delay(HedgeDelay::Percentile(95.0))
    ///     .delay_floor(Duration::from_millis(20));
    /// let hedge = Hedge::new("search", config).unwrap();
    /// assert_eq!(hedge.current_delay(), Duration::from_millis(20));
    /// ```
    pub fn current_delay(&self) -> Duration {
        self.delay_for(self.config.get())
    }

    fn delay_for(&self, config: &HedgeConfig) -> Duration {
        match config.delay {
            HedgeDelay::Fixed(delay) => delay,
            HedgeDelay::Percentile(p) => self
                .latencies
                .percentile(p)
                .map_or(config.delay_floor, |delay| delay.max(config.delay_floor)),
        }
    }

    /// The counters, read now.
    pub fn metrics(&self) -> HedgeMetrics {
        let primary_wins = self.primary_wins.get();
        let hedge_wins = self.hedge_wins.get();
        let failed_calls = self.failed.get();
        HedgeMetrics {
            calls: primary_wins + hedge_wins + failed_calls,
            primary_wins,
            hedge_wins,
            failed_calls,
            hedges_started: self.hedges_started.get(),
        }
    }

    /// Calls `listener` with every [`HedgeEvent`] of this hedge from now on,
    /// until [`remove_listener`](Self::remove_listener).
    pub fn on_event(&self, listener: impl Fn(&HedgeEvent) + Send + Sync + 'static) -> ListenerId {
        self.listeners.add(Arc::new(listener))
    }

    /// Stops calling a listener; `false` if it was not registered here.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
    }

    /// Calls `f` and awaits its future, starting another call of `f` after
    /// each `delay` without an answer (up to `max_hedged_attempts`); returns
    /// the first `Ok`, else, once every copy has failed, the primary's error.
    /// The copies run concurrently on the caller's task, so the futures of
    /// `f` may borrow what `f` borrows.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use resilience_runtime::hedge::{Hedge, HedgeConfig};
    /// use std::time::Duration;
    ///
    /// let hedge = Hedge::new("lookup", HedgeConfig::default().delay(Duration::from_millis(10))).unwrap();
    /// let failed: Result<(), &str> = hedge.call_async(|| async { Err("down") }).await;
    /// assert_eq!(failed, Err("down"));
    /// assert_eq!(hedge.metrics().hedges_started, 0, "a fast failure starts no copy");
    /// # }
    /// ```
    pub async fn call_async<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.judged(f, Result::is_ok).await
    }

    /// [`call_async`](Self::call_async) for any output, `ok` telling which
    /// outputs are answers: the attribute's expansion.
    #[doc(hidden)]
    #[inline]
    pub fn judged<F, Fut, Ok>(&self, f: F, ok: Ok) -> Hedged<'_, F, Fut, Ok>
    where
        F: Fn() -> Fut,
        Fut: Future,
        Ok: Fn(&Fut::Output) -> bool,
    {
        Hedged::new(self, f, ok)
    }

    #[inline]
    fn primary_won(&self) {
        self.primary_wins.add();
        if self.listeners.routine_wanted() {
            self.report_primary_won();
        }
    }

    // Out of line, so that a call nobody listens to pays a branch.
    #[cold]
    #[inline(never)]
    fn report_primary_won(&self) {
        self.listeners
            .notify(|listener| listener(&HedgeEvent::PrimarySucceeded));
    }

    #[cold]
    fn hedge_won(&self, attempt: u32) {
        self.hedge_wins.add();
        self.listeners
            .notify(|listener| listener(&HedgeEvent::HedgeSucceeded { attempt }));
    }

    #[cold]
    fn all_failed(&self, copies: u32) {
        self.failed.add();
        self.listeners
            .notify(|listener| listener(&HedgeEvent::AllFailed { copies }));
    }

    #[cold]
    fn hedged(&self, attempt: u32, delay: Duration) {
        self.hedges_started.add();
        self.listeners
            .notify(|listener| listener(&HedgeEvent::Hedged { attempt, delay }));
        emit(Event::HedgeStarted {
            name: &self.name,
            attempt,
            delay,
        });
    }
}
