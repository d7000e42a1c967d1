//! The process's background syncer: one thread, `resilience-redis-sync`,
//! running a current-thread tokio runtime, started by the first breaker
//! with `store = "redis"`. Breakers used from sync code, or made outside any
//! runtime, sync there all the same, and a runtime of the application that
//! shuts down takes no sync task, nor the syncer's connection, with it.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::runtime::{Builder, Handle};

use super::RedisStore;

/// Runs `task` on the syncer's runtime, starting it first if needed.
pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    handle().spawn(task);
}

fn handle() -> &'static Handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let runtime = Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .expect("the Redis syncer's runtime: a tokio runtime could not be built");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("resilience-redis-sync".to_owned())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("the Redis syncer's thread could not be started");
        handle
    })
}

/// The syncer's connection to the store set now, made on the syncer's
/// runtime (the store's own is made on whichever runtime uses it first, and
/// reconnects there): made anew when `set_redis` gives another store.
pub(crate) fn connection(store: &Arc<RedisStore>) -> redis::RedisResult<ConnectionManager> {
    static CONNECTION: Mutex<Option<(Arc<RedisStore>, ConnectionManager)>> = Mutex::new(None);
    let mut current = CONNECTION.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((made_for, connection)) = current.as_ref() {
        if Arc::ptr_eq(made_for, store) {
            return Ok(connection.clone());
        }
    }
    let config = ConnectionManagerConfig::new()
        // As the store's own: short waits, so that a restarted Redis is
        // used again within a tick or two.
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(10))
        .set_max_delay(Duration::from_millis(500))
        .set_connection_timeout(Some(Duration::from_secs(1)));
    // Lazy: the first request connects, within its tick's timeout.
    let connection = ConnectionManager::new_lazy_with_config(store.client().clone(), config)?;
    *current = Some((store.clone(), connection.clone()));
    Ok(connection)
}
