//! A `tracing` subscriber for the tests: it keeps every event of the target
//! `resilience` as its level and its fields as text (the message under
//! `message`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One captured event: its level and its fields as text.
pub type Captured = (Level, BTreeMap<String, String>);

/// The events captured so far, shared by every clone.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<Captured>>>);

impl Capture {
    /// A second registration of this subscriber with `tracing`, for as long
    /// as it is held: hold it while capturing in a binary whose other tests
    /// reach the same callsites on threads with no subscriber.
    ///
    /// `tracing` caches each callsite's interest once for the whole process,
    /// computed by the first thread to reach it, and while only one
    /// dispatcher is registered it asks that thread's default (tracing-core's
    /// `Rebuilder::JustOne`): a sibling test's thread, with none, caches
    /// `never`, and the event is then skipped on the capturing thread too.
    /// With two registered, every callsite is asked of both.
    // Each test binary compiles this module; not all of them need it.
    #[allow(dead_code)]
    pub fn registered(&self) -> tracing::Dispatch {
        tracing::Dispatch::new(self.clone())
    }

    /// The events whose field `name` is `name`.
    // Each test binary compiles this module; not all of them look by name.
    #[allow(dead_code)]
    pub fn about(&self, name: &str) -> Vec<Captured> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, fields)| fields.get("name").map(String::as_str) == Some(name))
            .cloned()
            .collect()
    }
}

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "resilience"
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
