//! A retry budget shared by the retries that name it: a guard against retry
//! storms, on the model of Finagle's `RetryBudget` and tower's `TpsBudget`.
//!
//! Every call of a retry that names the budget deposits into it, once, when
//! its first attempt ends; every retry withdraws from it. A retry is allowed
//! while the retries of the last `ttl` stay within `retry_ratio` of the calls
//! of the last `ttl`, plus a reserve of `min_retries_per_second * ttl` that
//! lets a quiet service retry at all:
//!
//! ```text
//! retries(ttl) <= retry_ratio * calls(ttl) + min_retries_per_second * ttl
//! ```
//!
//! When the budget is spent, the retry stops and its call returns the last
//! error, with [`RetryEvent::Stopped`](crate::retry::RetryEvent::Stopped) and
//! [`Event::RetryStopped`](crate::Event::RetryStopped) (reason
//! [`StopReason::Budget`](crate::retry::StopReason::Budget)). The window is
//! kept in ten slots of a tenth of `ttl` each, so a call or a retry leaves it
//! between 0.9 and 1.0 `ttl` after it was counted. Deposits and withdrawals
//! are lock-free (tower's take a `Mutex`): a few atomic operations on the
//! budget's own words, and a withdrawal can never take the window's balance
//! below zero, however many threads retry at once.
//!
//! ```
//! use resilience_runtime::retry_budget::{RetryBudget, RetryBudgetConfig};
//!
//! // No reserve: one retry for every five calls.
//! let budget = RetryBudget::new(
//!     "docs-budget",
//!     RetryBudgetConfig::default().retry_ratio(0.2).min_retries_per_second(0),
//! )
//! .unwrap();
//! for _ in 0..5 {
//!     budget.deposit();
//! }
//! assert!(budget.withdraw());
//! assert!(!budget.withdraw());
//! assert_eq!(budget.metrics().retries_refused, 1);
//! ```

mod window;

use std::time::Duration;

use crate::clock::{saturating_nanos, Epoch};
use crate::config::{check, ConfigError};
use crate::live::Live;
use crate::stats::{Counter, PerThreadCounter};
use crate::Name;
use window::{Window, SLOTS};

/// A retry withdraws this many units; a call deposits `retry_ratio` of them.
const UNITS: f64 = 1000.0;

/// A retry budget's settings.
///
/// ```
/// use resilience_runtime::retry_budget::RetryBudgetConfig;
/// use std::time::Duration;
///
/// let config = RetryBudgetConfig::default()
///     .ttl(Duration::from_secs(30))
///     .retry_ratio(0.1)
///     .min_retries_per_second(5);
/// assert!(config.validate().is_ok());
/// assert!(RetryBudgetConfig::default().ttl(Duration::from_millis(10)).validate().is_err());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudgetConfig {
    /// How long a call or a retry counts, from 1s to 60s (as Finagle and
    /// tower allow). Default 10s.
    pub ttl: Duration,
    /// Retries allowed per call, in `[0, 1000]`, counted in thousandths.
    /// Default 0.2.
    pub retry_ratio: f64,
    /// Retries allowed per second of `ttl` whatever the calls, at most
    /// 100000. Default 10.
    pub min_retries_per_second: u32,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ttl: Duration::from_secs(10),
            retry_ratio: 0.2,
            min_retries_per_second: 10,
        }
    }
}

impl RetryBudgetConfig {
    /// Sets [`ttl`](Self::ttl).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
    /// Sets [`retry_ratio`](Self::retry_ratio).
    pub fn retry_ratio(mut self, ratio: f64) -> Self {
        self.retry_ratio = ratio;
        self
    }
    /// Sets [`min_retries_per_second`](Self::min_retries_per_second).
    pub fn min_retries_per_second(mut self, n: u32) -> Self {
        self.min_retries_per_second = n;
        self
    }

    /// Checks every setting, naming the first one at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(
            (Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.ttl),
            "ttl",
            || {
                format!(
                    "must be from 1s to 60s, got {}",
                    resilience_grammar::duration::format(self.ttl)
                )
            },
        )?;
        check(
            (0.0..=1000.0).contains(&self.retry_ratio),
            "retry_ratio",
            || format!("must be in [0, 1000], got {}", self.retry_ratio),
        )?;
        check(
            self.min_retries_per_second <= 100_000,
            "min_retries_per_second",
            || {
                format!(
                    "must be at most 100000, got {}",
                    self.min_retries_per_second
                )
            },
        )?;
        Ok(())
    }
}

/// A point-in-time copy of a retry budget's counts.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudgetMetrics {
    /// Calls that deposited, since creation.
    pub calls: u64,
    /// Retries the budget allowed.
    pub retries_permitted: u64,
    /// Retries the budget refused, each ending its call.
    pub retries_refused: u64,
    /// Retries the window allows now.
    pub available_retries: u64,
}

/// The settings in force and the window they size.
#[derive(Debug)]
struct Block {
    config: RetryBudgetConfig,
    slot_nanos: u64,
    deposit: i64,
    window: Window,
}

impl Block {
    fn new(config: RetryBudgetConfig) -> Block {
        let slot_nanos = (saturating_nanos(config.ttl) / SLOTS).max(1);
        // Floored, so that the budget never allows more than its settings say;
        // the nudge keeps 0.29 * 1000 from flooring to 289.
        let deposit = (config.retry_ratio * UNITS + 1e-6).floor() as i64;
        let reserve = (f64::from(config.min_retries_per_second) * config.ttl.as_secs_f64() * UNITS
            + 1e-6)
            .floor() as i64;
        Block {
            config,
            slot_nanos,
            deposit,
            window: Window::new(reserve),
        }
    }
}

/// A named budget of retries, shared by every retry whose `budget` names it
/// (see the [module](self)). Get the registry's with
/// [`Registry::retry_budget`](crate::Registry::retry_budget); configure it in
/// a file's `[retry_budget.<name>]` table.
#[derive(Debug)]
pub struct RetryBudget {
    name: Name,
    block: Live<Block>,
    clock: Epoch,
    calls: PerThreadCounter,
    permitted: Counter,
    refused: Counter,
}

impl RetryBudget {
    /// A budget named `name`.
    pub fn new(name: impl Into<Name>, config: RetryBudgetConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(RetryBudget {
            name: name.into(),
            block: Live::new(Block::new(config)),
            clock: Epoch::now(),
            calls: PerThreadCounter::new(),
            permitted: Counter::default(),
            refused: Counter::default(),
        })
    }

    /// The budget's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The settings in force.
    pub fn config(&self) -> &RetryBudgetConfig {
        &self.block.get().config
    }

    /// Applies new settings. The window starts afresh, full of its new
    /// reserve: the calls and retries counted under the old settings are in
    /// units of them. An invalid configuration is returned as the error and
    /// changes nothing.
    pub fn reconfigure(&self, config: RetryBudgetConfig) -> Result<(), ConfigError> {
        config.validate()?;
        self.block
            .update(|current| (current.config != config).then(|| Block::new(config)));
        Ok(())
    }

    fn epoch(&self, block: &Block) -> u64 {
        self.clock.nanos() / block.slot_nanos
    }

    /// Counts one call.
    pub fn deposit(&self) {
        let block = self.block.get();
        block.window.deposit(self.epoch(block), block.deposit);
        self.calls.add();
    }

    /// Takes one retry if the budget allows it; `false`, counted as refused, if not.
    pub fn withdraw(&self) -> bool {
        let block = self.block.get();
        let allowed = block.window.withdraw(self.epoch(block), UNITS as i64);
        if allowed {
            self.permitted.add();
        } else {
            self.refused.add();
        }
        allowed
    }

    /// The counts, read now.
    pub fn metrics(&self) -> RetryBudgetMetrics {
        let block = self.block.get();
        let balance = block.window.balance(self.epoch(block));
        RetryBudgetMetrics {
            calls: self.calls.get(),
            retries_permitted: self.permitted.get(),
            retries_refused: self.refused.get(),
            available_retries: u64::try_from(balance / UNITS as i64).unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(config: RetryBudgetConfig) -> RetryBudget {
        RetryBudget::new("budget-unit", config).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn the_reserve_allows_min_retries_per_second_times_ttl() {
        let budget = budget(
            RetryBudgetConfig::default()
                .ttl(Duration::from_secs(2))
                .retry_ratio(0.0)
                .min_retries_per_second(3),
        );
        assert_eq!(budget.metrics().available_retries, 6);
        for _ in 0..6 {
            assert!(budget.withdraw());
        }
        assert!(!budget.withdraw());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(budget.metrics().available_retries, 6, "refilled after ttl");
    }

    #[test]
    fn ratios_are_counted_in_thousandths_without_rounding_up() {
        let block = Block::new(RetryBudgetConfig::default().retry_ratio(0.29));
        assert_eq!(block.deposit, 290);
        let block = Block::new(RetryBudgetConfig::default().retry_ratio(0.0004));
        assert_eq!(block.deposit, 0);
    }

    #[test]
    fn reconfiguring_starts_a_fresh_window() {
        let budget = budget(RetryBudgetConfig::default().min_retries_per_second(1));
        assert!(budget.withdraw());
        assert_eq!(budget.metrics().available_retries, 9);
        budget
            .reconfigure(RetryBudgetConfig::default().min_retries_per_second(2))
            .unwrap();
        assert_eq!(budget.metrics().available_retries, 20);
        let error = budget
            .reconfigure(RetryBudgetConfig::default().retry_ratio(-1.0))
            .unwrap_err();
        assert_eq!(error.key(), "retry_ratio");
        assert_eq!(budget.config().min_retries_per_second, 2);
    }
}
