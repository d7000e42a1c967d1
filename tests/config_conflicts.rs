//! Call sites that give one name different inline arguments are reported as
//! soon as the registry is first used, before any of them is called. In a
//! binary of its own, so that nothing uses the registry before the listener.

mod common;

use std::sync::{Arc, Mutex};

use common::AppError;
use resilience_runtime::config::PolicyKind;
use resilience_runtime::{bulkhead, registry, Conflict, Event};

const FIRST_LINE: u32 = line!() + 1;
#[bulkhead(name = "conflicting-pool", max_concurrent = 2)]
fn first() -> Result<(), AppError> {
    Ok(())
}

const SECOND_LINE: u32 = line!() + 1;
#[bulkhead(name = "conflicting-pool", max_concurrent = 5)]
fn second() -> Result<(), AppError> {
    Ok(())
}

#[bulkhead(name = "agreeing-pool", max_concurrent = 3)]
fn agreeing_one() -> Result<(), AppError> {
    Ok(())
}

#[bulkhead(name = "agreeing-pool", max_concurrent = 3)]
fn agreeing_two() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn conflicting_call_sites_are_reported_on_first_use_of_the_registry_before_any_call() {
    let heard = Arc::new(Mutex::new(Vec::<Conflict>::new()));
    let sink = heard.clone();
    registry().on_event(move |event| {
        if let Event::ConfigConflict(conflict) = event {
            sink.lock().unwrap().push((*conflict).clone());
        }
    });
    // The first use of the registry that is not a listener's registration.
    let instances = registry().instances();
    assert!(instances
        .iter()
        .any(|i| i.name == "conflicting-pool" && !i.in_use));

    let heard = heard.lock().unwrap().clone();
    assert_eq!(heard, registry().conflicts());
    assert_eq!(heard.len(), 1, "{heard:?}");
    let conflict = &heard[0];
    assert_eq!(conflict.kind, PolicyKind::Bulkhead);
    assert_eq!(conflict.name, "conflicting-pool");
    assert_eq!(
        (
            conflict.first.function,
            conflict.first.file,
            conflict.first.line
        ),
        ("first", file!(), FIRST_LINE)
    );
    assert_eq!(
        (conflict.second.function, conflict.second.line),
        ("second", SECOND_LINE)
    );
    assert_eq!(
        conflict.to_string(),
        format!(
            "bulkhead `conflicting-pool` is configured differently at `first` ({file}:{FIRST_LINE}:1) and at `second` ({file}:{SECOND_LINE}:1); using the first: {} (ignored: {})",
            conflict.first_config,
            conflict.second_config,
            file = file!()
        )
    );

    // Whichever runs first, both use the first site's arguments.
    second().unwrap();
    first().unwrap();
    agreeing_one().unwrap();
    agreeing_two().unwrap();
    assert_eq!(registry().bulkhead("conflicting-pool").max_concurrent(), 2);
    assert_eq!(registry().conflicts().len(), 1);
}
