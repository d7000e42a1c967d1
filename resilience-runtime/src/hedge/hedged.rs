//! The future of one hedged call: the primary inline, the hedged copies
//! boxed beside it once the first one starts.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::{Hedge, HedgeConfig, HedgeDelay};

/// One hedged copy of the call.
struct Copy<Fut> {
    future: Pin<Box<Fut>>,
    started: Instant,
    /// Counting the hedged copies from 1.
    attempt: u32,
}

pin_project! {
    /// The future of a hedged call: the first output its `ok` accepts,
    /// else the primary's output once every copy has ended.
    ///
    /// The primary's future lives inline; a call it answers before the delay
    /// allocates nothing and arms no timer (the timer is set up once a poll
    /// finds the primary pending). Hedged copies are boxed as they start.
    #[project = HedgedProj]
    #[must_use = "futures do nothing unless polled"]
    pub struct Hedged<'a, F, Fut, Ok>
    where
        Fut: Future,
    {
        hedge: &'a Hedge,
        config: &'a HedgeConfig,
        make: F,
        ok: Ok,
        // When the primary started: read up front only when latencies are
        // recorded, else on the first pending poll.
        started: Option<Instant>,
        timed: bool,
        #[pin]
        primary: Option<Fut>,
        primary_output: Option<Fut::Output>,
        copies: Vec<Copy<Fut>>,
        launched: u32,
        // The delay in force and the next copy's deadline, once armed.
        delay: Duration,
        deadline: Option<Instant>,
        #[pin]
        timer: Option<Sleep>,
    }
}

impl<'a, F, Fut, Ok> Hedged<'a, F, Fut, Ok>
where
    F: Fn() -> Fut,
    Fut: Future,
    Ok: Fn(&Fut::Output) -> bool,
{
    #[inline]
    pub(super) fn new(hedge: &'a Hedge, make: F, ok: Ok) -> Self {
        let config = hedge.config.get();
        let timed = matches!(config.delay, HedgeDelay::Percentile(_));
        let primary = make();
        Hedged {
            hedge,
            config,
            make,
            ok,
            started: if timed { Some(Instant::now()) } else { None },
            timed,
            primary: Some(primary),
            primary_output: None,
            copies: Vec::new(),
            launched: 0,
            delay: Duration::ZERO,
            deadline: None,
            timer: None,
        }
    }
}

impl<F, Fut, Ok> Future for Hedged<'_, F, Fut, Ok>
where
    F: Fn() -> Fut,
    Fut: Future,
    Ok: Fn(&Fut::Output) -> bool,
{
    type Output = Fut::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(primary) = this.primary.as_mut().as_pin_mut() {
            if let Poll::Ready(output) = primary.poll(context) {
                this.primary.set(None);
                if (this.ok)(&output) {
                    if *this.timed {
                        if let Some(started) = *this.started {
                            this.hedge.latencies.record(started.elapsed());
                        }
                    }
                    this.hedge.primary_won();
                    // The copies still running are cancelled now, not when
                    // the caller gets round to dropping this future.
                    this.copies.clear();
                    return Poll::Ready(output);
                }
                if this.copies.is_empty() {
                    this.hedge.all_failed(1 + *this.launched);
                    return Poll::Ready(output);
                }
                *this.primary_output = Some(output);
            }
        }
        hedging(this, context)
    }
}

/// Everything past the primary's poll: the copies and the timer.
#[inline(never)]
fn hedging<F, Fut, Ok>(
    mut this: HedgedProj<'_, '_, F, Fut, Ok>,
    context: &mut Context<'_>,
) -> Poll<Fut::Output>
where
    F: Fn() -> Fut,
    Fut: Future,
    Ok: Fn(&Fut::Output) -> bool,
{
    loop {
        let mut i = 0;
        while i < this.copies.len() {
            let Poll::Ready(output) = this.copies[i].future.as_mut().poll(context) else {
                i += 1;
                continue;
            };
            let copy = this.copies.swap_remove(i);
            if (this.ok)(&output) {
                if *this.timed {
                    this.hedge.latencies.record(copy.started.elapsed());
                }
                this.hedge.hedge_won(copy.attempt);
                this.copies.clear();
                this.primary.set(None);
                return Poll::Ready(output);
            }
        }
        if this.primary.is_none() && this.copies.is_empty() {
            // Every copy started has failed; a hedge is not a retry.
            let Some(output) = this.primary_output.take() else {
                panic!("`Hedged` polled after completion");
            };
            this.hedge.all_failed(1 + *this.launched);
            return Poll::Ready(output);
        }
        if *this.launched >= this.config.max_hedged_attempts {
            return Poll::Pending;
        }
        let deadline = match *this.deadline {
            Some(deadline) => deadline,
            None => {
                *this.delay = this.hedge.delay_for(this.config);
                let started = *this.started.get_or_insert_with(Instant::now);
                let deadline = started.checked_add(*this.delay);
                let Some(deadline) = deadline else {
                    // Beyond the clock's range: no copy will ever start.
                    *this.launched = this.config.max_hedged_attempts;
                    return Poll::Pending;
                };
                *this.deadline = Some(deadline);
                deadline
            }
        };
        // A timer for a deadline already past would still wait for tokio's
        // next tick (1 ms): a zero delay starts the copy at once.
        if deadline > Instant::now() {
            match this.timer.as_mut().as_pin_mut() {
                Some(timer) => {
                    if timer.deadline() != deadline {
                        timer.reset(deadline);
                    }
                }
                None => this.timer.set(Some(tokio::time::sleep_until(deadline))),
            }
            let fired = this
                .timer
                .as_mut()
                .as_pin_mut()
                .is_some_and(|timer| timer.poll(context).is_ready());
            if !fired {
                return Poll::Pending;
            }
        }
        *this.launched += 1;
        let attempt = *this.launched;
        this.hedge.hedged(attempt, *this.delay);
        if this.copies.capacity() == 0 {
            this.copies
                .reserve_exact(this.config.max_hedged_attempts as usize);
        }
        this.copies.push(Copy {
            future: Box::pin((this.make)()),
            started: Instant::now(),
            attempt,
        });
        if *this.launched < this.config.max_hedged_attempts {
            *this.deadline = deadline.checked_add(*this.delay);
            if this.deadline.is_none() {
                *this.launched = this.config.max_hedged_attempts;
            }
        } else {
            this.timer.set(None);
        }
        // Around again, to poll the new copy.
    }
}
