//! De-duplication for handler mode, in memory: [`Dedup`], and how a handler's future runs under it.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::handler::AckFuture;
use super::handler::HandlerError;
use crate::ack::Ack;
use crate::meta::DeliveryKey;

/// The default time a callback's key is remembered: 24 hours.
const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The default number of keys a [`Dedup`] remembers.
const DEFAULT_DEDUP_ENTRIES: usize = 100_000;

/// Remembers the callbacks a handler took, and its answers, in this process's memory, so that a copy
/// (Tencent's retry of a callback that timed out, the same request replayed) gets the first copy's
/// answer without reaching the handler again: [`CallbackLayer::dedup`](crate::CallbackLayer::dedup).
///
/// A callback's key is its [`DeliveryKey`](crate::meta::DeliveryKey): its app, its command and its body
/// bytes as received (for a TRTC event, the event's identity: a retry may carry a new `CallbackTs`). A
/// key is remembered once the handler answered, with the answer, for the TTL (default 24 h; a TTL too
/// long for the clock, such as `Duration::MAX`, keeps keys until the bound pushes them out), and at most
/// `entries` keys are (the oldest forgotten first). A copy gets the first answer byte for byte: the
/// plain OK, or a decision's (a refusal stays a refusal). A copy that arrives while the first is still
/// in its handler waits for it: the same answer once the first is handled, 503 (Tencent may retry) if
/// it failed. A failed or cancelled callback is not remembered. Across replicas or restarts, use the
/// durable inbox (the `tencent-room-callback-inbox` crate) instead. Cheap to clone (one table shared).
#[derive(Clone)]
pub struct Dedup {
    table: Arc<Mutex<Table>>,
    ttl: Duration,
    entries: usize,
}

impl fmt::Debug for Dedup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dedup")
            .field("ttl", &self.ttl)
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Table {
    keys: HashMap<DeliveryKey, State>,
    /// Handled keys in the order they were handled, with their expiry (`None`: never by time).
    order: VecDeque<(DeliveryKey, Option<Instant>)>,
}

enum State {
    /// The first copy is in its handler: `Some(Some(answer))` once handled, `Some(None)` if it failed.
    Running(watch::Receiver<Outcome>),
    /// Handled, until the expiry, with its answer.
    Handled(Option<Instant>, Ack),
}

/// The first copy's outcome, for the copies waiting on it: `None` while it runs.
type Outcome = Option<Option<Ack>>;

impl Default for Dedup {
    fn default() -> Self {
        Dedup::new(DEFAULT_DEDUP_ENTRIES, DEFAULT_DEDUP_TTL)
    }
}

impl Dedup {
    /// The default time a callback's key is remembered: 24 hours.
    pub const DEFAULT_TTL: Duration = DEFAULT_DEDUP_TTL;
    /// The default number of keys remembered: 100,000.
    pub const DEFAULT_ENTRIES: usize = DEFAULT_DEDUP_ENTRIES;

    /// Remembers at most `entries` keys (at least 1), each for `ttl` (any duration: one past what the
    /// clock can reach means "until the bound pushes it out").
    pub fn new(entries: usize, ttl: Duration) -> Self {
        Dedup {
            table: Arc::default(),
            ttl,
            entries: entries.max(1),
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many keys are remembered now (handled, or in a handler).
    pub fn len(&self) -> usize {
        self.table().keys.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What to do with a callback of `key`.
    fn check(&self, key: DeliveryKey) -> Seen {
        let now = Instant::now();
        let mut table = self.table();
        // Forget what expired, and the oldest beyond the bound.
        while let Some(&(old, until)) = table.order.front() {
            let expired = until.is_some_and(|until| until <= now);
            if !expired && table.keys.len() < self.entries {
                break;
            }
            table.order.pop_front();
            if let Some(State::Handled(at, _)) = table.keys.get(&old) {
                if *at == until {
                    table.keys.remove(&old);
                }
            }
        }
        match table.keys.get(&key) {
            Some(State::Handled(until, ack)) if until.is_none_or(|until| until > now) => {
                Seen::Handled(ack.clone())
            }
            Some(State::Running(rx)) => Seen::Running(rx.clone()),
            _ => {
                let (tx, rx) = watch::channel(None);
                table.keys.insert(key, State::Running(rx));
                Seen::First(Mark {
                    dedup: self.clone(),
                    key,
                    tx: Some(tx),
                })
            }
        }
    }

    /// Runs a callback of `key` under this de-duplication: the first copy's handler, from `deliver`
    /// (called only for it: a copy is never decoded again), or the first copy's answer. `Err` is
    /// `deliver`'s own (a refused body), for which nothing is remembered.
    pub(crate) fn run<E>(
        &self,
        key: DeliveryKey,
        deliver: impl FnOnce() -> Result<AckFuture, E>,
    ) -> Result<AckFuture, E> {
        Ok(match self.check(key) {
            Seen::Handled(ack) => Box::pin(std::future::ready(Ok(ack))),
            Seen::Running(rx) => Box::pin(wait(rx)),
            // A refusal drops the mark: the key is forgotten.
            Seen::First(mark) => Box::pin(Marked {
                fut: deliver()?,
                mark,
            }),
        })
    }
}

enum Seen {
    Handled(Ack),
    Running(watch::Receiver<Outcome>),
    First(Mark),
}

/// The first copy's mark: remembered with its answer when handled, forgotten otherwise (a failure, a
/// cancellation).
struct Mark {
    dedup: Dedup,
    key: DeliveryKey,
    tx: Option<watch::Sender<Outcome>>,
}

impl Mark {
    fn settle(&mut self, answer: Option<&Ack>) {
        let Some(tx) = self.tx.take() else {
            return;
        };
        {
            let dedup = &self.dedup;
            let mut table = dedup.table();
            match answer {
                Some(ack) => {
                    // Past what the clock can reach: until the bound pushes it out.
                    let until = Instant::now().checked_add(dedup.ttl);
                    table
                        .keys
                        .insert(self.key, State::Handled(until, ack.clone()));
                    table.order.push_back((self.key, until));
                }
                None => {
                    if matches!(table.keys.get(&self.key), Some(State::Running(_))) {
                        table.keys.remove(&self.key);
                    }
                }
            }
        }
        let _ = tx.send(Some(answer.cloned()));
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        self.settle(None);
    }
}

/// The first copy's handler, settling its mark when it ends.
struct Marked {
    fut: AckFuture,
    mark: Mark,
}

impl Future for Marked {
    type Output = Result<Ack, HandlerError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let out = std::task::ready!(self.fut.as_mut().poll(cx));
        self.mark.settle(out.as_ref().ok());
        Poll::Ready(out)
    }
}

/// A copy of a callback still in its handler: the first copy's answer.
async fn wait(mut rx: watch::Receiver<Outcome>) -> Result<Ack, HandlerError> {
    let answer = match rx.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone().flatten(),
        Err(_) => None,
    };
    answer.ok_or_else(|| {
        HandlerError::unavailable("an earlier copy of this callback failed or was cancelled; retry")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> DeliveryKey {
        DeliveryKey::from_bytes([n; 16])
    }

    fn now<F: Future>(f: F) -> F::Output {
        match std::pin::pin!(f).poll(&mut Context::from_waker(std::task::Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("not ready at once"),
        }
    }

    fn answer(ack: Ack) -> Result<AckFuture, ()> {
        Ok(Box::pin(std::future::ready(Ok(ack))))
    }

    #[test]
    fn a_copy_gets_the_first_answer_byte_for_byte() {
        let dedup = Dedup::default();
        let refusal = Ack::decision(1, "blocked");
        let first = now(dedup.run(key(1), || answer(refusal.clone())).unwrap()).unwrap();
        assert_eq!(first.to_bytes(), refusal.to_bytes());
        // The copy is not delivered again, and gets the refusal, not a plain OK.
        let copy = dedup
            .run(key(1), || -> Result<AckFuture, ()> {
                panic!("a copy is not delivered")
            })
            .unwrap();
        assert_eq!(now(copy).unwrap().to_bytes(), refusal.to_bytes());
        assert_eq!(dedup.len(), 1);
    }

    #[test]
    fn a_failure_and_a_refusal_are_forgotten() {
        let dedup = Dedup::default();
        let failed = dedup
            .run(key(2), || -> Result<AckFuture, ()> {
                Ok(Box::pin(std::future::ready(Err(HandlerError::msg("down")))))
            })
            .unwrap();
        assert!(now(failed).is_err());
        assert!(dedup.is_empty());
        assert!(dedup
            .run(key(3), || answer(Ack::ok()).and(Err(())))
            .is_err());
        assert!(dedup.is_empty());
    }

    #[test]
    fn any_ttl_is_taken_without_a_panic() {
        for ttl in [Duration::MAX, Duration::ZERO, Duration::from_secs(u64::MAX)] {
            let dedup = Dedup::new(2, ttl);
            for n in 0..5 {
                now(dedup.run(key(n), || answer(Ack::ok())).unwrap()).unwrap();
                now(dedup.run(key(n), || answer(Ack::ok())).unwrap()).unwrap();
            }
            // Bounded whatever the TTL: the oldest pushed out.
            assert!(dedup.len() <= 2, "{ttl:?}: {}", dedup.len());
        }
        // A TTL of zero remembers nothing for later.
        let zero = Dedup::new(10, Duration::ZERO);
        now(zero.run(key(9), || answer(Ack::ok())).unwrap()).unwrap();
        let mut delivered = false;
        now(zero
            .run(key(9), || {
                delivered = true;
                answer(Ack::ok())
            })
            .unwrap())
        .unwrap();
        assert!(delivered);
    }
}
