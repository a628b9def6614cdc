//! What every store of an inbox is: the [`Backend`] trait the embedded, memory and Redis stores
//! implement, and the types they hand back (events, dead letters, depth, errors).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::record::{EventId, Record, Stored};
use tencent_room_callback::meta::DeliveryKey;
use tencent_room_callback::{CallbackMeta, Event, RawCallback, Rejection};

/// A boxed future of a store.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What became of an appended callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Stored, durable, with this ID.
    Stored(EventId),
    /// A copy with the same key was stored within the TTL: not stored again.
    Duplicate,
    /// The store holds `max_pending` events already: not stored.
    Full,
}

/// A store behind an [`Inbox`](super::Inbox).
pub(crate) trait Backend: Send + Sync + 'static {
    /// Stores `record` unless a record with its key was stored within the TTL; resolves once the
    /// outcome is durable.
    fn append(&self, record: Record) -> BoxFuture<'_, Result<Appended, InboxError>>;

    /// Up to `max` events due now, claimed (no other claim gets them until they are completed, retried,
    /// buried or released); waits up to `wait` for one. With `ordered`, an event whose room has an
    /// earlier event not yet completed or buried is not due.
    fn claim(
        &self,
        max: usize,
        ordered: bool,
        wait: Duration,
    ) -> BoxFuture<'_, Result<Vec<Stored>, InboxError>>;

    /// The event was handled: remove it.
    fn complete(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>>;

    /// The handler failed: hand the event again after `delay`, its attempt counted.
    fn retry(
        &self,
        event: &Stored,
        delay: Duration,
        error: &str,
    ) -> BoxFuture<'_, Result<(), InboxError>>;

    /// The last attempt failed: move the event to the dead letters.
    fn bury(&self, event: &Stored, error: &str) -> BoxFuture<'_, Result<(), InboxError>>;

    /// Give a claimed event back, its attempt not counted (a shutdown that did not finish it).
    fn release(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>>;

    /// Up to `max` dead letters, oldest first.
    fn dead_letters(&self, max: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, InboxError>>;

    /// Moves a dead letter back into the inbox, as a new event with no attempt counted.
    fn replay(&self, id: &EventId) -> BoxFuture<'_, Result<Option<EventId>, InboxError>>;

    /// How many events wait (pending or in a worker's hands), and how many are dead letters.
    fn depth(&self) -> BoxFuture<'_, Result<Depth, InboxError>>;

    /// The store's name, for `Debug` and metrics.
    fn name(&self) -> &'static str;

    /// How many events wait, when the store knows it without asking a server.
    fn pending_now(&self) -> Option<u64> {
        None
    }

    /// How many syncs to disk the store has completed, when it counts them.
    fn syncs(&self) -> Option<u64> {
        None
    }
}

/// A stored callback, as a worker's handler receives it.
#[derive(Debug, Clone)]
pub struct InboxEvent {
    pub(crate) stored: Stored,
}

impl InboxEvent {
    /// The event's ID in its inbox.
    pub fn id(&self) -> &EventId {
        &self.stored.id
    }

    /// What the query said (the app, the command, the client...), verified when it was received.
    pub fn meta(&self) -> &CallbackMeta {
        &self.stored.record.meta
    }

    /// The body, as received.
    pub fn body(&self) -> &Bytes {
        &self.stored.record.body
    }

    /// The callback's key: the same for every copy of the same callback (app, command, body bytes).
    pub fn key(&self) -> DeliveryKey {
        self.stored.record.key
    }

    /// When the receiver got it.
    pub fn received_at(&self) -> SystemTime {
        self.stored.record.received_at
    }

    /// The room (`RoomId`, else `GroupId`) as its JSON text (`"r1"` with its quotes, or a number), when
    /// the body has one: what per-room order goes by.
    pub fn room(&self) -> Option<&str> {
        self.stored.record.room.as_deref()
    }

    /// Which attempt this is: 1 the first time the handler gets the event.
    pub fn attempt(&self) -> u32 {
        self.stored.attempts + 1
    }

    /// The body decoded as event `E` (a `MemberLeave`..., or a `RoomEvent` for any of the six), as
    /// [`RawCallback::decode`] decodes it.
    ///
    /// # Errors
    /// A malformed body for `E` (kind `MalformedBody`), or a command `E` does not take
    /// (`UnknownCommand`).
    pub fn decode<E: Event>(&self) -> Result<E, Rejection> {
        self.callback().decode()
    }

    /// The body decoded as JSON into any `T`.
    ///
    /// # Errors
    /// A body that is not a JSON object of `T` (kind `MalformedBody`).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Rejection> {
        self.callback().json()
    }

    /// The event as the [`RawCallback`] a route handler gets.
    pub fn callback(&self) -> RawCallback {
        RawCallback::new(
            self.stored.record.meta.clone(),
            self.stored.record.body.clone(),
        )
    }
}

/// An event whose every attempt failed.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The event, as the handler last got it.
    pub event: InboxEvent,
    /// The last attempt's error (its `Display`, cut at 1 KiB).
    pub error: String,
}

/// How full an inbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Depth {
    /// Events waiting for a worker or in a worker's hands.
    pub pending: u64,
    /// Dead letters.
    pub dead: u64,
}

/// Why an inbox could not do what was asked: the store failed.
#[derive(Debug)]
pub struct InboxError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl InboxError {
    pub(crate) fn new(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        InboxError {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub(crate) fn msg(message: impl Into<String>) -> Self {
        InboxError {
            message: message.into(),
            source: None,
        }
    }
}

impl fmt::Display for InboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for InboxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
