//! The global registry of named, shared policy instances.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use crate::bulkhead::BulkheadConfig;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::config::ConfigError;
use crate::event::{self, emit, Event, ListenerId};
use crate::rate_limiter::RateLimiterConfig;
use crate::retry::{Retry, RetryConfig};
use crate::time_limiter::{TimeLimiter, TimeLimiterConfig};
use crate::{Bulkhead, CircuitBreaker, Name, RateLimiter};

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
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// Named policy instances, one table per kind.
///
/// Which configuration a named instance gets, first match wins: what was
/// given to the registry (`configure_*`, before the instance is first used),
/// then the inline arguments of the first call site to run, then the defaults
/// (for an instance first looked up by handle).
#[derive(Default)]
pub struct Registry {
    circuit_breakers: Table<CircuitBreaker>,
    bulkheads: Table<Bulkhead>,
    rate_limiters: Table<RateLimiter>,
    retries: Table<Retry>,
    time_limiters: Table<TimeLimiter>,
    conflicts: Mutex<Vec<Conflict>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("circuit_breakers", &self.circuit_breakers())
            .field("bulkheads", &self.bulkheads())
            .field("rate_limiters", &self.rate_limiters())
            .field("retries", &self.retries())
            .field("time_limiters", &self.time_limiters())
            .finish()
    }
}

macro_rules! kind {
    ($policy:ty, $config:ty, $table:ident, $get:ident, $configure:ident, $kind:literal) => {
        #[doc = concat!("The ", $kind, " named `name`, created with the registry's configuration for it, or the defaults, if nothing has used it yet.")]
        pub fn $get(&self, name: &str) -> Arc<$policy> {
            self.$table.lookup(name)
        }

        #[doc = concat!("Sets the configuration of the ", $kind, " named `name`; it takes precedence over every call site's inline arguments. Fails if the configuration is invalid or the instance is already in use.")]
        pub fn $configure(&self, name: &str, config: $config) -> Result<(), ConfigError> {
            self.$table.configure(name, config)
        }

        #[doc = concat!("Every ", $kind, " created so far, sorted by name.")]
        pub fn $table(&self) -> Vec<Arc<$policy>> {
            self.$table.all()
        }
    };
}

impl Registry {
    kind!(
        CircuitBreaker,
        CircuitBreakerConfig,
        circuit_breakers,
        circuit_breaker,
        configure_circuit_breaker,
        "circuit breaker"
    );
    kind!(
        Bulkhead,
        BulkheadConfig,
        bulkheads,
        bulkhead,
        configure_bulkhead,
        "bulkhead"
    );
    kind!(
        RateLimiter,
        RateLimiterConfig,
        rate_limiters,
        rate_limiter,
        configure_rate_limiter,
        "rate limiter"
    );
    kind!(Retry, RetryConfig, retries, retry, configure_retry, "retry");
    kind!(
        TimeLimiter,
        TimeLimiterConfig,
        time_limiters,
        time_limiter,
        configure_time_limiter,
        "time limiter"
    );

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

    /// The call sites found so far that configure one named instance differently.
    pub fn conflicts(&self) -> Vec<Conflict> {
        self.conflicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn report(&self, conflict: Conflict) {
        // A misconfiguration must not pass unseen even with no listener.
        eprintln!("warning: {conflict}");
        emit(Event::ConfigConflict(&conflict));
        self.conflicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conflict);
    }
}

/// Where an annotated function configures a named instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSite {
    /// The annotated function.
    pub function: &'static str,
    /// The source file of the attribute.
    pub file: &'static str,
    /// Its line.
    pub line: u32,
    /// Its column.
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

/// One named instance configured differently in two places. The first
/// configuration is in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The kind of policy: "circuit breaker", "bulkhead", ...
    pub kind: &'static str,
    /// The instance's name.
    pub name: String,
    /// Where the configuration in use came from; `None` for a handle lookup
    /// (`registry().circuit_breaker(name)`) that created it with the defaults.
    pub first: Option<CallSite>,
    /// The call site whose arguments were not used.
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
            "{} `{}` is configured differently at ",
            self.kind, self.name
        )?;
        match &self.first {
            Some(site) => write!(f, "{site}")?,
            None => write!(f, "a handle lookup that created it with the defaults")?,
        }
        write!(
            f,
            " and at {}; using the first: {} (ignored: {})",
            self.second, self.first_config, self.second_config
        )
    }
}

/// A kind of policy the registry holds.
#[doc(hidden)]
pub trait Policy: Send + Sync + Sized + 'static {
    type Config: Clone + PartialEq + fmt::Debug + Default + Send + Sync + 'static;
    const KIND: &'static str;
    fn create(name: Name, config: Self::Config) -> Result<Self, ConfigError>;
    fn config(&self) -> &Self::Config;
    fn table(registry: &Registry) -> &Table<Self>;
}

macro_rules! policy {
    ($policy:ty, $config:ty, $table:ident, $kind:literal) => {
        impl Policy for $policy {
            type Config = $config;
            const KIND: &'static str = $kind;
            fn create(name: Name, config: $config) -> Result<Self, ConfigError> {
                <$policy>::new(name, config)
            }
            fn config(&self) -> &$config {
                <$policy>::config(self)
            }
            fn table(registry: &Registry) -> &Table<Self> {
                &registry.$table
            }
        }
    };
}

policy!(
    CircuitBreaker,
    CircuitBreakerConfig,
    circuit_breakers,
    "circuit breaker"
);
policy!(Bulkhead, BulkheadConfig, bulkheads, "bulkhead");
policy!(
    RateLimiter,
    RateLimiterConfig,
    rate_limiters,
    "rate limiter"
);
policy!(Retry, RetryConfig, retries, "retry");
policy!(
    TimeLimiter,
    TimeLimiterConfig,
    time_limiters,
    "time limiter"
);

/// The instances of one kind. Touched once per call site, never per call.
#[doc(hidden)]
pub struct Table<P: Policy> {
    inner: RwLock<Inner<P>>,
}

struct Inner<P: Policy> {
    instances: HashMap<Name, Instance<P>>,
    configured: HashMap<Name, P::Config>,
}

struct Instance<P: Policy> {
    policy: Arc<P>,
    origin: Origin,
}

#[derive(Clone, Copy)]
enum Origin {
    Configured,
    Lookup,
    Site(CallSite),
}

impl<P: Policy> Default for Table<P> {
    fn default() -> Self {
        Table {
            inner: RwLock::new(Inner {
                instances: HashMap::new(),
                configured: HashMap::new(),
            }),
        }
    }
}

impl<P: Policy> Table<P> {
    fn lookup(&self, name: &str) -> Arc<P> {
        self.get_or_create(
            name,
            || name.to_owned().into(),
            Origin::Lookup,
            P::Config::default,
        )
        .0
    }

    fn configure(&self, name: &str, config: P::Config) -> Result<(), ConfigError> {
        P::create(Name::from(name.to_owned()), config.clone())?;
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if inner.instances.contains_key(name) {
            return Err(ConfigError::new(
                "name",
                format!(
                    "{} `{name}` is already in use; configure it before its first call or lookup",
                    P::KIND
                ),
            ));
        }
        inner.configured.insert(name.to_owned().into(), config);
        Ok(())
    }

    fn all(&self) -> Vec<Arc<P>> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let mut named: Vec<_> = inner.instances.iter().collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        named
            .into_iter()
            .map(|(_, instance)| instance.policy.clone())
            .collect()
    }

    /// The instance for a call site, and a conflict if an existing instance
    /// was configured differently by another site (or by a lookup).
    pub(crate) fn resolve(
        &self,
        name: &'static str,
        config: P::Config,
        site: CallSite,
    ) -> (Arc<P>, Option<Conflict>) {
        let (policy, existing) =
            self.get_or_create(name, || name.into(), Origin::Site(site), || config.clone());
        let first = match existing {
            Some(Origin::Site(first)) => Some(first),
            Some(Origin::Lookup) => None,
            Some(Origin::Configured) | None => return (policy, None),
        };
        if *policy.config() == config {
            return (policy, None);
        }
        let conflict = Conflict {
            kind: P::KIND,
            name: name.to_owned(),
            first,
            second: site,
            first_config: format!("{:?}", policy.config()),
            second_config: format!("{config:?}"),
        };
        (policy, Some(conflict))
    }

    /// The instance named `name`, and the origin of the one that was already
    /// there, if any.
    fn get_or_create(
        &self,
        name: &str,
        owned_name: impl FnOnce() -> Name,
        origin: Origin,
        config: impl FnOnce() -> P::Config,
    ) -> (Arc<P>, Option<Origin>) {
        if let Some(instance) = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .instances
            .get(name)
        {
            return (instance.policy.clone(), Some(instance.origin));
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(instance) = inner.instances.get(name) {
            return (instance.policy.clone(), Some(instance.origin));
        }
        let (config, origin) = match inner.configured.get(name) {
            Some(configured) => (configured.clone(), Origin::Configured),
            None => (config(), origin),
        };
        let name = owned_name();
        let policy = Arc::new(valid(P::create(name.clone(), config)));
        let instance = Instance {
            policy: policy.clone(),
            origin,
        };
        inner.instances.insert(name, instance);
        (policy, None)
    }
}

/// Unwraps a policy built from a configuration that was already checked: by
/// `configure_*`, by the defaults, or by the attribute at compile time.
pub(crate) fn valid<P>(created: Result<P, ConfigError>) -> P {
    created.unwrap_or_else(|error| unreachable!("a checked configuration was rejected: {error}"))
}

pub(crate) fn resolve<P: Policy>(name: &'static str, config: P::Config, site: CallSite) -> Arc<P> {
    let registry = registry();
    let (policy, conflict) = P::table(registry).resolve(name, config, site);
    if let Some(conflict) = conflict {
        registry.report(conflict);
    }
    policy
}
