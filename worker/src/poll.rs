//! How an idle worker looks for jobs: a tick every [`POLL`](crate::POLL) that never forgets
//! to wake it.
//!
//! apalis-core 1.0's `IntervalStrategy` (`poll_with_interval`) replaces its timer when it
//! fires but does not poll the new one, so no wake-up is registered for the next tick. The
//! worker is only woken again if something else in that same poll registers a wake-up (a fetch
//! still waiting for the database does). When the fetch completes at once and finds nothing,
//! nothing is registered but the backend's heartbeat timer, and the worker sleeps until it
//! fires: apalis-sqlite's default heartbeat is 30 s, which is what an embedded worker that
//! "took no job for about 30 s after start" waited for (issue 18, finding 4). [`Every`]
//! registers the next tick before it reports this one.

use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy};
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Wakes the worker every `interval`.
pub struct Every {
    interval: Duration,
    tick: Option<Pin<Box<Sleep>>>,
}

impl Every {
    pub fn new(interval: Duration) -> Every {
        Every {
            interval,
            tick: None,
        }
    }
}

impl PollStrategy for Every {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let interval = self.interval;
        let tick = self
            .tick
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
        if tick.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        // The next tick, with this task registered to be woken by it: whatever the poll that
        // follows does, the worker looks again within `interval`.
        tick.as_mut().reset(Instant::now() + interval);
        let _ = tick.as_mut().poll(cx);
        Poll::Ready(Some(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apalis_core::backend::ext::poll_strategy::IntervalStrategy;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Polls `strategy` once a tick is due, then not again: returns whether the strategy
    /// woke the task for the next tick by itself.
    async fn wakes_for_the_next_tick(strategy: &mut impl PollStrategy) -> bool {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let snapshot = PollSnapshot::default();
        // The first poll arms the timer; the tick is due after it.
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_pending());
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_ready());
        // The worker's fetch then finds nothing and registers no wake-up of its own.
        let before = count.0.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        count.0.load(Ordering::SeqCst) > before
    }

    #[tokio::test]
    async fn every_tick_wakes_the_worker_for_the_next() {
        assert!(wakes_for_the_next_tick(&mut Every::new(Duration::from_millis(50))).await);
    }

    /// Documents why [`Every`] exists: if this starts failing, apalis's own strategy wakes
    /// the worker again and [`Every`] can go.
    #[tokio::test]
    async fn apalis_interval_strategy_forgets_the_next_tick() {
        assert!(
            !wakes_for_the_next_tick(&mut IntervalStrategy::new(Duration::from_millis(50))).await
        );
    }
}
