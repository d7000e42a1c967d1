//! The share of a bulkhead's or a rate limiter's calls rejected over the last
//! minute, from the lifetime counters the policies keep: each evaluation
//! samples them, and the rate is the difference between now and the oldest
//! sample of the last minute.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// How far back the rate looks.
pub(crate) const SPAN: Duration = Duration::from_secs(60);

/// The least time between two kept samples: evaluations closer together
/// than this are judged but not kept, so that a busy probe keeps at most
/// about sixty samples per instance.
const SPACING: Duration = Duration::from_secs(1);

/// Calls permitted and rejected since the instance was made, read at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) at: Instant,
    pub(crate) permitted: u64,
    pub(crate) rejected: u64,
}

/// The calls between the oldest sample of the last minute and now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rejections {
    pub(crate) rejected: u64,
    pub(crate) calls: u64,
    /// The time they span: a minute, or less while the instance has been
    /// watched for less.
    pub(crate) over: Duration,
}

impl Rejections {
    /// The share of the calls rejected; `None` without calls.
    pub(crate) fn rate(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.rejected as f64 / self.calls as f64)
    }
}

/// The samples of one instance, oldest first, none older than a minute
/// before the newest evaluation.
#[derive(Debug, Default)]
pub(crate) struct Window {
    samples: VecDeque<Sample>,
}

impl Window {
    /// The window of an instance made after `at`: no calls then.
    pub(crate) fn from_zero_at(at: Instant) -> Self {
        Window {
            samples: VecDeque::from([Sample {
                at,
                permitted: 0,
                rejected: 0,
            }]),
        }
    }

    /// Judges `now` against the oldest sample of the minute before it, then
    /// keeps `now` as a sample. `None` when there is no earlier sample: the
    /// first evaluation of an instance has nothing to compare with.
    pub(crate) fn observe(&mut self, now: Sample) -> Option<Rejections> {
        while self
            .samples
            .front()
            .is_some_and(|oldest| now.at.saturating_duration_since(oldest.at) > SPAN)
        {
            self.samples.pop_front();
        }
        // Counters only grow, and the clock only moves on: anything else is
        // another instance of the name, or another (paused) clock of a test.
        if self.samples.back().is_some_and(|newest| {
            now.permitted < newest.permitted || now.rejected < newest.rejected || now.at < newest.at
        }) {
            self.samples.clear();
        }
        let judged = self
            .samples
            .front()
            .filter(|oldest| oldest.at != now.at)
            .map(|oldest| {
                let permitted = now.permitted - oldest.permitted;
                let rejected = now.rejected - oldest.rejected;
                Rejections {
                    rejected,
                    calls: permitted + rejected,
                    over: now.at.saturating_duration_since(oldest.at),
                }
            });
        let spaced = self
            .samples
            .back()
            .is_none_or(|newest| now.at.saturating_duration_since(newest.at) >= SPACING);
        if spaced {
            self.samples.push_back(now);
        }
        judged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, secs: u64, permitted: u64, rejected: u64) -> Sample {
        Sample {
            at: start + Duration::from_secs(secs),
            permitted,
            rejected,
        }
    }

    #[test]
    fn the_first_evaluation_has_nothing_to_compare_with() {
        let start = Instant::now();
        let mut window = Window::default();
        assert_eq!(window.observe(at(start, 0, 90, 10)), None);
    }

    #[test]
    fn the_rate_counts_the_calls_since_the_oldest_sample_of_the_minute() {
        let start = Instant::now();
        let mut window = Window::default();
        window.observe(at(start, 0, 100, 100));
        let judged = window.observe(at(start, 10, 190, 110)).unwrap();
        assert_eq!(
            judged,
            Rejections {
                rejected: 10,
                calls: 100,
                over: Duration::from_secs(10)
            }
        );
        assert_eq!(judged.rate(), Some(0.1));
        // Still measured from the first sample: it is a minute old, not older.
        let judged = window.observe(at(start, 60, 290, 110)).unwrap();
        assert_eq!((judged.rejected, judged.calls), (10, 200));
        assert_eq!(judged.over, SPAN);
    }

    #[test]
    fn an_instance_made_since_an_evaluation_is_judged_from_zero_then() {
        let start = Instant::now();
        let mut window = Window::from_zero_at(start);
        let judged = window.observe(at(start, 5, 6, 2)).unwrap();
        assert_eq!((judged.rejected, judged.calls), (2, 8));
        assert_eq!(judged.over, Duration::from_secs(5));
        // Made over a minute after it: unknown when its calls came.
        let mut window = Window::from_zero_at(start);
        assert_eq!(window.observe(at(start, 61, 6, 2)), None);
    }

    #[test]
    fn samples_older_than_a_minute_are_forgotten() {
        let start = Instant::now();
        let mut window = Window::default();
        window.observe(at(start, 0, 0, 0));
        window.observe(at(start, 30, 0, 50));
        // The burst of rejections before second 30 has left the minute.
        let judged = window.observe(at(start, 61, 40, 50)).unwrap();
        assert_eq!((judged.rejected, judged.calls), (0, 40));
        assert_eq!(judged.over, Duration::from_secs(31));
        assert_eq!(judged.rate(), Some(0.0));
        // Nothing within the minute: nothing to compare with.
        assert_eq!(window.observe(at(start, 200, 40, 50)), None);
    }

    #[test]
    fn a_minute_without_calls_has_no_rate() {
        let start = Instant::now();
        let mut window = Window::default();
        window.observe(at(start, 0, 5, 5));
        let judged = window.observe(at(start, 20, 5, 5)).unwrap();
        assert_eq!(judged.calls, 0);
        assert_eq!(judged.rate(), None);
    }

    #[test]
    fn close_evaluations_are_judged_but_not_kept() {
        let start = Instant::now();
        let mut window = Window::default();
        for tenth in 0..50 {
            let sample = Sample {
                at: start + Duration::from_millis(100 * tenth),
                permitted: tenth,
                rejected: 0,
            };
            window.observe(sample);
        }
        assert_eq!(window.samples.len(), 5);
    }

    #[test]
    fn a_clock_that_goes_back_starts_the_window_over() {
        let start = Instant::now();
        let mut window = Window::default();
        window.observe(at(start, 300, 0, 0));
        assert_eq!(window.observe(at(start, 0, 0, 5)), None);
        let judged = window.observe(at(start, 10, 5, 5)).unwrap();
        assert_eq!((judged.rejected, judged.calls), (0, 5));
    }

    #[test]
    fn smaller_counters_start_the_window_over() {
        let start = Instant::now();
        let mut window = Window::default();
        window.observe(at(start, 0, 100, 100));
        assert_eq!(window.observe(at(start, 5, 3, 1)), None);
        let judged = window.observe(at(start, 10, 4, 1)).unwrap();
        assert_eq!((judged.rejected, judged.calls), (0, 1));
    }
}
