//! The `tracing` feature: applied and refused configurations become `tracing`
//! events under the target `resilience`.

#![cfg(feature = "tracing")]

mod tracing_capture;

use resilience_runtime::config::Config;
use resilience_runtime::registry;
use tracing::Level;
use tracing_capture::Capture;

#[test]
fn applied_and_refused_configurations_are_traced() {
    // The capture keeps the target `resilience` only.
    let captured = Capture::default();
    // A lookup declares the breaker, whose default window holds 10 calls.
    registry().circuit_breaker("traced-breaker");
    tracing::subscriber::with_default(captured.clone(), || {
        let fits = Config::from_toml_str("[bulkhead.traced]\nmax_concurrent = 4\n").unwrap();
        registry().apply(&fits).unwrap();
        let misfit =
            Config::from_toml_str("[circuit_breaker.traced-breaker]\nminimum_calls = 30\n")
                .unwrap();
        registry().apply(&misfit).unwrap_err();
    });
    let events = captured.0.lock().unwrap().clone();
    let seen: Vec<(Level, &str)> = events
        .iter()
        .map(|(level, fields)| (*level, fields["message"].lines().next().unwrap_or("")))
        .collect();
    assert_eq!(
        seen,
        [
            (Level::INFO, "configuration applied"),
            (Level::WARN, "configuration refused, nothing changed"),
        ]
    );
    assert!(events[1].1["message"].contains("`circuit_breaker.traced-breaker.minimum_calls`"));
}
