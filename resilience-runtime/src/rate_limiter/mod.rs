//! Rate limiter: a token bucket kept as one atomic timestamp (GCRA).

mod config;
#[cfg(feature = "redis")]
mod remote;
mod shared;

pub use config::RateLimiterConfig;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{saturating_nanos, Epoch};
use crate::config::ConfigError;
use crate::event::{emit, Event, Listeners};
use crate::live::Live;
use crate::stats::{Counter, PerThreadCounter};
use crate::{Error, ListenerId, Name};

/// A token bucket that refills lazily, lock-free.
///
/// It keeps one number, the time at which the bucket would next be full again
/// if nobody took a token (the "theoretical arrival time" of GCRA). Taking a
/// token moves it one refill interval later; a call is allowed when that stays
/// within `max_tokens` intervals of now. The result is exactly a bucket of
/// `max_tokens` refilled at `refill_rate`, with no background timer.
///
/// [`reconfigure`](Self::reconfigure) changes its settings while in use; the
/// tokens in the bucket stay.
///
/// ```
/// use resilience_runtime::rate_limiter::RateLimiterConfig;
/// use resilience_runtime::{Error, RateLimiter};
///
/// let limiter = RateLimiter::new("search", RateLimiterConfig::default().max_tokens(2).refill_rate(1.0)).unwrap();
/// assert!(limiter.try_acquire().is_ok());
/// assert!(limiter.try_acquire().is_ok());
/// match limiter.try_acquire() {
///     Err(Error::RateLimited { retry_after, .. }) => assert!(retry_after.as_millis() > 990),
///     other => panic!("expected a rejection, got {other:?}"),
/// }
/// ```
#[derive(Debug)]
// What a permitted call reads and writes comes first, in one aligned cache
// line: a keyed family's members are cold in cache, each line another miss.
#[repr(C, align(64))]
pub struct RateLimiter {
    /// The theoretical arrival time, in nanoseconds of the settings' clock.
    tat: AtomicU64,
    permitted: PerThreadCounter,
    listeners: Listeners<EventListener>,
    settings: Live<Settings>,
    name: Name,
    waited: Counter,
    rejected: Counter,
    /// Callers sleeping until their token comes.
    waiting: AtomicU64,
    /// With `store = "redis"`: this replica's share of the fleet's bucket,
    /// which decides while Redis is unavailable (`on_store_error = "local"`)
    /// and for sync callers; its arrival time, in the clock's nanoseconds.
    share_tat: AtomicU64,
    /// Whether the store has failed since it last answered.
    store_down: AtomicBool,
    /// When the store failed, in the clock's nanoseconds.
    store_down_since: AtomicU64,
    /// While the store is down, when a call may ask it again (the others
    /// are decided at once), in the clock's nanoseconds.
    store_retry_at: AtomicU64,
    /// Requests to the store that failed.
    store_errors: Counter,
}

type EventListener = dyn Fn(&RateLimiterEvent) + Send + Sync;

/// What one rate limiter reports to the listeners registered with
/// [`RateLimiter::on_event`]. Listeners run on the calling thread.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimiterEvent {
    /// A call took a token that was there.
    Permitted,
    /// A call took a token after waiting for it.
    Waited {
        /// How long it waited.
        wait: Duration,
    },
    /// A call would have waited longer than `max_wait`.
    Rejected {
        /// When the token it asked for would have come.
        retry_after: Duration,
    },
}

/// A point-in-time copy of a rate limiter's gauges and counters.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimiterMetrics {
    /// Tokens in the bucket now, with the fraction of the next one.
    pub available_permissions: f64,
    /// Callers waiting for their token now.
    pub waiting_calls: u64,
    /// Calls that got a token (after a wait or not), since creation.
    pub permitted_calls: u64,
    /// Of those, the calls that waited for it.
    pub waited_calls: u64,
    /// Calls refused.
    pub rejected_calls: u64,
    /// With `store = "redis"`: checks Redis did not answer in time, or
    /// answered with an error, decided by `on_store_error` instead.
    pub store_errors: u64,
}

/// The settings and what the call path derives from them, in nanoseconds.
#[derive(Debug)]
struct Settings {
    interval: u64,
    burst: u64,
    max_wait: u64,
    /// A bucket that never refills: the same arithmetic on a clock that
    /// stands still at zero, with one-unit intervals, counts the tokens taken.
    fixed_quota: bool,
    /// The bucket is in Redis (`store = "redis"`).
    shared: bool,
    /// This replica's share of a shared bucket: `expected_replicas` times
    /// the interval, and as large a part of the burst (at least one token).
    share_interval: u64,
    share_burst: u64,
    config: RateLimiterConfig,
    /// Here rather than in the limiter, so that the members of a keyed
    /// family, which share one block, share the one cache line too.
    clock: Epoch,
}

impl Settings {
    fn new(config: RateLimiterConfig, clock: Epoch) -> Self {
        let fixed_quota = config.refill_rate == 0.0;
        // Rounded up, so that the limiter never lets more through than the rate.
        let interval = if fixed_quota {
            1
        } else {
            (1e9 / config.refill_rate).ceil().min(u64::MAX as f64) as u64
        };
        let replicas = config.expected_replicas.max(1);
        let share_interval = interval.saturating_mul(u64::from(replicas));
        let share_tokens = (config.max_tokens / replicas).max(1);
        Settings {
            interval,
            burst: interval.saturating_mul(u64::from(config.max_tokens)),
            shared: config.store == crate::stores::Store::Redis,
            share_interval,
            share_burst: share_interval.saturating_mul(u64::from(share_tokens)),
            // No wait ends with a token when none will ever come.
            max_wait: if fixed_quota {
                0
            } else {
                saturating_nanos(config.max_wait)
            },
            fixed_quota,
            config,
            clock,
        }
    }

    /// The time the bucket is judged at: the clock, or zero for a fixed quota.
    #[inline]
    fn now(&self) -> u64 {
        if self.fixed_quota {
            0
        } else {
            self.clock.nanos()
        }
    }

    /// How long until the token a call was refused would come.
    fn retry_after(&self, wait: u64) -> Duration {
        if self.fixed_quota {
            Duration::MAX
        } else {
            Duration::from_nanos(wait)
        }
    }

    /// Tokens in the bucket at `now` given the arrival time `tat`: below zero
    /// by the tokens promised to callers still waiting for them.
    fn tokens(&self, tat: u64, now: u64) -> f64 {
        let used = tat.saturating_sub(now);
        (self.burst as f64 - used as f64) / self.interval as f64
    }

    /// The arrival time that leaves `tokens` in the bucket at `now`, at most full.
    fn arrival(&self, tokens: f64, now: u64) -> u64 {
        let used = self.burst as f64
            - tokens.min(f64::from(self.config.max_tokens)) * self.interval as f64;
        // Rounded up, so that a reload never adds a token by rounding.
        now.saturating_add(used.max(0.0).ceil().min(u64::MAX as f64) as u64)
    }
}

impl RateLimiter {
    /// A rate limiter named `name` with a full bucket.
    pub fn new(name: impl Into<Name>, config: RateLimiterConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::sharing(
            name.into(),
            Arc::new(Settings::new(config, Epoch::now())),
        ))
    }

    /// A limiter with a full bucket and the settings block `settings`, which
    /// other limiters may share.
    fn sharing(name: Name, settings: Arc<Settings>) -> Self {
        RateLimiter {
            tat: AtomicU64::new(0),
            settings: Live::shared(settings),
            name,
            permitted: PerThreadCounter::new(),
            waited: Counter::default(),
            rejected: Counter::default(),
            waiting: AtomicU64::new(0),
            listeners: Listeners::new(),
            share_tat: AtomicU64::new(0),
            store_down: AtomicBool::new(false),
            store_down_since: AtomicU64::new(0),
            store_retry_at: AtomicU64::new(0),
            store_errors: Counter::default(),
        }
    }

    /// The limiter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limiter's settings in force now.
    #[inline]
    pub fn config(&self) -> &RateLimiterConfig {
        &self.settings.get().config
    }

    /// Tokens in the bucket right now, with the fraction of the next one.
    pub fn available_tokens(&self) -> f64 {
        let settings = self.settings.get();
        let now = settings.now();
        settings
            .tokens(self.tat.load(Ordering::Acquire), now)
            .max(0.0)
    }

    /// Applies new settings while the limiter is in use. An invalid
    /// configuration is returned as the error and changes nothing.
    ///
    /// The bucket keeps its tokens, at most the new `max_tokens`; the new
    /// `refill_rate` adds them from now on, and the new `max_wait` applies to
    /// the calls that start from now. Callers already waiting for a token
    /// keep their place: the tokens promised to them stay promised, and they
    /// wake when they were told.
    ///
    /// ```
    /// use resilience_runtime::rate_limiter::RateLimiterConfig;
    /// use resilience_runtime::RateLimiter;
    ///
    /// let limiter = RateLimiter::new("search", RateLimiterConfig::default().max_tokens(10)).unwrap();
    /// limiter.reconfigure(RateLimiterConfig::default().max_tokens(3).refill_rate(1.0)).unwrap();
    /// assert!((limiter.available_tokens() - 3.0).abs() < 0.01, "a full bucket, capped");
    /// ```
    pub fn reconfigure(&self, config: RateLimiterConfig) -> Result<(), ConfigError> {
        config.validate()?;
        self.settings.replace(|current| {
            (current.config != config)
                .then(|| self.converted(current, Settings::new(config, current.clock.clone())))
        });
        Ok(())
    }

    /// Moves the bucket from the settings `current` to `next`, keeping its
    /// tokens, and returns `next` to be published.
    fn converted(&self, current: &Settings, next: impl Into<Arc<Settings>>) -> Arc<Settings> {
        let next = next.into();
        // Calls racing this swap may be judged by either setting; the
        // tokens themselves are converted in one atomic step.
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                let tokens = current.tokens(tat, current.now());
                Some(next.arrival(tokens, next.now()))
            });
        next
    }

    /// A limiter named `name` with a full bucket and this one's settings
    /// block: a keyed family's new member.
    pub(crate) fn sibling(&self, name: Name) -> Self {
        Self::sharing(name, self.settings.block())
    }

    /// Takes `sibling`'s settings block, which it was just given: a keyed
    /// family's reload.
    pub(crate) fn follow(&self, sibling: &Self) {
        let next = sibling.settings.block();
        self.settings.replace(|current| {
            (!std::ptr::eq(current, &*next)).then(|| self.converted(current, next))
        });
    }

    /// Calls rejected so far.
    pub fn rejected_calls(&self) -> u64 {
        self.rejected.get()
    }

    /// The gauges and counters, read now.
    ///
    /// ```
    /// use resilience_runtime::rate_limiter::RateLimiterConfig;
    /// use resilience_runtime::RateLimiter;
    ///
    /// let limiter = RateLimiter::new("search", RateLimiterConfig::default().max_tokens(1).refill_rate(1.0)).unwrap();
    /// limiter.try_acquire().unwrap();
    /// assert!(limiter.try_acquire().is_err());
    /// let metrics = limiter.metrics();
    /// assert_eq!((metrics.permitted_calls, metrics.rejected_calls), (1, 1));
    /// ```
    pub fn metrics(&self) -> RateLimiterMetrics {
        RateLimiterMetrics {
            available_permissions: self.available_tokens(),
            waiting_calls: self.waiting.load(Ordering::Relaxed),
            permitted_calls: self.permitted.get(),
            waited_calls: self.waited.get(),
            rejected_calls: self.rejected.get(),
            store_errors: self.store_errors.get(),
        }
    }

    /// Calls `listener` with every [`RateLimiterEvent`] of this limiter from
    /// now on, until [`remove_listener`](Self::remove_listener).
    pub fn on_event(
        &self,
        listener: impl Fn(&RateLimiterEvent) + Send + Sync + 'static,
    ) -> ListenerId {
        self.listeners.add(Arc::new(listener))
    }

    /// Stops calling a listener; `false` if it was not registered here.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
    }

    /// Takes a token if there is one, without waiting.
    ///
    /// With `store = "redis"`, a sync call cannot wait for the network, so
    /// it is decided as when Redis is unavailable (`on_store_error`).
    #[inline]
    pub fn try_acquire(&self) -> Result<(), Error> {
        let settings = self.settings.get();
        if settings.shared {
            self.alone(settings, 0)?;
        } else {
            self.reserve(settings, 0)?;
        }
        self.permit(0);
        Ok(())
    }

    /// Takes a token, waiting (on tokio's clock) when one will be there within
    /// `max_wait`. A cancelled wait gives its token back.
    ///
    /// With `store = "redis"`, the token comes from the fleet's bucket in
    /// Redis, one round trip, or as `on_store_error` says when Redis does not
    /// answer within `store_timeout`.
    #[inline]
    pub async fn acquire(&self) -> Result<(), Error> {
        let settings = self.settings.get();
        #[cfg(feature = "redis")]
        if settings.shared {
            return self.acquire_shared(settings).await;
        }
        let wait = self.reserve(settings, settings.max_wait)?;
        self.sleep_for(wait, Bucket::Own).await;
        self.permit(wait);
        Ok(())
    }

    /// Sleeps `wait` nanoseconds (on tokio's clock) for a token reserved in
    /// `bucket`, giving it back if the sleep is cancelled.
    async fn sleep_for(&self, wait: u64, bucket: Bucket) {
        if wait > 0 {
            let reservation = Reservation::new(self, bucket);
            tokio::time::sleep(Duration::from_nanos(wait)).await;
            reservation.kept();
        }
    }

    /// Takes a token, sleeping the thread when one will be there within
    /// `max_wait`. With `store = "redis"`, decided as [`try_acquire`](Self::try_acquire) is.
    #[inline]
    pub fn acquire_blocking(&self) -> Result<(), Error> {
        let settings = self.settings.get();
        let (wait, bucket) = if settings.shared {
            (self.alone(settings, settings.max_wait)?, Bucket::Share)
        } else {
            (self.reserve(settings, settings.max_wait)?, Bucket::Own)
        };
        if wait > 0 {
            let reservation = Reservation::new(self, bucket);
            std::thread::sleep(Duration::from_nanos(wait));
            reservation.kept();
        }
        self.permit(wait);
        Ok(())
    }

    /// Runs `f` once a token is taken, blocking up to `max_wait` for one.
    pub fn call<T, E: From<Error>>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        self.acquire_blocking()?;
        f()
    }

    /// Awaits the future `f` makes once a token is taken, waiting up to `max_wait` for one.
    pub async fn call_async<T, E, Fut>(&self, f: impl FnOnce() -> Fut) -> Result<T, E>
    where
        E: From<Error>,
        Fut: Future<Output = Result<T, E>>,
    {
        self.acquire().await?;
        f().await
    }

    /// Takes a token if there is one now, counting no refusal when there is
    /// none: the fast path of a caller that otherwise goes on to
    /// [`acquire`](Self::acquire) (or [`acquire_blocking`](Self::acquire_blocking)),
    /// which counts the refusal if there is one.
    #[inline]
    pub fn take_free(&self) -> bool {
        let settings = self.settings.get();
        // A shared bucket is asked by `acquire`, over the network.
        if settings.shared {
            return false;
        }
        let free = self.advance(settings, 0).is_ok();
        if free {
            self.permit(0);
        }
        free
    }

    /// Takes the next token if it comes within `max_wait` nanoseconds; returns
    /// how long until it does.
    #[inline]
    fn reserve(&self, settings: &Settings, max_wait: u64) -> Result<u64, Error> {
        self.advance(settings, max_wait)
            .map_err(|wait| self.reject(settings.retry_after(wait)))
    }

    /// [`reserve`](Self::reserve) without the refusal: `Err` holds the wait
    /// for the token that was not taken.
    #[inline]
    fn advance(&self, settings: &Settings, max_wait: u64) -> Result<u64, u64> {
        advance(
            &self.tat,
            settings.now(),
            settings.interval,
            settings.burst,
            max_wait,
        )
    }

    /// Counts a call that got its token after `waited` nanoseconds, and tells the listeners.
    #[inline]
    fn permit(&self, waited: u64) {
        self.permitted.add();
        if waited > 0 {
            self.waited.add();
        }
        if self.listeners.routine_wanted() {
            self.report_permit(waited);
        }
    }

    // Out of line, so that a call nobody listens to pays a branch.
    #[cold]
    #[inline(never)]
    fn report_permit(&self, waited: u64) {
        let waited = Duration::from_nanos(waited);
        self.listeners.notify(|listener| {
            listener(&if waited.is_zero() {
                RateLimiterEvent::Permitted
            } else {
                RateLimiterEvent::Waited { wait: waited }
            })
        });
        emit(Event::RateLimiterPermitted {
            name: &self.name,
            waited,
        });
    }

    // Inline: built in the caller, the error lands in its return slot
    // without a copy through the stack (a store-forwarding stall).
    #[inline]
    fn reject(&self, retry_after: Duration) -> Error {
        self.rejected.add();
        self.listeners
            .notify(|listener| listener(&RateLimiterEvent::Rejected { retry_after }));
        let error = Error::RateLimited {
            name: self.name.clone(),
            retry_after,
        };
        emit(Event::CallRejected { error: &error });
        error
    }
}

/// Takes the next token of the bucket whose theoretical arrival time is
/// `tat` if it comes within `max_wait` of `now`; returns how long until it
/// does, or in `Err` how long until it would have.
#[inline]
fn advance(
    tat: &AtomicU64,
    now: u64,
    interval: u64,
    burst: u64,
    max_wait: u64,
) -> Result<u64, u64> {
    let mut current = tat.load(Ordering::Acquire);
    loop {
        let next = current.max(now).saturating_add(interval);
        let wait = next.saturating_sub(now.saturating_add(burst));
        if wait > max_wait {
            return Err(wait);
        }
        match tat.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(wait),
            Err(actual) => current = actual,
        }
    }
}

/// Which of a limiter's buckets a token was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucket {
    /// Its own: the whole bucket of a local limiter, or the fleet's rate
    /// checked locally first for a shared one (`local_precheck`).
    Own,
    /// This replica's share of a shared bucket.
    Share,
}

impl RateLimiter {
    /// Gives back one token taken from `bucket`, of the settings in force
    /// now (which a reload converted the bucket to).
    fn give_back(&self, bucket: Bucket) {
        let settings = self.settings.get();
        let (tat, interval) = match bucket {
            Bucket::Own => (&self.tat, settings.interval),
            Bucket::Share => (&self.share_tat, settings.share_interval),
        };
        let _ = tat.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
            Some(tat.saturating_sub(interval))
        });
    }
}

/// A token taken ahead of time, counted as waiting while its caller sleeps;
/// handed back to its bucket if the wait is cancelled.
struct Reservation<'a> {
    limiter: &'a RateLimiter,
    /// The bucket to give the token back to; none when someone else does.
    bucket: Option<Bucket>,
}

impl<'a> Reservation<'a> {
    fn new(limiter: &'a RateLimiter, bucket: Bucket) -> Self {
        limiter.waiting.fetch_add(1, Ordering::Relaxed);
        Reservation {
            limiter,
            bucket: Some(bucket),
        }
    }

    /// A wait counted as such, whose token is given back by the caller.
    #[cfg(feature = "redis")]
    fn counting(limiter: &'a RateLimiter) -> Self {
        limiter.waiting.fetch_add(1, Ordering::Relaxed);
        Reservation {
            limiter,
            bucket: None,
        }
    }

    /// The wait is over and the token used.
    fn kept(self) {
        self.limiter.waiting.fetch_sub(1, Ordering::Relaxed);
        std::mem::forget(self);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.limiter.waiting.fetch_sub(1, Ordering::Relaxed);
        // Moving the arrival time back one interval frees exactly one token.
        if let Some(bucket) = self.bucket {
            self.limiter.give_back(bucket);
        }
    }
}
