//! Named policies configured from a file, listed with where each setting
//! comes from, then reloaded.
//!
//! `cargo run --example config` reads `examples/config/resilience.toml`,
//! prints every named instance of the binary (called or not) as a table,
//! applies `examples/config/resilience.reloaded.toml` and prints what
//! changed, then shows broken configurations being refused without changing
//! anything.

use std::path::Path;

use resilience_runtime::config::Config;
use resilience_runtime::{bulkhead, circuit_breaker, rate_limiter, registry, retry, time_limiter};

#[derive(Debug, thiserror::Error)]
enum ServiceError {
    #[error("the backend failed")]
    Backend,
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

#[circuit_breaker(name = "inventory", failure_threshold = 3)]
#[bulkhead(name = "db", max_concurrent = 8)]
fn check_stock(sku: &str) -> Result<u32, ServiceError> {
    if sku.is_empty() {
        return Err(ServiceError::Backend);
    }
    Ok(7)
}

#[retry(name = "pricing", max_attempts = 4, delay = "100ms", backoff = 2.0)]
#[rate_limiter(name = "pricing", max_tokens = 10)]
fn price(sku: &str) -> Result<f64, ServiceError> {
    Ok(sku.len() as f64 * 1.5)
}

#[time_limiter(name = "ec2_run_instances", timeout = "2m")]
async fn run_instances(count: u32) -> Result<u32, ServiceError> {
    Ok(count)
}

fn load(file: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/config")
        .join(file);
    Config::from_file(&path).unwrap_or_else(|errors| panic!("{}:\n{errors}", path.display()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let report = registry()
        .apply(&load("resilience.toml"))
        .expect("the first file is valid");
    println!("== applied resilience.toml ==\n{report}");

    // Nothing has been called yet, and every named instance is already known.
    println!("== registry().instances() ==\n{}", registry().instances());

    check_stock("sku-1").unwrap();
    price("sku-1").unwrap();
    run_instances(2).await.unwrap();
    let before = registry().rate_limiter("pricing").available_tokens();

    let report = registry()
        .apply(&load("resilience.reloaded.toml"))
        .expect("the edited file is valid");
    println!("== applied resilience.reloaded.toml ==\n{report}");
    println!(
        "pricing tokens: {before:.0} before the reload, {:.0} after (kept, capped at the new max_tokens)",
        registry().rate_limiter("pricing").available_tokens()
    );

    // Problems of the file itself: all of them, each with its line.
    let broken =
        "[bulkhead.db]\nmax_concurrent = 0\nmax_wait = 10\n\n[retry.pricing]\nmax-attempts = 2\n";
    if let Err(errors) = Config::from_toml_str(broken) {
        println!("== a broken file is refused ==\n{errors}\n");
    }
    // Settings that are each valid but do not fit together: refused whole.
    let misfit = Config::from_toml_str(
        "[bulkhead.db]\nmax_concurrent = 2\n\n[circuit_breaker.inventory]\nminimum_calls = 30\n",
    )
    .expect("each table is valid on its own");
    if let Err(errors) = registry().apply(&misfit) {
        println!("== a configuration that does not fit is refused whole ==\n{errors}");
    }
    println!(
        "bulkhead `db` still allows {} calls at once",
        registry().bulkhead("db").max_concurrent()
    );
}
