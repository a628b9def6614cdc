//! A bounded in-memory queue between the layer and a worker: answer Tencent fast, work at your pace.
//!
//! Tencent waits about 2 s for an answer. A handler that takes longer (a slow database, a remote API)
//! makes Tencent count the callback as failed even when the work later succeeds. The policy here:
//!
//! - the layer's handler only **enqueues** the event, without waiting: [`QueueHandler`] answers OK once
//!   the event is *in the queue*, never before;
//! - a **full** queue (the worker is behind) answers 503 with a FAIL acknowledgment
//!   ([`RejectionKind::Unavailable`](crate::RejectionKind::Unavailable)): the event is not taken, and
//!   Tencent's retry, where enabled, can deliver it again. That is the backpressure: memory stays bounded
//!   by the capacity and no event is acknowledged and then dropped for lack of room;
//! - a **closed** queue (the [`QueueReceiver`] was dropped or [`closed`](QueueReceiver::close)) answers
//!   503 as well;
//! - your worker takes the events from the [`QueueReceiver`] and does the slow work.
//!
//! ```
//! use axum::{routing::post, Router};
//! use tencent_room_callback::{queue, CallbackLayer, CommandSet, Config, RoomEvent};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (handler, mut events) = queue::<RoomEvent>(1024);
//!
//! let worker = tokio::spawn(async move {
//!     // `recv` returns `None` once every handler is gone (the server stopped) and the queue is
//!     // drained: nothing that was acknowledged is skipped.
//!     while let Some((event, meta)) = events.recv().await {
//!         println!("{} from app {}", event.command(), meta.sdk_app_id);
//!     }
//! });
//!
//! let app: Router = Router::new()
//!     .route("/callback", post(|| async { "not a callback" }))
//!     .layer(CallbackLayer::new(Config::new(1400000000)).on_any(CommandSet::ALL, handler));
//! # drop(app);
//! # worker.await.unwrap();
//! # }
//! ```
//!
//! # What OK means here
//!
//! OK means "safely queued, **in memory**". Events in the queue are lost if the process crashes or is
//! killed before the worker has handled them, and Tencent will not resend an event it saw acknowledged.
//! If that is not acceptable, persist the event (a database row, a durable log) **in the handler, before
//! answering OK**, and let the worker read from that store instead; keep the persisting step well inside
//! the 2 s budget. On an orderly shutdown, stop the server first, then let the worker drain the queue
//! (see `examples/queue_worker.rs`).
//!
//! The other way round is possible too: an event is queued, then the connection drops before Tencent
//! reads the OK, and Tencent's retry (where enabled) delivers it again. Delivery is at least once:
//! de-duplicate in the worker with [`Event::idempotency_key`](crate::Event::idempotency_key).
//!
//! Why not simply a slow handler? Tencent gives up after about 2 s and closes the connection; hyper then
//! drops the request's future, which cancels a handler still running at its next `.await`, half-way
//! through its work. Enqueuing happens at once, before any `.await`.

use std::error::Error as StdError;
use std::fmt;
use std::future::{ready, Ready};

use tokio::sync::mpsc;

use crate::layer::{Handler, HandlerError};
use crate::meta::CallbackMeta;

/// Creates a bounded queue of events `E` holding at most `capacity` events: the [`Handler`] to register
/// on a [`CallbackLayer`](crate::CallbackLayer) and the [`QueueReceiver`] for your worker.
///
/// # Panics
/// When `capacity` is 0.
pub fn queue<E>(capacity: usize) -> (QueueHandler<E>, QueueReceiver<E>) {
    assert!(
        capacity > 0,
        "a callback queue needs a capacity of at least 1"
    );
    let (tx, rx) = mpsc::channel(capacity);
    (QueueHandler { tx }, QueueReceiver { rx })
}

/// A [`Handler`] that puts each event, with its [`CallbackMeta`], into a bounded queue without waiting.
///
/// Answers OK once the event is in the queue; 503 (FAIL, [`QueueError::Full`]) when the queue is full;
/// 503 ([`QueueError::Closed`]) when the receiver is gone or closed. Cheap to clone: clones feed the same
/// queue. Made by [`queue`].
pub struct QueueHandler<E> {
    tx: mpsc::Sender<(E, CallbackMeta)>,
}

impl<E> QueueHandler<E> {
    /// The most events the queue holds.
    pub fn capacity(&self) -> usize {
        self.tx.max_capacity()
    }

    /// How many events are waiting in the queue now.
    pub fn len(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Whether no event is waiting in the queue now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the receiver is gone or closed: every event is then refused with 503.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Puts `event` in the queue without waiting.
    ///
    /// # Errors
    /// [`QueueError::Full`] or [`QueueError::Closed`]; the event is then not in the queue.
    pub fn try_push(&self, event: E, meta: CallbackMeta) -> Result<(), QueueError> {
        self.tx.try_send((event, meta)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => QueueError::Full,
            mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
        })
    }
}

impl<E> Clone for QueueHandler<E> {
    fn clone(&self) -> Self {
        QueueHandler {
            tx: self.tx.clone(),
        }
    }
}

impl<E> fmt::Debug for QueueHandler<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueHandler")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<E: Send + 'static> Handler<E> for QueueHandler<E> {
    type Future = Ready<Result<(), HandlerError>>;

    fn call(&self, event: E, meta: CallbackMeta) -> Self::Future {
        ready(
            self.try_push(event, meta)
                .map_err(HandlerError::unavailable),
        )
    }
}

/// The worker's end of a [`queue`]: the events the layer acknowledged, in the order they were queued.
pub struct QueueReceiver<E> {
    rx: mpsc::Receiver<(E, CallbackMeta)>,
}

impl<E> QueueReceiver<E> {
    /// The next event; `None` once the queue is empty and every [`QueueHandler`] is gone (or the queue
    /// was [closed](Self::close) and drained).
    pub async fn recv(&mut self) -> Option<(E, CallbackMeta)> {
        self.rx.recv().await
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_recv(&mut self) -> Option<(E, CallbackMeta)> {
        self.rx.try_recv().ok()
    }

    /// Stops taking events: from now on the handler answers 503 to every callback, while the events
    /// already queued can still be received. For a graceful shutdown, close, then drain with
    /// [`recv`](Self::recv) until it returns `None`.
    pub fn close(&mut self) {
        self.rx.close();
    }

    /// How many events are waiting.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// The most events the queue holds.
    pub fn capacity(&self) -> usize {
        self.rx.max_capacity()
    }
}

impl<E> fmt::Debug for QueueReceiver<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueReceiver")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

/// Why a [`QueueHandler`] did not take an event; the answer is 503 either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueError {
    /// The queue is full: the worker is behind.
    Full,
    /// The receiver is gone or closed.
    Closed,
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueueError::Full => "the event queue is full",
            QueueError::Closed => "the event queue is closed",
        })
    }
}

impl StdError for QueueError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::event::MemberLeave;
    use crate::value::EventTime;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn meta() -> CallbackMeta {
        CallbackMeta {
            sdk_app_id: 1,
            command: Command::MemberLeave.into(),
            client_ip: None,
            platform: None,
            request_time: None,
        }
    }

    fn now<F: Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => unreachable!("ready at once"),
        }
    }

    fn leave(n: u64) -> MemberLeave {
        MemberLeave::new("r", ["u"], EventTime::from_millis(n))
    }

    #[test]
    fn ok_only_once_queued_then_full_then_closed() {
        let (h, mut rx) = queue::<MemberLeave>(2);
        assert!(now(h.call(leave(1), meta())).is_ok());
        assert!(now(h.call(leave(2), meta())).is_ok());
        assert_eq!((h.len(), rx.len(), h.capacity()), (2, 2, 2));
        let full = now(h.call(leave(3), meta())).unwrap_err();
        assert!(full.is_unavailable());
        assert_eq!(full.to_string(), "the event queue is full");
        assert_eq!(rx.try_recv().unwrap().0, leave(1));
        assert!(now(h.call(leave(4), meta())).is_ok());
        rx.close();
        let closed = now(h.call(leave(5), meta())).unwrap_err();
        assert!(closed.is_unavailable() && h.is_closed());
        // What was acknowledged is still there after closing.
        assert_eq!(rx.try_recv().unwrap().0, leave(2));
        assert_eq!(rx.try_recv().unwrap().0, leave(4));
        assert!(rx.try_recv().is_none());
        drop(rx);
        assert!(now(h.call(leave(6), meta())).unwrap_err().is_unavailable());
    }

    #[test]
    #[should_panic(expected = "capacity")]
    fn zero_capacity_panics() {
        let _ = queue::<MemberLeave>(0);
    }
}
