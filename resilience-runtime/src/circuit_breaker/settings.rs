//! A breaker's settings, with everything its call path derives from them,
//! as one block that a reload replaces whole.

use super::machine::Timing;
use super::window::{CountWindow, TimeWindow, Window};
use super::CircuitBreakerConfig;
use crate::clock::saturating_nanos;
use crate::own_line::OwnLine;

pub(super) struct Settings {
    pub(super) timing: Timing,
    /// Two windows, so that a close starts a fresh one while late results of
    /// the state that ended still land in the old one; every call writes
    /// them, and reads the fields beside them.
    pub(super) windows: Option<OwnLine<[Window; 2]>>,
    pub(super) slow_nanos: Option<u64>,
    pub(super) judged_from: u32,
    pub(super) config: CircuitBreakerConfig,
}

impl Settings {
    /// The settings of a new breaker, with empty windows.
    pub(super) fn new(config: CircuitBreakerConfig) -> Self {
        let windows = config
            .has_window()
            .then(|| OwnLine([empty(&config), empty(&config)]));
        Settings::with(config, windows)
    }

    /// The settings that follow these for `config` at `now`: each window of
    /// the same kind keeps the outcomes that fit in its new size; a window of
    /// the other kind, or one that did not exist, starts empty.
    pub(super) fn following(&self, config: CircuitBreakerConfig, now: u64) -> Self {
        let windows = config.has_window().then(|| {
            OwnLine(match &self.windows {
                Some(windows) => windows
                    .each_ref()
                    .map(|window| carried(window, &config, now)),
                None => [empty(&config), empty(&config)],
            })
        });
        Settings::with(config, windows)
    }

    fn with(config: CircuitBreakerConfig, windows: Option<OwnLine<[Window; 2]>>) -> Self {
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
