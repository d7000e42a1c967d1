//! Applying a configuration file again whenever it changes (feature `watch`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};

use super::{ApplyReport, Config, ConfigErrors, Problem};
use crate::registry;

/// Watches a configuration file and applies it to the registry each time
/// its contents change, until dropped. See [`watch`].
pub struct ConfigWatcher {
    path: PathBuf,
    _watcher: Debouncer<RecommendedWatcher>,
}

impl std::fmt::Debug for ConfigWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigWatcher")
            .field("path", &self.path)
            .finish()
    }
}

impl ConfigWatcher {
    /// The file it watches.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Applies the file at `path` to [`registry()`](crate::registry) now, then
/// again each time it changes, until the returned watcher is dropped.
///
/// The first application must succeed: its errors are returned and nothing
/// is watched. After that, each change is applied whole or not at all, and
/// reported through the registry's listeners as
/// [`Event::ConfigApplied`](crate::Event::ConfigApplied) or
/// [`Event::ConfigRejected`](crate::Event::ConfigRejected) (and as `tracing`
/// events with the `tracing` feature); a broken file changes nothing, and the
/// next good save applies. The file's folder is watched, so editors that
/// save by replacing the file are seen too.
///
/// ```no_run
/// # fn main() -> Result<(), resilience_runtime::config::ConfigErrors> {
/// let watcher = resilience_runtime::config::watch("resilience.toml")?;
/// // ... serve; the file can now be edited while the service runs.
/// drop(watcher);
/// # Ok(())
/// # }
/// ```
pub fn watch(path: impl Into<PathBuf>) -> Result<ConfigWatcher, ConfigErrors> {
    let path = path.into();
    let text = read(&path)?;
    apply(&text)?;
    let last = Mutex::new(text);
    let file = path.clone();
    let mut watcher = new_debouncer(QUIET, move |events: DebounceEventResult| {
        let Ok(events) = events else { return };
        if !events.iter().any(|event| same_file(&event.path, &file)) {
            return;
        }
        let Some(text) = settled(&file) else {
            return;
        };
        // Several saves may leave the same text: apply each new content once.
        let mut last = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *last == text {
            return;
        }
        *last = text;
        // The outcome reaches the registry's listeners either way.
        let _ = apply(&last);
    })
    .map_err(|error| cannot(&path, "watch", error))?;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    watcher
        .watcher()
        .watch(folder, RecursiveMode::NonRecursive)
        .map_err(|error| cannot(&path, "watch", error))?;
    Ok(ConfigWatcher {
        path,
        _watcher: watcher,
    })
}

/// How long a file must stay unchanged before it is read: a save that
/// truncates the file and then writes it is one change, not an empty file
/// followed by a full one.
const QUIET: Duration = Duration::from_millis(100);

/// The file's text once a save has finished: a file found empty is read
/// again after [`QUIET`], since a save truncates it before writing and a
/// busy machine may pause the writer in between. A file that stays empty
/// applies: no settings from the file.
fn settled(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    if !text.trim().is_empty() {
        return Some(text);
    }
    std::thread::sleep(QUIET);
    std::fs::read_to_string(path).ok()
}

fn read(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|error| cannot(path, "read", error))
}

fn apply(text: &str) -> Result<ApplyReport, ConfigErrors> {
    match Config::from_toml_str(text) {
        Ok(config) => registry().apply(&config),
        Err(errors) => {
            registry().reject(&errors);
            Err(errors)
        }
    }
}

fn same_file(changed: &Path, watched: &Path) -> bool {
    changed.file_name() == watched.file_name()
}

fn cannot(path: &Path, what: &str, error: impl std::fmt::Display) -> ConfigErrors {
    ConfigErrors(vec![Problem {
        path: String::new(),
        location: None,
        message: format!("cannot {what} `{}`: {error}", path.display()),
    }])
}
