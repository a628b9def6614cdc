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
use crate::obs;
use tencent_room_callback::HandlerError;

/// The longest error kept with a retried event or a dead letter.
const MAX_ERROR: usize = 1024;

/// An async handler of stored events: `Ok(())` removes the event from the inbox; an error (or a panic)
/// hands it again after a backoff, or makes it a dead letter after the last attempt.
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
            max_attempts: 8,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            ordered: false,
        }
    }

    /// How many events the handler works on at once (default 32; at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How many attempts an event gets before it becomes a dead letter (default 8; at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait after a first failure, doubled after each further one up to `max` (default 1 s, up to
    /// 5 min).
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// Per-room order: the events of one room (`RoomId`, else `GroupId`) are handled one at a time, in
    /// arrival order — a failing event holds its room's later events back until it succeeds or becomes a
    /// dead letter. Events without a room are not held. Default off. In the embedded and memory stores
    /// only; on Redis events are handed in stream order, several at once (see the crate's README).
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

    fn delay(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts.min(31)).unwrap_or(u32::MAX);
        self.backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
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
            claimed = worker.backend.claim(1 + more, worker.ordered, Duration::from_secs(1)) => claimed,
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
                // Its own task, so that a panic is the handler's failure, not the worker's.
                let mut handler = AbortOnDrop(tokio::spawn(worker.handler.call(event)));
                let result = match (&mut handler.0).await {
                    Ok(result) => result,
                    Err(e) if e.is_panic() => Err(HandlerError::msg("the handler panicked")),
                    Err(_) => Err(HandlerError::msg("the handler was cancelled")),
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

async fn settle<H: InboxHandler>(
    worker: &Worker<H>,
    stored: &Stored,
    result: Result<(), HandlerError>,
) {
    let outcome = match result {
        Ok(()) => worker.backend.complete(stored).await,
        Err(error) => {
            let text = error.to_string();
            let text = obs::fitting(&text, MAX_ERROR);
            obs::handler_failed(
                stored.record.meta.command.as_str(),
                &stored.id,
                stored.attempts + 1,
                text,
            );
            if stored.attempts + 1 >= worker.max_attempts {
                worker.backend.bury(stored, text).await
            } else {
                let delay = worker.delay(stored.attempts);
                worker.backend.retry(stored, delay, text).await
            }
        }
    };
    if let Some(depth) = worker.backend.pending_now() {
        obs::depth(worker.backend.name(), depth);
    }
    if let Err(error) = outcome {
        // The event stays claimed in the store: handed again after a restart (or, on Redis, claimed by
        // another worker once idle).
        obs::failed("settle", &error);
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
    fn the_backoff_doubles_up_to_its_bound() {
        let inbox = Inbox::builder().in_memory();
        let worker = inbox
            .worker(|_: InboxEvent| async { Ok(()) })
            .backoff(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<_> = (0..6).map(|a| worker.delay(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(worker.delay(u32::MAX), Duration::from_secs(1));
    }
}
