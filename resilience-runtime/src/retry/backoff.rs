use std::time::Duration;

use super::{Backoff, Jitter, RetryConfig};

/// The wait before retry `n` (0-indexed), given the previous wait (used by
/// decorrelated jitter) and a uniform draw `u` from `[0, 1)`. The base wait
/// `b` is `delay * factor^n` for an exponential backoff, `delay * (n + 1)`
/// for a linear one.
///
/// - no jitter: `b`, capped at `max_delay`;
/// - a fraction `j`: that wait `+- j * wait`, then capped;
/// - `Full`: `U(0, w)` with `w = min(max_delay, delay * backoff^n)`;
/// - `Equal`: `w/2 + U(0, w/2)` with the same `w`;
/// - `Decorrelated`: `min(max_delay, U(delay, 3 * previous))`, the first
///   previous wait being `delay`.
pub(crate) fn wait(config: &RetryConfig, n: u32, previous: Duration, u: f64) -> Duration {
    let cap = config.max_delay.map_or(f64::INFINITY, |d| d.as_secs_f64());
    let delay = config.delay.as_secs_f64();
    let base = match config.backoff {
        Backoff::Exponential(factor) => factor.powi(i32::try_from(n).unwrap_or(i32::MAX)) * delay,
        Backoff::Linear => (f64::from(n) + 1.0) * delay,
    };
    let capped = base.min(cap);
    let seconds = match config.jitter {
        Jitter::None => capped,
        Jitter::Fraction(j) => base * (1.0 + j * (2.0 * u - 1.0)),
        Jitter::Full => capped * u,
        Jitter::Equal => capped / 2.0 + capped / 2.0 * u,
        Jitter::Decorrelated => {
            let high = (3.0 * previous.as_secs_f64()).max(delay);
            delay + (high - delay) * u
        }
    };
    Duration::try_from_secs_f64(seconds.min(cap).max(0.0)).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(jitter: Jitter) -> RetryConfig {
        RetryConfig::default()
            .delay(Duration::from_millis(100))
            .backoff(2.0)
            .max_delay(Duration::from_millis(1000))
            .jitter(jitter)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn exponential_growth_is_capped_at_max_delay() {
        let c = config(Jitter::None);
        let waits: Vec<_> = (0..6).map(|n| wait(&c, n, ms(0), 0.5)).collect();
        assert_eq!(
            waits,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
    }

    #[test]
    fn fraction_jitter_spans_plus_minus_the_fraction_then_caps() {
        let c = config(Jitter::Fraction(0.2));
        assert_eq!(wait(&c, 1, ms(0), 0.0), ms(160));
        assert_eq!(wait(&c, 1, ms(0), 0.5), ms(200));
        assert!(wait(&c, 1, ms(0), 0.999_999) > ms(239));
        assert_eq!(
            wait(&c, 4, ms(0), 0.0),
            ms(1000),
            "1600 - 20% is still above the cap"
        );
    }

    #[test]
    fn full_jitter_is_uniform_below_the_capped_wait() {
        let c = config(Jitter::Full);
        assert_eq!(wait(&c, 2, ms(0), 0.0), ms(0));
        assert_eq!(wait(&c, 2, ms(0), 0.5), ms(200));
        assert_eq!(wait(&c, 9, ms(0), 0.5), ms(500));
    }

    #[test]
    fn equal_jitter_keeps_half_the_wait() {
        let c = config(Jitter::Equal);
        assert_eq!(wait(&c, 2, ms(0), 0.0), ms(200));
        assert_eq!(wait(&c, 2, ms(0), 0.5), ms(300));
        assert_eq!(wait(&c, 9, ms(0), 0.0), ms(500));
    }

    #[test]
    fn decorrelated_jitter_draws_between_delay_and_three_times_the_previous_wait() {
        let c = config(Jitter::Decorrelated);
        assert_eq!(wait(&c, 0, ms(100), 0.0), ms(100));
        assert_eq!(wait(&c, 0, ms(100), 0.5), ms(200));
        assert_eq!(wait(&c, 4, ms(200), 0.5), ms(350));
        assert_eq!(wait(&c, 4, ms(900), 0.9), ms(1000));
    }

    #[test]
    fn linear_growth_adds_the_delay_each_time_then_caps() {
        let c = config(Jitter::None).backoff(Backoff::Linear);
        let waits: Vec<_> = (0..12).map(|n| wait(&c, n, ms(0), 0.5)).collect();
        assert_eq!(
            waits,
            [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1000, 1000].map(ms)
        );
        let jittered = config(Jitter::Full).backoff(Backoff::Linear);
        assert_eq!(wait(&jittered, 2, ms(0), 0.5), ms(150));
    }

    #[test]
    fn huge_exponents_saturate_instead_of_panicking() {
        let uncapped = RetryConfig::default().delay(ms(100)).backoff(10.0);
        assert_eq!(wait(&uncapped, 400, ms(0), 0.5), Duration::MAX);
        assert_eq!(wait(&config(Jitter::None), u32::MAX, ms(0), 0.5), ms(1000));
    }
}
