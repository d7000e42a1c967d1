//! Time as the policies see it.
//!
//! Every policy reads `tokio::time::Instant`, which follows tokio's paused test
//! clock inside a runtime started with `start_paused = true` and is the plain
//! monotonic clock everywhere else. Policies keep time as nanoseconds since
//! their own creation so that it fits in one atomic word.

use std::time::Duration;
use tokio::time::Instant;

/// A policy's time origin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Epoch(Instant);

impl Epoch {
    pub(crate) fn now() -> Self {
        Epoch(Instant::now())
    }

    /// Nanoseconds since this origin (zero if the clock reads earlier, as a
    /// paused clock in another runtime may).
    #[inline]
    pub(crate) fn nanos(&self) -> u64 {
        saturating_nanos(Instant::now().saturating_duration_since(self.0))
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (584 years).
#[inline]
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
