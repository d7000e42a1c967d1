use super::CircuitState;

/// What one circuit breaker reports to the listeners registered with
/// [`CircuitBreaker::on_event`](super::CircuitBreaker::on_event).
///
/// Listeners run on the thread that made the call, outside every internal
/// lock, so they may read the breaker's state or metrics, or reset it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CircuitBreakerEvent {
    /// A call succeeded; `slow` if it took longer than `slow_call_duration`.
    Success {
        /// Whether the call was slow.
        slow: bool,
    },
    /// A call failed; `slow` if it took longer than `slow_call_duration`.
    Failure {
        /// Whether the call was slow.
        slow: bool,
    },
    /// A call ended with an error that `on` does not count; it affected nothing.
    IgnoredError,
    /// A call was refused: the circuit was open, forced open, or out of probe slots.
    NotPermitted,
    /// The breaker changed state.
    StateTransition {
        /// The state it left.
        from: CircuitState,
        /// The state it entered.
        to: CircuitState,
    },
    /// The failure rate of the window reached `failure_rate_threshold`.
    FailureRateExceeded {
        /// The rate, in [0, 1].
        rate: f64,
    },
    /// The slow-call rate of the window reached `slow_call_rate_threshold`.
    SlowCallRateExceeded {
        /// The rate, in [0, 1].
        rate: f64,
    },
    /// [`reset`](super::CircuitBreaker::reset) returned the breaker to a fresh CLOSED.
    Reset,
}
