//! The `watch` feature: a configuration file applied again whenever it
//! changes, a broken save refused without changing anything.

#![cfg(feature = "watch")]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::AppError;
use resilience_runtime::config::watch;
use resilience_runtime::{bulkhead, registry, Event};

#[bulkhead(name = "watched-pool", max_concurrent = 2)]
fn pooled() -> Result<(), AppError> {
    Ok(())
}

/// What the registry reported of a configuration, as text.
enum Heard {
    Applied(String),
    Rejected(String),
}

// File-system notifications arrive when the kernel sends them; this bounds
// the wait for each one, it never paces the test.
const PATIENCE: Duration = Duration::from_secs(10);

#[test]
fn each_save_is_applied_and_a_broken_one_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("resilience-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("resilience.toml");
    std::fs::write(&path, "[bulkhead.watched-pool]\nmax_concurrent = 4\n").unwrap();

    let (sender, heard) = mpsc::channel();
    let sender = std::sync::Mutex::new(sender);
    let listener = registry().on_event(move |event| {
        let heard = match event {
            Event::ConfigApplied(report) => Heard::Applied(report.to_string()),
            Event::ConfigRejected(errors) => Heard::Rejected(errors.to_string()),
            _ => return,
        };
        let _ = sender.lock().unwrap().send(heard);
    });

    let watcher = watch(&path).expect("the first file is valid");
    assert_eq!(watcher.path(), path);
    assert!(matches!(
        heard.recv_timeout(PATIENCE),
        Ok(Heard::Applied(_))
    ));
    pooled().unwrap();
    let pool = registry().bulkhead("watched-pool");
    assert_eq!(pool.max_concurrent(), 4);

    std::fs::write(&path, "[bulkhead.watched-pool]\nmax_concurrent = 7\n").unwrap();
    match heard.recv_timeout(PATIENCE) {
        Ok(Heard::Applied(report)) => assert_eq!(
            report,
            "bulkhead.watched-pool.max_concurrent: 4 -> 7 (config table)\n"
        ),
        Ok(Heard::Rejected(errors)) => panic!("refused: {errors}"),
        Err(_) => panic!("no reload within {PATIENCE:?}"),
    }
    assert_eq!(pool.max_concurrent(), 7);

    std::fs::write(&path, "[bulkhead.watched-pool]\nmax_concurrent = 0\n").unwrap();
    match heard.recv_timeout(PATIENCE) {
        Ok(Heard::Rejected(errors)) => assert_eq!(
            errors,
            "line 2, column 1: `bulkhead.watched-pool.max_concurrent`: must be at least 1, got 0"
        ),
        Ok(Heard::Applied(report)) => panic!("a broken file was applied: {report}"),
        Err(_) => panic!("no report within {PATIENCE:?}"),
    }
    assert_eq!(pool.max_concurrent(), 7);

    // Saved by replacing the file, as many editors do.
    let temporary = dir.join("resilience.toml.tmp");
    std::fs::write(&temporary, "[bulkhead.watched-pool]\nmax_concurrent = 3\n").unwrap();
    std::fs::rename(&temporary, &path).unwrap();
    assert!(matches!(
        heard.recv_timeout(PATIENCE),
        Ok(Heard::Applied(_))
    ));
    assert_eq!(pool.max_concurrent(), 3);

    drop(watcher);
    registry().remove_listener(listener);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_that_cannot_be_read_is_not_watched() {
    let missing = std::env::temp_dir().join("resilience-watch-missing/none.toml");
    let errors = watch(&missing).unwrap_err();
    assert!(errors.to_string().starts_with("cannot read"), "{errors}");
}
