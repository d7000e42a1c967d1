//! The Redis (or Valkey) store: one connection, given once, that every policy
//! with `store = "redis"` shares.
//!
//! The connection is redis-rs's `ConnectionManager`: one multiplexed
//! connection that reconnects by itself. It is made on first use, so that
//! [`Registry::set_redis`](crate::Registry::set_redis) is synchronous and a
//! Redis that is down at start-up delays nothing: until it answers, each
//! policy decides as its `on_store_error` says. Every request is bounded by
//! the policy's `store_timeout`, so an outage never holds a call longer.
//! The connection's driver is a task of the runtime that made it: a new
//! `set_redis` connects again from another runtime.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub(crate) mod breaker;
pub(crate) mod bucket;
mod syncer;
use tokio::sync::OnceCell;

use crate::config::ConfigError;

/// The prefix of every key the policies write, unless configured.
pub const DEFAULT_KEY_PREFIX: &str = "resilience";

/// A connection to Redis, shared by every policy with `store = "redis"`.
pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    connection: OnceCell<ConnectionManager>,
}

impl RedisStore {
    /// A store on `client`, its keys under `prefix:`; connects on first use.
    pub fn new(client: redis::Client, prefix: impl Into<String>) -> Self {
        RedisStore {
            client,
            prefix: prefix.into(),
            connection: OnceCell::new(),
        }
    }

    /// The key `kind:name` under this store's prefix: `resilience:rl:search`.
    pub(crate) fn key(&self, kind: &str, name: &str) -> String {
        format!("{}:{kind}:{name}", self.prefix)
    }

    /// The client the connections are made from.
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The shared connection, made now if it is not yet; a failed attempt is
    /// tried again by the next caller.
    pub(crate) async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        self.connection
            .get_or_try_init(|| {
                let config = ConnectionManagerConfig::new()
                    // Reconnects are the manager's; their waits stay short so
                    // that a restarted Redis is used again within a second.
                    .set_number_of_retries(2)
                    .set_min_delay(Duration::from_millis(10))
                    .set_max_delay(Duration::from_millis(500))
                    .set_connection_timeout(Some(Duration::from_secs(1)));
                self.client.get_connection_manager_with_config(config)
            })
            .await
            .cloned()
    }

    /// Runs `request` on the connection, giving up after `timeout`.
    pub(crate) async fn run<T>(
        &self,
        timeout: Duration,
        request: impl AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let attempt = async {
            let mut connection = self.connection().await?;
            request(&mut connection).await
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(StoreError::Redis(Arc::new(error))),
            Err(_) => Err(StoreError::Timeout(timeout)),
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field(
                "server",
                &self.client.get_connection_info().addr().to_string(),
            )
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Why the store did not decide a call.
#[derive(Debug, Clone)]
pub enum StoreError {
    /// No store is set: neither `set_redis` nor a `[redis]` table.
    NotSet,
    /// No answer within `store_timeout`.
    Timeout(Duration),
    /// Redis answered with an error, or the connection failed.
    Redis(Arc<redis::RedisError>),
    /// Not asked: it failed a moment ago and is asked again shortly.
    StillDown,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotSet => f.write_str("no Redis is set; call `registry().set_redis(url)` or add a `[redis]` table with a `url`"),
            StoreError::Timeout(timeout) => write!(f, "Redis did not answer within {timeout:?}"),
            StoreError::Redis(error) => write!(f, "Redis: {error}"),
            StoreError::StillDown => f.write_str("Redis failed a moment ago; asked again shortly"),
        }
    }
}

impl std::error::Error for StoreError {}

static STORE: RwLock<Option<Arc<RedisStore>>> = RwLock::new(None);

/// The store set now, if any.
pub(crate) fn current() -> Option<Arc<RedisStore>> {
    STORE.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Makes `store` the one every policy with `store = "redis"` uses from now on.
pub(crate) fn set(store: Option<RedisStore>) {
    *STORE.write().unwrap_or_else(PoisonError::into_inner) = store.map(Arc::new);
}

/// A client for `url`, or the configuration error naming `key`.
pub(crate) fn client(url: &str, key: &'static str) -> Result<redis::Client, ConfigError> {
    redis::Client::open(url).map_err(|error| {
        ConfigError::new(
            key,
            format!("invalid Redis URL `{url}`: {error}; e.g. `\"redis://127.0.0.1:6379/0\"`"),
        )
    })
}

/// What [`Registry::set_redis`](crate::Registry::set_redis) takes: a URL or a client.
pub trait IntoRedis {
    /// The client, or why there is none.
    fn into_client(self) -> Result<redis::Client, ConfigError>;
}

impl IntoRedis for &str {
    fn into_client(self) -> Result<redis::Client, ConfigError> {
        client(self, "redis.url")
    }
}

impl IntoRedis for String {
    fn into_client(self) -> Result<redis::Client, ConfigError> {
        client(&self, "redis.url")
    }
}

impl IntoRedis for redis::Client {
    fn into_client(self) -> Result<redis::Client, ConfigError> {
        Ok(self)
    }
}
