//! A breaker's settings, with everything its call path derives from them,
//! as one block that a reload replaces whole.

use super::machine::Timing;
use super::window::{CountWindow, TimeWindow, Window};
use super::CircuitBreakerConfig;
use crate::clock::saturating_nanos;

pub(super) struct Settings {
    pub(super) timing: Timing,
    /// Two windows, so that a close starts a fresh one while late results of
    /// the state that ended still land in the old one.
    pub(super) windows: Option<Lines<[Window; 2]>>,
    pub(super) slow_nanos: Option<u64>,
    pub(super) judged_from: u32,
    pub(super) config: CircuitBreakerConfig,
}

/// Whole cache lines of their own: every call writes the windows, and every
/// call reads the settings beside them, which must not bounce between cores
/// with those writes.
#[repr(align(64))]
pub(super) struct Lines<T>(T);

impl<T> std::ops::Deref for Lines<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl Settings {
    /// The settings of a new breaker, with empty windows.
    pub(super) fn new(config: CircuitBreakerConfig) -> Self {
        let windows = config
            .has_window()
            .then(|| Lines([empty(&config), empty(&config)]));
        Settings::with(config, windows)
    }

    /// The settings that follow these for `config` at `now`: each window of
    /// the same kind keeps the outcomes that fit in its new size; a window of
    /// the other kind, or one that did not exist, starts empty.
    pub(super) fn following(&self, config: CircuitBreakerConfig, now: u64) -> Self {
        let windows = config.has_window().then(|| {
            Lines(match &self.windows {
                Some(windows) => windows
                    .each_ref()
                    .map(|window| carried(window, &config, now)),
                None => [empty(&config), empty(&config)],
            })
        });
        Settings::with(config, windows)
    }

    fn with(config: CircuitBreakerConfig, windows: Option<Lines<[Window; 2]>>) -> Self {
        Settings {
            timing: Timing {
                failure_threshold: config.failure_threshold,
                probes: config.half_open_max_calls,
                recovery: saturating_nanos(config.recovery_timeout),
                recovery_backoff: config.recovery_backoff,
                max_recovery: config
                    .max_recovery_timeout
                    .map_or(u64::MAX, saturating_nanos),
                half_open_wait: config.half_open_max_wait.map(saturating_nanos),
            },
            windows,
            slow_nanos: config.slow_call_duration.map(saturating_nanos),
            judged_from: config.judged_from(),
            config,
        }
    }
}

fn empty(config: &CircuitBreakerConfig) -> Window {
    match config.window_duration {
        Some(duration) => Window::Time(TimeWindow::new(saturating_nanos(duration))),
        None => Window::Count(CountWindow::new(config.window_size)),
    }
}

fn carried(window: &Window, config: &CircuitBreakerConfig, now: u64) -> Window {
    match (window, config.window_duration) {
        (Window::Count(window), None) => Window::Count(window.resized(config.window_size)),
        (Window::Time(window), Some(duration)) => {
            Window::Time(window.resized(saturating_nanos(duration), now))
        }
        _ => empty(config),
    }
}
