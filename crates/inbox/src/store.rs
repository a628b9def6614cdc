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
    ///
    /// Each event's hand-out is counted durably before it is returned (its [`Stored::attempts`] is the
    /// count before this one): an event already handed out `max_attempts` times without an outcome (its
    /// handler hung, or the process died under it) is buried instead of being handed again.
    fn claim(
        &self,
        max: usize,
        ordered: bool,
        wait: Duration,
        max_attempts: u32,
    ) -> BoxFuture<'_, Result<Vec<Stored>, InboxError>>;

    /// The event was handled: remove it. Resolves once the removal is durable; on an error the event
    /// stays claimed (the caller tries again).
    fn complete(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>>;

    /// The handler failed: hand the event again after `delay` (its attempt was counted when it was
    /// handed out). On an error the event stays claimed (the caller tries again).
    fn retry(
        &self,
        event: &Stored,
        delay: Duration,
        error: &str,
    ) -> BoxFuture<'_, Result<(), InboxError>>;

    /// The last attempt failed: move the event to the dead letters. On an error the event stays
    /// claimed (the caller tries again).
    fn bury(&self, event: &Stored, error: &str) -> BoxFuture<'_, Result<(), InboxError>>;

    /// Give a claimed event back, its hand-out not counted (a shutdown that did not finish it).
    fn release(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>>;

    /// Up to `max` records that could not be read, kept aside, oldest first.
    fn quarantined(&self, max: usize) -> BoxFuture<'_, Result<Vec<Quarantined>, InboxError>>;

    /// Finishes the writes under way and closes the store: every later operation fails.
    fn close(&self) -> BoxFuture<'_, Result<(), InboxError>>;

    /// How many times the store was reopened after a failure.
    fn reopened(&self) -> u64 {
        0
    }

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

    /// The room (`RoomId`, else `GroupId`, else a TRTC event's `EventInfo.RoomId`) as its JSON text
    /// (`"r1"` with its quotes, or a number), when the body has one: what per-room order goes by.
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
        .with_max_members(self.stored.record.max_members)
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

/// A stored record that could not be read (its bytes damaged, or written by an unknown version): kept
/// aside in the store's quarantine, never handed to a worker nor dropped. Listed by
/// [`Inbox::quarantined`](super::Inbox::quarantined).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Quarantined {
    /// Where the record was: its ID among the events or the dead letters.
    pub id: EventId,
    /// Which part of the store it was in: `"events"` or `"dead"`.
    pub from: &'static str,
    /// Why it could not be read.
    pub reason: String,
    /// Its bytes, as found.
    pub bytes: Bytes,
}

/// How full an inbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Depth {
    /// Events waiting for a worker or in a worker's hands.
    pub pending: u64,
    /// Dead letters.
    pub dead: u64,
    /// Records kept aside because they could not be read ([`Inbox::quarantined`](super::Inbox::quarantined)).
    pub quarantined: u64,
}

/// What kind of failure an [`InboxError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InboxErrorKind {
    /// The store failed, or is recovering from a failure: an I/O error, a full disk, Redis down or
    /// out of memory. Nothing is known to be stored; the inbox recovers by itself once the store does.
    Storage,
    /// The store did not answer within its deadline ([`InboxBuilder::store_timeout`](super::InboxBuilder::store_timeout)).
    TimedOut,
    /// The inbox holds its most pending events ([`InboxBuilder::max_pending`](super::InboxBuilder::max_pending)), or its
    /// queue of writes is full: backpressure, until the workers catch up.
    Full,
    /// The inbox was closed ([`Inbox::close`](super::Inbox::close)).
    Closed,
    /// The store's file is damaged beyond what the inbox reads past: it cannot be opened (restore it,
    /// or move it aside).
    Damaged,
    /// A setting is invalid (a malformed Redis URL), or the store cannot be set up (a directory that
    /// cannot be made, a file locked by another process).
    Setup,
}

impl InboxErrorKind {
    /// A short name, for logs and metric labels: `storage`, `timeout`, `full`, `closed`, `damaged`,
    /// `setup`.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxErrorKind::Storage => "storage",
            InboxErrorKind::TimedOut => "timeout",
            InboxErrorKind::Full => "full",
            InboxErrorKind::Closed => "closed",
            InboxErrorKind::Damaged => "damaged",
            InboxErrorKind::Setup => "setup",
        }
    }
}

/// Why an inbox could not do what was asked: see its [`kind`](Self::kind).
#[derive(Debug)]
pub struct InboxError {
    kind: InboxErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl InboxError {
    /// A storage failure with its cause.
    pub(crate) fn new(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        InboxError {
            kind: InboxErrorKind::Storage,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A storage failure.
    pub(crate) fn msg(message: impl Into<String>) -> Self {
        InboxError::of(InboxErrorKind::Storage, message)
    }

    /// A failure of kind `kind`.
    pub(crate) fn of(kind: InboxErrorKind, message: impl Into<String>) -> Self {
        InboxError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, of kind `kind`.
    pub(crate) fn kind_of(mut self, kind: InboxErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> InboxErrorKind {
        self.kind
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
