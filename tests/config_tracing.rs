//! The `tracing` feature: applied and refused configurations become `tracing`
//! events under the target `resilience`.

#![cfg(feature = "tracing")]

use std::sync::{Arc, Mutex};

use resilience_runtime::config::Config;
use resilience_runtime::registry;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Keeps each event as (target, level, message).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<(String, Level, String)>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Captured {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        let metadata = event.metadata();
        self.0
            .lock()
            .unwrap()
            .push((metadata.target().to_owned(), *metadata.level(), message.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn applied_and_refused_configurations_are_traced() {
    let captured = Captured::default();
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
    let seen: Vec<(&str, Level, &str)> = events
        .iter()
        .map(|(target, level, message)| {
            (
                target.as_str(),
                *level,
                message.lines().next().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("resilience", Level::INFO, "configuration applied"),
            (
                "resilience",
                Level::WARN,
                "configuration refused, nothing changed"
            ),
        ]
    );
    assert!(events[1]
        .2
        .contains("`circuit_breaker.traced-breaker.minimum_calls`"));
}
