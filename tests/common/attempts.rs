//! The times of a function's attempts, for reading the waits between them
//! on tokio's paused clock.

#![allow(dead_code)]

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The times of a function's attempts, to read the waits between them.
#[derive(Default)]
pub struct Attempts(Mutex<Vec<Instant>>);

impl Attempts {
    pub fn record(&self) {
        self.0.lock().unwrap().push(Instant::now());
    }

    /// The waits between the attempts recorded since the last call; forgets them.
    pub fn take_gaps(&self) -> Vec<Duration> {
        let times = std::mem::take(&mut *self.0.lock().unwrap());
        times.windows(2).map(|pair| pair[1] - pair[0]).collect()
    }

    /// Attempts recorded since the last [`take_gaps`](Self::take_gaps).
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}
