//! Workers: your handler on an inbox's stored events, at least once, with retries, dead letters,
//! bounded concurrency, per-room order on request and a graceful shutdown.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::record::Stored;
use super::store::{Backend, InboxEvent};
use crate::{dur, obs};
use tencent_room_callback::HandlerError;

/// The longest error kept with a retried event or a dead letter.
const MAX_ERROR: usize = 1024;

/// How long a handler may run on one event by default before it is cancelled and the attempt counts as
/// failed: 30 s. Long enough for a slow downstream (an HTTP call with its own 10 s timeout, retried
/// twice); short enough that a hung handler frees its slot well before a person would notice, and no
/// longer than the Redis store's default claim idle time (30 s), after which another worker would take
/// the event over anyway.
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(30);

/// How many attempts an event gets by default before it becomes a dead letter: 8.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// The first pause before a failed completion, retry or burial is written again, and the longest.
const SETTLE_FIRST: Duration = Duration::from_millis(100);
const SETTLE_MAX: Duration = Duration::from_secs(5);

/// An async handler of stored events: `Ok(())` removes the event from the inbox; an error, a panic or
/// a timeout ([`Worker::handler_timeout`]) hands it again after a backoff, or makes it a dead letter
/// after the last attempt.
///
/// Implemented for every `Fn(InboxEvent) -> impl Future<Output = Result<(), HandlerError>>`.
pub trait InboxHandler: Send + Sync + 'static {
    /// The future the handler returns.
    type Future: Future<Output = Result<(), HandlerError>> + Send + 'static;

    /// Handles one event.
    fn call(&self, event: InboxEvent) -> Self::Future;
}

impl<F, Fut> InboxHandler for F
where
    F: Fn(InboxEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    type Future = Fut;

    fn call(&self, event: InboxEvent) -> Fut {
        self(event)
    }
}

/// A worker to configure, then [`start`](Worker::start): made by [`Inbox::worker`](super::Inbox::worker).
#[must_use = "a worker does nothing until it is started"]
pub struct Worker<H> {
    backend: Arc<dyn Backend>,
    handler: H,
    concurrency: usize,
    max_attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
    handler_timeout: Duration,
    ordered: bool,
}

impl<H> fmt::Debug for Worker<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("store", &self.backend.name())
            .field("concurrency", &self.concurrency)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .field("handler_timeout", &self.handler_timeout)
            .field("ordered", &self.ordered)
            .finish_non_exhaustive()
    }
}

impl<H: InboxHandler> Worker<H> {
    pub(crate) fn new(backend: Arc<dyn Backend>, handler: H) -> Self {
        Worker {
            backend,
            handler,
            concurrency: 32,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            ordered: false,
        }
    }

    /// How many events the handler works on at once (default 32; at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How many attempts an event gets before it becomes a dead letter (default
    /// [`DEFAULT_MAX_ATTEMPTS`], 8; at least 1). An attempt is counted when the event is handed to the
    /// handler, durably, before the handler runs: an event whose handler kills the process, or hangs
    /// past every timeout, is handed out at most this many times (across restarts) and then becomes a
    /// dead letter.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait after a first failure, doubled after each further one up to `max` (default 1 s, up to
    /// 5 min), with equal jitter: each wait is drawn between half of it and all of it, so that events
    /// that failed together are not retried together, and none is retried sooner than half its
    /// backoff. `Duration::ZERO` retries at once; a value above 365 days is cut to 365 days.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = dur::capped(first);
        self.max_backoff = dur::capped(max).max(self.backoff);
        self
    }

    /// How long the handler may run on one event: past it, the handler's task is cancelled and the
    /// attempt fails ("the handler did not finish within ..."), retried or buried like any failure.
    /// Default [`DEFAULT_HANDLER_TIMEOUT`] (30 s); at least 1 ms (`ZERO` is raised to it);
    /// `Duration::MAX` never times out. A handler that blocks its thread instead of awaiting cannot be
    /// cancelled: use `spawn_blocking` in it.
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Per-room order: the events of one room (`RoomId`, else `GroupId`, else a TRTC event's
    /// `EventInfo.RoomId`) are handled one at a time, in arrival order — a failing event holds its
    /// room's later events back until it succeeds or becomes a dead letter. Events without a room are
    /// not held. Default off. In the embedded and memory stores only; on Redis events are handed in
    /// stream order, several at once (see the crate's README).
    pub fn ordered_by_room(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// Starts the worker on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(self) -> WorkerHandle {
        let (stop, stopped) = watch::channel(None);
        let task = tokio::spawn(run(Arc::new(self), stopped));
        WorkerHandle { stop, task }
    }

    /// The backoff after the failure of attempt `attempts + 1`, before its jitter.
    fn ceiling(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts.min(31)).unwrap_or(u32::MAX);
        self.backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// The wait after the failure of attempt `attempts + 1`: [`ceiling`](Self::ceiling), equally
    /// jittered.
    fn delay(&self, attempts: u32) -> Duration {
        dur::equal_jitter(self.ceiling(attempts))
    }
}

/// A running worker: [`shutdown`](Self::shutdown) stops it. Dropping the handle leaves it running.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: watch::Sender<Option<Duration>>,
    task: tokio::task::JoinHandle<ShutdownReport>,
}

/// What a shutdown did with the events the worker had in hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Events whose handler finished during the grace period.
    pub finished: usize,
    /// Events still in the handler when the grace period ended: cancelled and given back to the inbox
    /// (no attempt counted), handed again by the next worker.
    pub returned: usize,
}

impl WorkerHandle {
    /// Stops taking events, lets the handler finish those it has for up to `grace`, then cancels the
    /// rest and gives them back to the inbox.
    pub async fn shutdown(self, grace: Duration) -> ShutdownReport {
        let _ = self.stop.send(Some(grace));
        self.task.await.unwrap_or_default()
    }
}

/// Resolves once a shutdown is asked (never when the handle is dropped without one).
async fn stopping(stop: &mut watch::Receiver<Option<Duration>>) {
    if stop.wait_for(Option::is_some).await.is_err() {
        std::future::pending::<()>().await;
    }
}

type InFlight = Arc<Mutex<HashMap<u64, Stored>>>;

async fn run<H: InboxHandler>(
    worker: Arc<Worker<H>>,
    mut stop: watch::Receiver<Option<Duration>>,
) -> ShutdownReport {
    let slots = Arc::new(Semaphore::new(worker.concurrency));
    let in_flight: InFlight = Arc::default();
    let mut tasks = JoinSet::new();
    let mut tag = 0u64;
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            biased;
            _ = stopping(&mut stop) => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let more = slots.available_permits();
        let claimed = tokio::select! {
            biased;
            _ = stopping(&mut stop) => break,
            claimed = worker.backend.claim(
                1 + more,
                worker.ordered,
                Duration::from_secs(1),
                worker.max_attempts,
            ) => claimed,
        };
        let events = match claimed {
            Ok(events) => events,
            Err(error) => {
                obs::failed("claim", &error);
                drop(permit);
                tokio::select! {
                    biased;
                    _ = stopping(&mut stop) => break,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
        };
        let mut permit = Some(permit);
        for stored in events {
            let Some(slot) = permit
                .take()
                .or_else(|| slots.clone().try_acquire_owned().ok())
            else {
                // More than the free slots (a store may hand more than asked): give it back.
                let _ = worker.backend.release(&stored).await;
                continue;
            };
            tag += 1;
            let my_tag = tag;
            in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(my_tag, stored.clone());
            let worker = worker.clone();
            let in_flight = in_flight.clone();
            tasks.spawn(async move {
                let event = InboxEvent {
                    stored: stored.clone(),
                };
                // Its own task, so that a panic is the handler's failure, not the worker's; cancelled
                // (dropped) at its timeout.
                let mut handler = AbortOnDrop(tokio::spawn(worker.handler.call(event)));
                let result = match tokio::time::timeout(worker.handler_timeout, &mut handler.0)
                    .await
                {
                    Ok(Ok(result)) => result,
                    Ok(Err(e)) if e.is_panic() => Err(HandlerError::msg("the handler panicked")),
                    Ok(Err(_)) => Err(HandlerError::msg("the handler was cancelled")),
                    Err(_) => {
                        handler.0.abort();
                        Err(HandlerError::msg(format!(
                            "the handler did not finish within {} ms",
                            worker.handler_timeout.as_millis()
                        )))
                    }
                };
                settle(&worker, &stored, result).await;
                in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&my_tag);
                drop(slot);
            });
        }
    }
    let grace = *stop.borrow();
    shut_down(&*worker.backend, &mut tasks, &in_flight, grace).await
}

/// Aborts a spawned handler when its worker task is cancelled.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes the handler's outcome: the event completed, retried or buried. A write that fails is tried
/// again (with a growing, jittered pause) until it succeeds — the event stays in the worker's hands
/// meanwhile, never dropped — or the worker's shutdown cancels it (the event is then given back, or,
/// on Redis, taken over once idle).
async fn settle<H: InboxHandler>(
    worker: &Worker<H>,
    stored: &Stored,
    result: Result<(), HandlerError>,
) {
    let failure = match result {
        Ok(()) => None,
        Err(error) => {
            let text = error.to_string();
            let text = obs::fitting(&text, MAX_ERROR).to_owned();
            obs::handler_failed(
                stored.record.meta.command.as_str(),
                &stored.id,
                stored.attempts.saturating_add(1),
                &text,
            );
            Some(text)
        }
    };
    let bury = stored.attempts.saturating_add(1) >= worker.max_attempts;
    let delay = worker.delay(stored.attempts);
    let mut pause = SETTLE_FIRST;
    loop {
        let outcome = match &failure {
            None => worker.backend.complete(stored).await,
            Some(text) if bury => worker.backend.bury(stored, text).await,
            Some(text) => worker.backend.retry(stored, delay, text).await,
        };
        match outcome {
            Ok(()) => break,
            Err(error) => {
                obs::failed("settle", &error);
                tokio::time::sleep(dur::equal_jitter(pause)).await;
                pause = (pause * 2).min(SETTLE_MAX);
            }
        }
    }
    if let Some(depth) = worker.backend.pending_now() {
        obs::depth(worker.backend.name(), depth);
    }
}

async fn shut_down(
    backend: &dyn Backend,
    tasks: &mut JoinSet<()>,
    in_flight: &InFlight,
    grace: Option<Duration>,
) -> ShutdownReport {
    let before = in_flight.lock().unwrap_or_else(|e| e.into_inner()).len();
    let grace = grace.unwrap_or_default();
    let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let left: Vec<Stored> = in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
        .map(|(_, stored)| stored)
        .collect();
    for stored in &left {
        if let Err(error) = backend.release(stored).await {
            obs::failed("release", &error);
        }
    }
    ShutdownReport {
        finished: before - left.len(),
        returned: left.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Inbox;
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_bound_with_equal_jitter() {
        let inbox = Inbox::builder().in_memory();
        let worker = inbox
            .worker(|_: InboxEvent| async { Ok(()) })
            .backoff(Duration::from_millis(100), Duration::from_secs(1));
        let ceilings: Vec<_> = (0..6).map(|a| worker.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(worker.ceiling(u32::MAX), Duration::from_secs(1));
        for a in 0..6 {
            let ceiling = worker.ceiling(a);
            let delays: Vec<Duration> = (0..50).map(|_| worker.delay(a)).collect();
            assert!(
                delays.iter().all(|d| *d >= ceiling / 2 && *d <= ceiling),
                "{delays:?}"
            );
            assert!(
                delays.iter().any(|d| *d != delays[0]),
                "no jitter: {delays:?}"
            );
        }
    }

    #[test]
    fn extreme_settings_are_brought_into_range() {
        let inbox = Inbox::builder().in_memory();
        let worker = inbox
            .worker(|_: InboxEvent| async { Ok(()) })
            .backoff(Duration::MAX, Duration::ZERO)
            .handler_timeout(Duration::ZERO)
            .max_attempts(0)
            .concurrency(0);
        assert_eq!(worker.ceiling(0), crate::dur::MAX_DELAY);
        assert_eq!(worker.ceiling(u32::MAX), crate::dur::MAX_DELAY);
        assert_eq!(worker.handler_timeout, Duration::from_millis(1));
        assert_eq!((worker.max_attempts, worker.concurrency), (1, 1));
        let worker = worker
            .backoff(Duration::ZERO, Duration::MAX)
            .handler_timeout(Duration::MAX);
        assert_eq!(worker.ceiling(0), Duration::ZERO);
        assert_eq!(worker.ceiling(40), Duration::ZERO);
        assert_eq!(worker.handler_timeout, Duration::MAX);
    }
}
