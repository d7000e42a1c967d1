//! What a test body does when called, and a wait for spawned tasks, shared by
//! the policy tests. Include with `#[path = "common/act.rs"] mod act;` next to
//! `mod common;`.

#![allow(dead_code)]

use crate::common::AppError;

/// How an annotated test function's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Succeed,
    Fail,
    Panic,
    /// Never finishes (async only): the caller must drop the future.
    Hang,
}

impl Act {
    pub fn run_sync(self) -> Result<(), AppError> {
        match self {
            Act::Succeed => Ok(()),
            Act::Fail => Err(AppError::Transient),
            Act::Panic => panic!("the body panicked, as the test asked"),
            Act::Hang => unreachable!("a sync body cannot hang in a test"),
        }
    }

    pub async fn run(self) -> Result<(), AppError> {
        if self == Act::Hang {
            std::future::pending::<()>().await;
        }
        self.run_sync()
    }
}

/// Lets the other tasks of a current-thread runtime run until `condition`
/// holds; never advances a paused clock.
pub async fn until(condition: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if condition() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the spawned tasks never reached the expected point");
}
