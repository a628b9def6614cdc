//! De-duplication for handler mode, in memory: [`Dedup`] and the [`Deduped`] link of a route chain.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Extensions;
use pin_project_lite::pin_project;
use tokio::sync::watch;

use super::handler::HandlerError;
use super::routes::{sealed, Delivery, Routes, Selected, To};
use crate::ack::Ack;
use crate::command::CallbackCommand;
use crate::meta::CallbackMeta;
use crate::meta::DeliveryKey;
use crate::reject::Rejection;

/// The default time a callback's key is remembered: 24 hours.
const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The default number of keys a [`Dedup`] remembers.
const DEFAULT_DEDUP_ENTRIES: usize = 100_000;

/// Remembers the callbacks a handler took, in this process's memory, so that a copy (Tencent's retry of
/// an "after" callback that timed out, the same request replayed) is acknowledged OK without reaching
/// the handler again: [`CallbackLayer::dedup`](crate::CallbackLayer::dedup).
///
/// A callback's key covers its app, its command and its body bytes as received
/// ([`DeliveryKey`](crate::meta::DeliveryKey)). A key is remembered once the handler answered OK, for the TTL
/// (default 24 h), and at most `entries` keys are (the oldest forgotten first). A copy that arrives while
/// the first is still in its handler waits for it: OK once the first is handled, 503 (Tencent may retry)
/// if it failed. A failed or cancelled callback is not remembered. Across replicas or restarts, use the
/// `inbox` module (feature `inbox`) instead. Cheap to clone (one table shared).
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
    /// Handled keys in the order they were handled, with their expiry.
    order: VecDeque<(DeliveryKey, Instant)>,
}

enum State {
    /// The first copy is in its handler: `Some(true)` once handled, `Some(false)` if it failed.
    Running(watch::Receiver<Option<bool>>),
    Handled(Instant),
}

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

    /// Remembers at most `entries` keys (at least 1), each for `ttl`.
    pub fn new(entries: usize, ttl: Duration) -> Self {
        Dedup {
            table: Arc::default(),
            ttl,
            entries: entries.max(1),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many keys are remembered now (handled or running).
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
        while let Some(&(old, at)) = table.order.front() {
            if at > now && table.keys.len() < self.entries {
                break;
            }
            table.order.pop_front();
            if let Some(State::Handled(until)) = table.keys.get(&old) {
                if *until == at {
                    table.keys.remove(&old);
                }
            }
        }
        match table.keys.get(&key) {
            Some(State::Handled(until)) if *until > now => Seen::Handled,
            Some(State::Running(rx)) => Seen::Running(rx.clone()),
            _ => {
                let (tx, rx) = watch::channel(None);
                table.keys.insert(key, State::Running(rx));
                Seen::First(Mark {
                    dedup: Some(self.clone()),
                    key,
                    tx: Some(tx),
                })
            }
        }
    }
}

enum Seen {
    Handled,
    Running(watch::Receiver<Option<bool>>),
    First(Mark),
}

/// The first copy's mark: remembered as handled on OK, forgotten otherwise (a failure, a cancellation).
struct Mark {
    dedup: Option<Dedup>,
    key: DeliveryKey,
    tx: Option<watch::Sender<Option<bool>>>,
}

impl Mark {
    /// A mark that records nothing.
    fn none() -> Self {
        Mark {
            dedup: None,
            key: DeliveryKey::from_bytes([0; 16]),
            tx: None,
        }
    }

    fn settle(&mut self, handled: bool) {
        let (Some(tx), Some(dedup)) = (self.tx.take(), &self.dedup) else {
            return;
        };
        {
            let mut table = dedup.table();
            if handled {
                let until = Instant::now() + dedup.ttl;
                table.keys.insert(self.key, State::Handled(until));
                table.order.push_back((self.key, until));
            } else if matches!(table.keys.get(&self.key), Some(State::Running(_))) {
                table.keys.remove(&self.key);
            }
        }
        let _ = tx.send(Some(handled));
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        self.settle(false);
    }
}

/// The link that de-duplicates what the routes registered before it deliver to handlers (events
/// forwarded to the inner service are not de-duplicated).
pub struct Deduped<R> {
    dedup: Dedup,
    rest: Arc<R>,
}

impl<R: Routes> Deduped<R> {
    pub(crate) fn new(dedup: Dedup, rest: Arc<R>) -> Self {
        Deduped { dedup, rest }
    }
}

impl<R: fmt::Debug> fmt::Debug for Deduped<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deduped")
            .field("dedup", &self.dedup)
            .field("rest", &*self.rest)
            .finish()
    }
}

impl<R> sealed::Sealed for Deduped<R> {}

impl<R: Routes> Routes for Deduped<R> {
    type Body<B> = R::Body<B>;
    type Future = DedupFuture<R::Future>;

    fn depth(&self) -> u16 {
        self.rest.depth()
    }

    fn select(&self, command: &CallbackCommand) -> Option<Selected> {
        self.rest.select(command)
    }

    fn deliver(
        &self,
        at: u16,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        if meta.command.is_before() {
            // A before callback's answer is a decision: a copy must get its own, not a plain OK.
            let delivery = self.rest.deliver(at, meta, body, extensions)?;
            return Ok(Delivery {
                to: match delivery.to {
                    To::Handler(fut) => To::Handler(DedupFuture::pass(fut)),
                    To::Inner => To::Inner,
                },
                room: delivery.room,
            });
        }
        let key = DeliveryKey::of(meta.sdk_app_id, meta.command.as_str(), body);
        let mark = match self.dedup.check(key) {
            Seen::Handled => {
                return Ok(Delivery {
                    to: To::Handler(DedupFuture::done()),
                    room: crate::trace::room(None),
                })
            }
            Seen::Running(rx) => {
                return Ok(Delivery {
                    to: To::Handler(DedupFuture::wait(rx)),
                    room: crate::trace::room(None),
                })
            }
            Seen::First(mark) => mark,
        };
        // A refusal (a malformed body) drops the mark: the key is forgotten.
        let delivery = self.rest.deliver(at, meta, body, extensions)?;
        Ok(match delivery.to {
            To::Handler(fut) => Delivery {
                to: To::Handler(DedupFuture::run(fut, mark)),
                room: delivery.room,
            },
            To::Inner => Delivery {
                to: To::Inner,
                room: delivery.room,
            },
        })
    }

    #[inline]
    fn pass<B>(body: B) -> Self::Body<B> {
        R::pass(body)
    }

    #[inline]
    fn pass_request<B>(req: http::Request<B>) -> http::Request<Self::Body<B>> {
        R::pass_request(req)
    }

    fn forward<B>(body: Bytes) -> Option<Self::Body<B>> {
        R::forward(body)
    }
}

/// A copy of a callback still in its handler: the first copy's outcome.
async fn wait(mut rx: watch::Receiver<Option<bool>>) -> Result<Ack, HandlerError> {
    let handled = match rx.wait_for(Option::is_some).await {
        Ok(outcome) => *outcome == Some(true),
        Err(_) => false,
    };
    if handled {
        Ok(Ack::ok())
    } else {
        Err(HandlerError::unavailable(
            "an earlier copy of this callback failed or was cancelled; retry",
        ))
    }
}

pin_project! {
    /// The future of a de-duplicated delivery.
    pub struct DedupFuture<F> {
        #[pin]
        inner: Inner<F>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F> {
        // The first copy, in its handler; the mark is settled when it ends (or is dropped).
        Run { #[pin] fut: F, mark: Mark },
        // A copy of a handled callback: OK at once.
        Done { out: Option<Result<Ack, HandlerError>> },
        // A copy of a callback in its handler.
        Wait { fut: Pin<Box<dyn Future<Output = Result<Ack, HandlerError>> + Send>> },
    }
}

impl<F> DedupFuture<F> {
    fn run(fut: F, mark: Mark) -> Self {
        DedupFuture {
            inner: Inner::Run { fut, mark },
        }
    }

    fn pass(fut: F) -> Self {
        DedupFuture {
            inner: Inner::Run {
                fut,
                mark: Mark::none(),
            },
        }
    }

    fn done() -> Self {
        DedupFuture {
            inner: Inner::Done {
                out: Some(Ok(Ack::ok())),
            },
        }
    }

    fn wait(rx: watch::Receiver<Option<bool>>) -> Self {
        DedupFuture {
            inner: Inner::Wait {
                fut: Box::pin(wait(rx)),
            },
        }
    }
}

impl<F> fmt::Debug for DedupFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.inner {
            Inner::Run { .. } => "DedupFuture::Run",
            Inner::Done { .. } => "DedupFuture::Done",
            Inner::Wait { .. } => "DedupFuture::Wait",
        })
    }
}

impl<F> Future for DedupFuture<F>
where
    F: Future<Output = Result<Ack, HandlerError>>,
{
    type Output = Result<Ack, HandlerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            InnerProj::Run { fut, mark } => {
                let out = std::task::ready!(fut.poll(cx));
                mark.settle(out.is_ok());
                Poll::Ready(out)
            }
            InnerProj::Done { out } => Poll::Ready(out.take().unwrap_or_else(|| Ok(Ack::ok()))),
            InnerProj::Wait { fut } => fut.as_mut().poll(cx),
        }
    }
}
