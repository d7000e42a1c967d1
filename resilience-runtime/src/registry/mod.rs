//! The global registry of named, shared policy instances.
//!
//! Every annotated function that names a policy declares it at link time, so
//! the registry knows each named instance of the binary, with its call sites
//! and inline arguments, before any of them is called. An instance is made
//! the first time a call or a lookup needs it, with the settings in force:
//! the first of code (`configure_*`), the applied configuration, the
//! attribute's inline arguments, the built-in defaults (see
//! [`config`](crate::config)).

mod apply;
mod instances;
mod state;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub(crate) use instances::settings_by_key;
pub use instances::{InstanceInfo, Instances, Setting};
pub use state::Policy;
pub(crate) use state::{each_kind, State};

use crate::bulkhead::BulkheadConfig;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::config::schema::Settings;
use crate::config::{ConfigError, PolicyKind};
use crate::declaration::{Declaration, DECLARATIONS};
use crate::event::{self, emit, Event, ListenerId};
use crate::fallback::FallbackMetrics;
use crate::hedge::{Hedge, HedgeConfig};
use crate::keyed::Family;
use crate::rate_limiter::RateLimiterConfig;
use crate::retry::{Retry, RetryConfig};
use crate::retry_budget::{RetryBudget, RetryBudgetConfig};
use crate::time_limiter::{TimeLimiter, TimeLimiterConfig};
use crate::{Bulkhead, CircuitBreaker, RateLimiter};

/// The registry every annotated function and every handle lookup shares.
///
/// ```
/// use resilience_runtime::{registry, CircuitState};
///
/// let breaker = registry().circuit_breaker("docs-inventory");
/// assert_eq!(breaker.state(), CircuitState::Closed);
/// assert!(std::sync::Arc::ptr_eq(&breaker, &registry().circuit_breaker("docs-inventory")));
/// ```
pub fn registry() -> &'static Registry {
    static REGISTRY: Registry = Registry::new();
    &REGISTRY
}

/// Named policy instances, one table per kind.
pub struct Registry {
    state: OnceLock<RwLock<State>>,
    reported: AtomicBool,
    conflicts: Mutex<Vec<Conflict>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("instances", &self.instances())
            .finish()
    }
}

macro_rules! kind {
    ($policy:ty, $config:ty, $all:ident, $get:ident, $find:ident, $configure:ident, $kind:literal) => {
        #[doc = concat!("The ", $kind, " named `name`, made now if nothing has used it yet: with the settings its attributes declare, over which the applied configuration and `", stringify!($configure), "` take precedence; with the defaults for a name nothing declares.")]
        pub fn $get(&self, name: &str) -> Arc<$policy> {
            self.get_or_create::<$policy>(name)
        }

        #[doc = concat!("The ", $kind, " named `name` if an attribute without a `key`, a handle lookup or `", stringify!($configure), "` declares it; `None` otherwise, and nothing is made. A name only keyed attributes or a family lookup use is a family's, and has no plain instance to find: `None`.")]
        pub fn $find(&self, name: &str) -> Option<Arc<$policy>> {
            self.find::<$policy>(name)
        }

        #[doc = concat!("Sets every setting of the ", $kind, " named `name` in code, over the applied configuration and the inline arguments; an instance in use takes them at once (see [`apply`](Self::apply) for what that means for each kind). Fails, changing nothing, if the configuration is invalid.")]
        pub fn $configure(&self, name: &str, config: $config) -> Result<(), ConfigError> {
            self.configure::<$policy>(name, config)
        }

        #[doc = concat!("Every ", $kind, " made so far, sorted by name.")]
        pub fn $all(&self) -> Vec<Arc<$policy>> {
            <$policy as Policy>::of(&self.read()).instances.values().cloned().collect()
        }
    };
}

macro_rules! keyed_kind {
    ($policy:ty, $family:ident, $kind:literal) => {
        #[doc = concat!("The keyed family of ", $kind, "s named `name` (one instance per key, see [`Family`]), made now if nothing has used it yet: the attributes with this name and a `key` use it, and every member has the settings of the name, as a plain ", $kind, " of that name would.")]
        pub fn $family(&self, name: &str) -> Arc<Family<$policy>> {
            self.family::<$policy>(name)
        }
    };
}

impl Registry {
    const fn new() -> Registry {
        Registry {
            state: OnceLock::new(),
            reported: AtomicBool::new(false),
            conflicts: Mutex::new(Vec::new()),
        }
    }

    kind!(
        CircuitBreaker,
        CircuitBreakerConfig,
        circuit_breakers,
        circuit_breaker,
        find_circuit_breaker,
        configure_circuit_breaker,
        "circuit breaker"
    );
    kind!(
        Bulkhead,
        BulkheadConfig,
        bulkheads,
        bulkhead,
        find_bulkhead,
        configure_bulkhead,
        "bulkhead"
    );
    kind!(
        RateLimiter,
        RateLimiterConfig,
        rate_limiters,
        rate_limiter,
        find_rate_limiter,
        configure_rate_limiter,
        "rate limiter"
    );
    kind!(
        Retry,
        RetryConfig,
        retries,
        retry,
        find_retry,
        configure_retry,
        "retry"
    );
    kind!(
        TimeLimiter,
        TimeLimiterConfig,
        time_limiters,
        time_limiter,
        find_time_limiter,
        configure_time_limiter,
        "time limiter"
    );
    kind!(
        Hedge,
        HedgeConfig,
        hedges,
        hedge,
        find_hedge,
        configure_hedge,
        "hedge"
    );
    kind!(
        RetryBudget,
        RetryBudgetConfig,
        retry_budgets,
        retry_budget,
        find_retry_budget,
        configure_retry_budget,
        "retry budget"
    );

    keyed_kind!(CircuitBreaker, circuit_breaker_family, "circuit breaker");
    keyed_kind!(RateLimiter, rate_limiter_family, "rate limiter");
    keyed_kind!(Bulkhead, bulkhead_family, "bulkhead");

    /// Connects every policy with `store = "redis"` to the Redis (or
    /// Valkey) at `target`, a URL such as `"redis://127.0.0.1:6379/0"` or a
    /// `redis::Client`; keys go under `resilience:`. The connection is made
    /// on first use and remade after a failure, so Redis need not be up yet.
    /// A configuration file's `[redis]` table does the same; whichever of
    /// the two was given last is in force (see [`apply`](Self::apply)).
    ///
    /// ```
    /// use resilience_runtime::registry;
    ///
    /// registry().set_redis("redis://127.0.0.1:6379/0").unwrap();
    /// let error = registry().set_redis("http://127.0.0.1").unwrap_err();
    /// assert!(error.to_string().contains("invalid Redis URL"), "{error}");
    /// # registry().clear_redis();
    /// ```
    #[cfg(feature = "redis")]
    pub fn set_redis(
        &self,
        target: impl crate::stores::redis::IntoRedis,
    ) -> Result<(), ConfigError> {
        let client = target.into_client()?;
        crate::stores::redis::set(Some(crate::stores::redis::RedisStore::new(
            client,
            crate::stores::redis::DEFAULT_KEY_PREFIX,
        )));
        Ok(())
    }

    /// As [`set_redis`](Self::set_redis), with a store of your own making
    /// (another key prefix, say).
    #[cfg(feature = "redis")]
    pub fn set_redis_store(&self, store: crate::stores::redis::RedisStore) {
        crate::stores::redis::set(Some(store));
    }

    /// Disconnects the policies from Redis: each decides as its
    /// `on_store_error` says until a store is set again.
    #[cfg(feature = "redis")]
    pub fn clear_redis(&self) {
        crate::stores::redis::set(None);
    }

    /// Calls `listener` with every [`Event`](crate::Event) any policy reports
    /// from now on, on the thread that caused it, until it is removed with
    /// [`remove_listener`](Self::remove_listener). Listeners run outside every
    /// internal lock, so they may read or reset any policy.
    pub fn on_event(&self, listener: impl Fn(&Event<'_>) + Send + Sync + 'static) -> ListenerId {
        event::subscribe(Arc::new(listener))
    }

    /// Stops calling a listener; `false` if it was not registered.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        event::unsubscribe(id)
    }

    /// How often each `#[fallback]` of the binary replaced a result, by
    /// function name, including those never used, by cause and by what
    /// answered, with each attribute's settings. A fallback has no name and
    /// no configuration-file table: this listing is where its `cache` and
    /// `cache_capacity` are visible.
    pub fn fallbacks(&self) -> Vec<FallbackMetrics> {
        crate::fallback::all()
    }

    /// The call sites that configure one named instance differently. They
    /// are all known, and reported, as soon as the registry is first used.
    pub fn conflicts(&self) -> Vec<Conflict> {
        self.state();
        self.conflicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The state, gathered from the link-time list of call sites on first
    /// use; the conflicts among them are reported once, outside every lock.
    fn state(&self) -> &RwLock<State> {
        let state = self.state.get_or_init(|| {
            let (state, conflicts) = State::declared(&DECLARATIONS);
            *self
                .conflicts
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = conflicts;
            RwLock::new(state)
        });
        if !self.reported.load(Ordering::Acquire) && !self.reported.swap(true, Ordering::AcqRel) {
            let conflicts = self
                .conflicts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for conflict in &conflicts {
                announce(conflict);
            }
        }
        state
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state().read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state().write().unwrap_or_else(PoisonError::into_inner)
    }

    fn get_or_create<P: Policy>(&self, name: &str) -> Arc<P> {
        if let Some(policy) = P::of(&self.read()).instances.get(name) {
            return policy.clone();
        }
        let mut state = self.write();
        let (kind, file) = P::with_file(&mut state);
        kind.get_or_create(file, name)
    }

    fn family<P: Policy>(&self, name: &str) -> Arc<Family<P>> {
        if let Some(family) = P::of(&self.read()).families.get(name) {
            return family.clone();
        }
        let mut state = self.write();
        let (kind, file) = P::with_file(&mut state);
        kind.family(file, name)
    }

    /// The keyed family named `name` if one is made; nothing is made.
    pub(crate) fn made_family<P: Policy>(&self, name: &str) -> Option<Arc<Family<P>>> {
        P::of(&self.read()).families.get(name).cloned()
    }

    /// Every keyed family of a kind made so far, sorted by name.
    pub(crate) fn families<P: Policy>(&self) -> Vec<Arc<Family<P>>> {
        P::of(&self.read()).families.values().cloned().collect()
    }

    fn find<P: Policy>(&self, name: &str) -> Option<Arc<P>> {
        if !P::of(&self.read()).is_plain(name) {
            return None;
        }
        Some(self.get_or_create(name))
    }

    fn configure<P: Policy>(&self, name: &str, config: P::Config) -> Result<(), ConfigError> {
        config.check()?;
        let mut state = self.write();
        let kind = P::of_mut(&mut state);
        if let Some(policy) = kind.instances.get(name) {
            policy.reconfigure(config.clone())?;
        }
        if let Some(family) = kind.families.get(name) {
            family.reconfigure(config.clone())?;
        }
        kind.code.insert(name.to_owned(), config);
        Ok(())
    }

    /// The instance for an annotated call site: the declared one, made now if
    /// need be. A site missing from the link-time list (a platform without
    /// one) declares itself here.
    pub(crate) fn resolve<P: Policy>(&self, declaration: &'static Declaration) -> Arc<P> {
        self.declare::<P>(declaration);
        self.get_or_create(declaration.name)
    }

    /// The keyed family for an annotated call site with a `key`.
    pub(crate) fn resolve_family<P: Policy>(
        &self,
        declaration: &'static Declaration,
    ) -> Arc<Family<P>> {
        self.declare::<P>(declaration);
        self.family(declaration.name)
    }

    /// Declares a call site missing from the link-time list (a platform without one).
    fn declare<P: Policy>(&self, declaration: &'static Declaration) {
        let declared = P::of(&self.read())
            .declared
            .get(declaration.name)
            .is_some_and(|declared| declared.declares(declaration.site));
        if !declared {
            let Some(build) = <P::Config as Settings>::inline(&declaration.config) else {
                unreachable!("a call site declared its policy as another kind");
            };
            let conflict = P::of_mut(&mut self.write()).declare(
                declaration.name,
                declaration.site,
                declaration.keyed,
                declaration.keys,
                build(),
            );
            if let Some(conflict) = conflict {
                self.conflicts
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(conflict.clone());
                announce(&conflict);
            }
        }
    }
}

fn announce(conflict: &Conflict) {
    // A misconfiguration must not pass unseen even with no listener.
    eprintln!("warning: {conflict}");
    emit(Event::ConfigConflict(conflict));
}

/// Where an annotated function configures a named instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct CallSite {
    /// The annotated function.
    pub function: &'static str,
    /// The source file of the attribute.
    pub file: &'static str,
    /// Its line. For a stack of attributes, the outermost one's: the stack
    /// expands as one, and a macro cannot tell each attribute's own line on
    /// the Rust versions this crate supports.
    pub line: u32,
    /// Its column, likewise.
    pub column: u32,
}

impl fmt::Display for CallSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` ({}:{}:{})",
            self.function, self.file, self.line, self.column
        )
    }
}

/// One named instance configured differently at two call sites. The first
/// one in source order gives the inline arguments in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The kind of policy.
    pub kind: PolicyKind,
    /// The instance's name.
    pub name: String,
    /// The call site whose inline arguments are used.
    pub first: CallSite,
    /// The call site whose inline arguments are not used.
    pub second: CallSite,
    /// The configuration in use.
    pub first_config: String,
    /// The configuration the second call site asked for.
    pub second_config: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}` is configured differently at {} and at {}; using the first: {} (ignored: {})",
            self.kind, self.name, self.first, self.second, self.first_config, self.second_config
        )
    }
}

/// Unwraps a policy built from a configuration that was already checked: by
/// the attribute at compile time.
pub(crate) fn valid<P>(created: Result<P, ConfigError>) -> P {
    created.unwrap_or_else(|error| unreachable!("a checked configuration was rejected: {error}"))
}
