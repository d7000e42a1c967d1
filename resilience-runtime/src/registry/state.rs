//! What the registry knows about each kind of policy: the call sites that
//! declare each name, the settings given in code, the instances made so far,
//! and the configuration applied.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{CallSite, Conflict};
use crate::bulkhead::BulkheadConfig;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::config::layers::{Effective, Inline, Layers};
use crate::config::schema::Settings;
use crate::config::{ConfigError, PolicyKind};
use crate::declaration::Declaration;
use crate::hedge::{Hedge, HedgeConfig};
use crate::keyed::Family;
use crate::rate_limiter::RateLimiterConfig;
use crate::retry::{Retry, RetryConfig};
use crate::retry_budget::{RetryBudget, RetryBudgetConfig};
use crate::time_limiter::{TimeLimiter, TimeLimiterConfig};
use crate::{Bulkhead, CircuitBreaker, Name, RateLimiter};

/// A kind of policy the registry holds.
#[doc(hidden)]
pub trait Policy: Send + Sync + Sized + 'static {
    type Config: Settings;
    fn create(name: Name, config: Self::Config) -> Result<Self, ConfigError>;
    fn reconfigure(&self, config: Self::Config) -> Result<(), ConfigError>;
    fn of(state: &State) -> &Kind<Self>;
    fn of_mut(state: &mut State) -> &mut Kind<Self>;
    /// This kind's part, and the applied configuration beside it.
    fn with_file(state: &mut State) -> (&mut Kind<Self>, &Layers);
    /// A keyed family's new member named `name`, made from `self`, the
    /// family's template, which has `config`: sharing what members can.
    fn sibling(&self, name: Name, config: &Self::Config) -> Result<Self, ConfigError> {
        Self::create(name, config.clone())
    }
    /// Gives a keyed family's member the settings of `template`, which has
    /// just been given `config`.
    fn follow(&self, template: &Self, config: &Self::Config) -> Result<(), ConfigError> {
        let _ = template;
        self.reconfigure(config.clone())
    }
    /// An instance the registry or a family has just put in an `Arc`.
    fn shared(policy: Arc<Self>) -> Arc<Self> {
        policy
    }
}

macro_rules! policy {
    ($policy:ty, $config:ty, $field:ident $(, { $($extra:item)* })?) => {
        impl Policy for $policy {
            type Config = $config;
            fn create(name: Name, config: $config) -> Result<Self, ConfigError> {
                <$policy>::new(name, config)
            }
            fn reconfigure(&self, config: $config) -> Result<(), ConfigError> {
                <$policy>::reconfigure(self, config)
            }
            fn of(state: &State) -> &Kind<Self> {
                &state.$field
            }
            fn of_mut(state: &mut State) -> &mut Kind<Self> {
                &mut state.$field
            }
            fn with_file(state: &mut State) -> (&mut Kind<Self>, &Layers) {
                (&mut state.$field, &state.file)
            }
            $($($extra)*)?
        }
    };
}

policy!(Retry, RetryConfig, retries);
policy!(CircuitBreaker, CircuitBreakerConfig, circuit_breakers, {
    // Reachable by the fleet's syncer, with `store = "redis"`.
    fn shared(policy: Arc<Self>) -> Arc<Self> {
        CircuitBreaker::attach(&policy);
        policy
    }
});
policy!(RateLimiter, RateLimiterConfig, rate_limiters, {
    // One settings block for a keyed family, hot in cache for every member.
    fn sibling(&self, name: Name, _: &RateLimiterConfig) -> Result<Self, ConfigError> {
        Ok(RateLimiter::sibling(self, name))
    }
    fn follow(&self, template: &Self, _: &RateLimiterConfig) -> Result<(), ConfigError> {
        RateLimiter::follow(self, template);
        Ok(())
    }
});
policy!(Bulkhead, BulkheadConfig, bulkheads);
policy!(TimeLimiter, TimeLimiterConfig, time_limiters);
policy!(Hedge, HedgeConfig, hedges);
policy!(RetryBudget, RetryBudgetConfig, retry_budgets);

/// Calls `$visit!(Policy)` for each kind, in the order instances are listed.
macro_rules! each_kind {
    ($visit:ident) => {
        $visit!($crate::retry::Retry);
        $visit!($crate::CircuitBreaker);
        $visit!($crate::RateLimiter);
        $visit!($crate::Bulkhead);
        $visit!($crate::time_limiter::TimeLimiter);
        $visit!($crate::hedge::Hedge);
        $visit!($crate::retry_budget::RetryBudget);
    };
}
pub(crate) use each_kind;

/// Everything the registry holds, behind one lock that calls never take:
/// each call site resolves its instance once and keeps it.
#[doc(hidden)]
#[derive(Default)]
pub struct State {
    pub(crate) file: Layers,
    retries: Kind<Retry>,
    circuit_breakers: Kind<CircuitBreaker>,
    rate_limiters: Kind<RateLimiter>,
    bulkheads: Kind<Bulkhead>,
    time_limiters: Kind<TimeLimiter>,
    hedges: Kind<Hedge>,
    retry_budgets: Kind<RetryBudget>,
}

/// The registry's part for one kind of policy.
#[doc(hidden)]
pub struct Kind<P: Policy> {
    pub(crate) declared: BTreeMap<&'static str, Declared<P::Config>>,
    pub(crate) code: BTreeMap<String, P::Config>,
    pub(crate) instances: BTreeMap<String, Arc<P>>,
    /// Keyed families made so far; they share their name's settings.
    pub(crate) families: BTreeMap<String, Arc<Family<P>>>,
}

impl<P: Policy> Default for Kind<P> {
    fn default() -> Self {
        Kind {
            declared: BTreeMap::new(),
            code: BTreeMap::new(),
            instances: BTreeMap::new(),
            families: BTreeMap::new(),
        }
    }
}

/// The call sites that name one instance; the first one's inline arguments are used.
pub(crate) struct Declared<C> {
    /// In source order, each with whether its attribute has a `key`.
    pub(crate) sites: Vec<(CallSite, bool)>,
    pub(crate) keys: &'static [&'static str],
    pub(crate) config: C,
}

impl<C> Declared<C> {
    /// The sites that declare the plain instance (`keyed` false) or the family.
    pub(crate) fn sites(&self, keyed: bool) -> Vec<CallSite> {
        self.sites
            .iter()
            .filter(|(_, site_keyed)| *site_keyed == keyed)
            .map(|(site, _)| *site)
            .collect()
    }

    /// Whether a site declares the name's plain instance (`keyed` false) or its family.
    pub(crate) fn has(&self, keyed: bool) -> bool {
        self.sites
            .iter()
            .any(|(_, site_keyed)| *site_keyed == keyed)
    }

    /// Whether `site` is one of them.
    pub(crate) fn declares(&self, site: CallSite) -> bool {
        self.sites.iter().any(|(known, _)| *known == site)
    }
}

impl State {
    /// The state of a binary whose call sites declare `declarations`, with
    /// the conflicts among them.
    pub(crate) fn declared(declarations: &[Declaration]) -> (State, Vec<Conflict>) {
        let mut sorted: Vec<&Declaration> = declarations.iter().collect();
        // The first site in source order is the one in use, whatever the link order.
        sorted.sort_by_key(|d| (d.site.file, d.site.line, d.site.column, d.site.function));
        let mut state = State::default();
        let mut conflicts = Vec::new();
        for declaration in sorted {
            macro_rules! declare {
                ($policy:ty) => {
                    if let Some(build) =
                        <<$policy as Policy>::Config as Settings>::inline(&declaration.config)
                    {
                        conflicts.extend(<$policy as Policy>::of_mut(&mut state).declare(
                            declaration.name,
                            declaration.site,
                            declaration.keyed,
                            declaration.keys,
                            build(),
                        ));
                    }
                };
            }
            each_kind!(declare);
        }
        (state, conflicts)
    }
}

impl State {
    /// Every name a kind knows, sorted.
    pub(crate) fn names(&self, kind: PolicyKind) -> Vec<&str> {
        match kind {
            PolicyKind::Retry => self.retries.names(),
            PolicyKind::CircuitBreaker => self.circuit_breakers.names(),
            PolicyKind::RateLimiter => self.rate_limiters.names(),
            PolicyKind::Bulkhead => self.bulkheads.names(),
            PolicyKind::TimeLimiter => self.time_limiters.names(),
            PolicyKind::Hedge => self.hedges.names(),
            PolicyKind::RetryBudget => self.retry_budgets.names(),
        }
    }
}

impl<P: Policy> Kind<P> {
    /// Adds a call site for `name`; a conflict if an earlier one configures it differently.
    pub(crate) fn declare(
        &mut self,
        name: &'static str,
        site: CallSite,
        keyed: bool,
        keys: &'static [&'static str],
        config: P::Config,
    ) -> Option<Conflict> {
        let Some(declared) = self.declared.get_mut(name) else {
            self.declared.insert(
                name,
                Declared {
                    sites: vec![(site, keyed)],
                    keys,
                    config,
                },
            );
            return None;
        };
        if declared.declares(site) {
            return None;
        }
        declared.sites.push((site, keyed));
        (declared.config != config).then(|| Conflict {
            kind: <P::Config as Settings>::KIND,
            name: name.to_owned(),
            first: declared.sites[0].0,
            second: site,
            first_config: format!("{:?}", declared.config),
            second_config: format!("{config:?}"),
        })
    }

    /// Whether `name` is a keyed family's: an attribute with a `key` declares
    /// it, or a `*_family` lookup made it.
    pub(crate) fn is_keyed(&self, name: &str) -> bool {
        self.families.contains_key(name)
            || self
                .declared
                .get(name)
                .is_some_and(|declared| declared.has(true))
    }

    /// Whether `name` is a plain instance's: an attribute without a `key`
    /// declares it, a handle lookup made it, or only `configure_*` knows it.
    /// A name can be both, when both kinds of attribute use it.
    pub(crate) fn is_plain(&self, name: &str) -> bool {
        self.instances.contains_key(name)
            || self
                .declared
                .get(name)
                .is_some_and(|declared| declared.has(false))
            || (self.code.contains_key(name) && !self.is_keyed(name))
    }

    /// Every name this kind knows, sorted.
    pub(crate) fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .declared
            .keys()
            .copied()
            .chain(self.code.keys().map(String::as_str))
            .chain(self.instances.keys().map(String::as_str))
            .chain(self.families.keys().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The settings of `name` under the configuration `file`.
    pub(crate) fn effective(&self, file: &Layers, name: &str) -> Effective<P::Config> {
        let inline = self.declared.get(name).map(|declared| Inline {
            config: &declared.config,
            keys: declared.keys,
            site: declared.sites[0].0,
        });
        file.effective(name, inline, self.code.get(name))
    }

    /// `name` as an instance keeps it: a declared name is a literal, which
    /// rejections copy instead of counting references.
    fn owned_name(&self, name: &str) -> Name {
        match self.declared.get_key_value(name) {
            Some((declared, _)) => (*declared).into(),
            None => name.to_owned().into(),
        }
    }

    /// The keyed family named `name`, made now with its settings if there is none yet.
    pub(crate) fn family(&mut self, file: &Layers, name: &str) -> Arc<Family<P>> {
        if let Some(family) = self.families.get(name) {
            return family.clone();
        }
        let owned = self.owned_name(name);
        let mut config = self.effective(file, name).config;
        if config.check().is_err() {
            // As for an instance: settings the file never judged for this name.
            config = self.effective(&Layers::default(), name).config;
        }
        let family = Arc::new(Family::new(owned, config));
        self.families.insert(name.to_owned(), family.clone());
        family
    }

    /// The instance named `name`, made now with its settings if there is none yet.
    pub(crate) fn get_or_create(&mut self, file: &Layers, name: &str) -> Arc<P> {
        if let Some(policy) = self.instances.get(name) {
            return policy.clone();
        }
        let owned = self.owned_name(name);
        let config = self.effective(file, name).config;
        let policy = match P::create(owned.clone(), config) {
            Ok(policy) => policy,
            Err(error) => {
                // Only settings that fit no instance apply can get here (a
                // lookup of a name the applied file never judged): fall back
                // to the settings without the file rather than fail a call.
                eprintln!(
                    "warning: {} `{name}`: the configuration does not fit it ({error}); using its settings without the configuration",
                    <P::Config as Settings>::KIND
                );
                let config = self.effective(&Layers::default(), name).config;
                P::create(owned, config).unwrap_or_else(|error| {
                    unreachable!(
                        "settings checked without the configuration were rejected: {error}"
                    )
                })
            }
        };
        let policy = P::shared(Arc::new(policy));
        self.instances.insert(name.to_owned(), policy.clone());
        policy
    }
}
