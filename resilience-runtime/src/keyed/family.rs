//! A family: one policy instance per key, made on a key's first call, all
//! with the family's settings, at most `max_keys` of them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::evict;
use super::table::{Table, Writer};
use super::{Key, Keyed};
use crate::config::ConfigError;
use crate::registry::{valid, Policy};
use crate::Name;

/// The instances of one named, keyed policy: a circuit breaker per host, a
/// rate limiter per tenant, a bulkhead per API key. Every member has the
/// family's settings (its name's table in a configuration file, its
/// attribute's inline arguments, or [`configure_*`](crate::Registry::configure_rate_limiter)),
/// which a reload gives to every member at once.
///
/// Finding an existing key takes no lock and allocates nothing: the members
/// are in a lock-free table made for this lookup, found with the key as a
/// borrowed `&str`; a key of up to 23 bytes is kept beside its member's
/// pointer, so the lookup reads one slot and then the member. A new key
/// makes its member under the family's lock.
///
/// Memory is bounded by `max_keys` (default 10,000): once a new key would
/// make more, the least recently used members are dropped, idle ones first
/// (a breaker CLOSED, a bucket full, a bulkhead with every slot free, and no
/// call holding the member), so that a key with calls in flight, an open
/// breaker or a bucket still refilling is dropped only when every other
/// member is busy too. Eviction works in batches of a sixteenth of
/// `max_keys`, so its scan is paid once per that many new keys; a dropped
/// key starts afresh on its next call. New keys are made one at a time, each
/// followed by its eviction pass, so a reader sees at most `max_keys + 1`
/// members, for the moment between the two.
///
/// ```
/// use resilience_runtime::registry;
/// use resilience_runtime::rate_limiter::RateLimiterConfig;
///
/// registry()
///     .configure_rate_limiter("docs-per-tenant", RateLimiterConfig::default().max_tokens(1).refill_rate(0.0))
///     .unwrap();
/// let tenants = registry().rate_limiter_family("docs-per-tenant");
/// assert!(tenants.get("acme").try_acquire().is_ok());
/// assert!(tenants.get("acme").try_acquire().is_err(), "acme spent its token");
/// assert!(tenants.get("globex").try_acquire().is_ok(), "globex has its own");
/// assert_eq!(tenants.keys(), ["acme", "globex"]);
/// ```
pub struct Family<P: Policy> {
    name: Name,
    members: Table<P>,
    /// The settings new members get, in an instance that no call uses, which
    /// new members are made from; held while a member is made or dropped, so
    /// that a reconfiguration reaches every member, including one made
    /// meanwhile, and so that the table has one writer at a time.
    template: Mutex<Template<P>>,
    /// Counts new keys: each member records the count at its last use, which
    /// orders members by recency for eviction without reading a clock.
    arrivals: AtomicU64,
    evicted: AtomicU64,
}

impl<P: Keyed> Family<P> {
    /// The member for `key`, made now with the family's settings if it has none.
    ///
    /// The member is shared: hold the returned `Arc` for as long as a call
    /// uses it, so that eviction sees the call in flight.
    #[inline]
    pub fn get<K: Key + ?Sized>(&self, key: &K) -> Arc<P> {
        key.with_str(|key| {
            let members = self.members.pin();
            match members.get(key) {
                Some(member) => Arc::clone(member.touch(self.arrivals.load(Ordering::Relaxed))),
                None => {
                    drop(members);
                    self.insert(key)
                }
            }
        })
    }

    /// Runs `f` on the member for `key`, made now if it has none, without
    /// taking a count of the member's `Arc`: for a call that is done with the
    /// member when `f` returns, such as a rate limiter's admission, this
    /// saves [`get`](Self::get)'s two atomic writes to the count. The member
    /// stays valid while `f` runs even if it is evicted meanwhile, but
    /// eviction does not see it as in flight; `f` should not run for long,
    /// since the family frees no evicted member until it returns. Clone the
    /// `Arc` to keep the member past `f`.
    #[inline]
    pub fn with<K: Key + ?Sized, R>(&self, key: &K, f: impl FnOnce(&Arc<P>) -> R) -> R {
        key.with_str(|key| {
            let members = self.members.pin();
            match members.get(key) {
                Some(member) => f(member.touch(self.arrivals.load(Ordering::Relaxed))),
                None => {
                    drop(members);
                    f(&self.insert(key))
                }
            }
        })
    }

    #[cold]
    #[inline(never)]
    fn insert(&self, key: &str) -> Arc<P> {
        let mut template = self.lock_template();
        // Made by another caller while this one waited for the lock.
        if let Some(member) = self.members.pin().get(key) {
            return Arc::clone(member.touch(self.arrivals.load(Ordering::Relaxed)));
        }
        let Template {
            config,
            policy: template,
            writer,
        } = &mut *template;
        let name = Name::from(format!("{}[{key}]", self.name));
        let policy = P::shared(Arc::new(valid(template.sibling(name, config))));
        let arrival = self.arrivals.fetch_add(1, Ordering::Relaxed) + 1;
        self.members
            .insert(writer, key, Arc::clone(&policy), arrival);
        // Still under the lock: one eviction pass at a time.
        let max_keys = P::max_keys(config);
        if self.members.len() > max_keys {
            let dropped = evict::oldest(&self.members, writer, max_keys);
            self.evicted.fetch_add(dropped as u64, Ordering::Relaxed);
        }
        policy
    }
}

impl<P: Policy> Family<P> {
    pub(crate) fn new(name: Name, config: P::Config) -> Self {
        let (members, writer) = Table::new();
        Family {
            name: name.clone(),
            members,
            template: Mutex::new(Template {
                policy: valid(P::create(name, config.clone())),
                config,
                writer,
            }),
            arrivals: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        }
    }

    /// The family's name, which each member's name extends with its key:
    /// `per-tenant[acme]`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The member for `key` if it has one; nothing is made.
    pub fn find<K: Key + ?Sized>(&self, key: &K) -> Option<Arc<P>> {
        key.with_str(|key| {
            let members = self.members.pin();
            members.get(key).map(|member| Arc::clone(member.policy()))
        })
    }

    /// How many keys have a member now.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether no key has a member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys that have a member now, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(self.len());
        self.members
            .pin()
            .each(|member| keys.push(member.key.to_owned()));
        keys.sort_unstable();
        keys
    }

    /// Every member with its key, sorted by key.
    pub fn members(&self) -> Vec<(String, Arc<P>)> {
        let mut members = Vec::with_capacity(self.len());
        self.members
            .pin()
            .each(|member| members.push((member.key.to_owned(), Arc::clone(member.policy))));
        members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        members
    }

    /// Members dropped so far to keep within `max_keys`.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// The settings every member has, and new members get.
    pub fn config(&self) -> P::Config {
        self.lock_template().config.clone()
    }

    fn lock_template(&self) -> MutexGuard<'_, Template<P>> {
        self.template.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives every member, and every member made from now on, `config`. An
    /// invalid configuration is returned as the error and changes nothing.
    pub fn reconfigure(&self, config: P::Config) -> Result<(), ConfigError> {
        use crate::config::schema::Settings;
        config.check()?;
        let mut template = self.lock_template();
        template.policy.reconfigure(config.clone())?;
        let mut followed = Ok(());
        self.members.pin().each(|member| {
            if followed.is_ok() {
                followed = member.policy.follow(&template.policy, &config);
            }
        });
        followed?;
        template.config = config;
        Ok(())
    }
}

/// A family's settings, an instance with them that new members copy, and
/// the right to change the family's table.
struct Template<P: Policy> {
    config: P::Config,
    policy: P,
    writer: Writer,
}

impl<P: Policy> fmt::Debug for Family<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.name)
            .field("keys", &self.len())
            .field("evicted", &self.evicted())
            .finish()
    }
}
