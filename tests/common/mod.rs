//! What the end-to-end tests share: an application error type wired to the
//! library's errors as the README shows, and an event recorder.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use resilience_runtime::{registry, Event, ListenerId};

/// A service's error type, with the one `#[from]` line the README asks for.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A failure worth retrying.
    #[error("transient failure")]
    Transient,
    /// A failure not worth retrying.
    #[error("permanent failure")]
    Permanent,
    /// A policy's rejection.
    #[error(transparent)]
    Resilience(#[from] resilience_runtime::Error),
}

impl AppError {
    pub fn is_transient(&self) -> bool {
        matches!(self, AppError::Transient)
    }

    /// The policy rejection inside, if this is one.
    pub fn rejection(&self) -> Option<&resilience_runtime::Error> {
        match self {
            AppError::Resilience(error) => Some(error),
            _ => None,
        }
    }
}

/// Records, as text, the events whose policy name is one of `names`, until dropped.
/// Tests run in parallel, so each one names its own policies and listens to those only.
pub struct Recorder {
    id: ListenerId,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    pub fn new(names: &[&'static str]) -> Recorder {
        let names = names.to_vec();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let id = registry().on_event(move |event| {
            let line = match event {
                Event::RetryScheduled {
                    name,
                    attempt,
                    delay,
                } if names.contains(name) => {
                    format!("retry {name} after attempt {attempt} in {delay:?}")
                }
                Event::RetriesExhausted { name, attempts } if names.contains(name) => {
                    format!("exhausted {name} after {attempts}")
                }
                Event::StateTransition { name, from, to } if names.contains(name) => {
                    format!("{name} {from} -> {to}")
                }
                Event::CallRejected { error } if names.contains(&error.name()) => {
                    format!("rejected {error}")
                }
                Event::TimedOut { name, timeout } if names.contains(name) => {
                    format!("timeout {name} after {timeout:?}")
                }
                Event::FallbackUsed {
                    name, rejection, ..
                } if names.contains(name) => {
                    format!("fallback {name} rejection={}", rejection.is_some())
                }
                Event::StoreUnavailable { name, .. } if names.contains(name) => {
                    format!("store unavailable {name}")
                }
                Event::StoreRecovered { name } if names.contains(name) => {
                    format!("store recovered {name}")
                }
                _ => return,
            };
            sink.lock().unwrap().push(line);
        });
        Recorder { id, lines }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        registry().remove_listener(self.id);
    }
}
