//! A durable inbox for [tencent-room-callback](tencent_room_callback): acknowledge a callback only once it is safely stored, handle it
//! later, at least once, in workers.
//!
//! Tencent counts a callback as handled when it reads the OK acknowledgment; after that the event
//! exists only where the receiver put it. The [`Inbox`] route ([`CallbackLayer::on_notifications`]) stores every
//! verified "after" callback — its [`CallbackMeta`](tencent_room_callback::CallbackMeta) (no secret: no `Sign`), its body as received, its
//! [`DeliveryKey`](tencent_room_callback::meta::DeliveryKey) and the time it came — and answers OK **only once the store says the event is
//! durable**. A store that fails, stalls past its deadline or is full answers 503 with a FAIL
//! acknowledgment (Tencent may retry), never OK — and recovers by itself once the store does.
//! A [`Worker`] then runs your handler on the stored events: a handler timeout, retries with
//! jittered exponential backoff, attempts counted as events are handed out, a dead letter after the
//! last attempt (listed with [`Inbox::dead_letters`], replayed with [`Inbox::replay`]), bounded
//! concurrency, per-room order on request, graceful shutdown.
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{routing::post, Router};
//! use tencent_room_callback_inbox::{Inbox, InboxEvent};
//! use tencent_room_callback::{CallbackLayer, Config, HandlerError, MemberLeave};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let inbox = Inbox::open("./callback-inbox")?; // a local directory; synced before each OK
//!
//! let worker = inbox
//!     .worker(|event: InboxEvent| async move {
//!         if let Ok(leave) = event.decode::<MemberLeave>() {
//!             println!("{:?} left {}", leave.members, leave.room_id);
//!         }
//!         Ok::<(), HandlerError>(())
//!     })
//!     .concurrency(32)
//!     .ordered_by_room(true)
//!     .start();
//!
//! let app: Router = Router::new()
//!     .route("/callback", post(|| async { "not a callback" }))
//!     .layer(CallbackLayer::new(Config::new(1400000000)).path("/callback").on_notifications(inbox.clone()));
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # axum::serve(listener, app)
//! #     .with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; })
//! #     .await?;
//! worker.shutdown(Duration::from_secs(10)).await;
//! inbox.close().await?; // the file written clean and unlocked
//! # Ok(())
//! # }
//! ```
//!
//! # Stores
//!
//! | store | made with | durable | shared by |
//! |---|---|---|---|
//! | embedded ([redb](https://docs.rs/redb)) | [`Inbox::open`] | synced to disk (fdatasync) before each OK; concurrent callbacks share one sync | one process (the directory is locked) |
//! | Redis Streams (feature `redis`) | `InboxBuilder::redis` | as the server's persistence (`appendonly yes`, `appendfsync always`) | every receiver and worker on that Redis |
//! | memory | [`InboxBuilder::in_memory`] | **no**: lost with the process | one process (tests, development) |
//!
//! # Bounds
//!
//! Every inbox is bounded by default:
//!
//! - **Pending events**: at most [`DEFAULT_MAX_PENDING`] (100,000; [`InboxBuilder::max_pending`]) —
//!   waiting, or in a worker's hands — on every store. The bound is checked where the event is stored,
//!   atomically: in the embedded store's write transaction (redb counts a table's rows in O(1)), in the
//!   Redis append script (the stream's length plus the retries). Beyond it: 503 with a FAIL
//!   acknowledgment, until the workers catch up.
//! - **The store's deadline**: an append that takes longer than [`DEFAULT_STORE_TIMEOUT`] (1 s, half of
//!   Tencent's 2 s; [`InboxBuilder::store_timeout`]) is answered 503 — a disk whose syncs stall, a
//!   Redis that stops answering. (The append may still complete: a copy Tencent sends again is then a
//!   duplicate, acknowledged.)
//! - **The embedded writer's queue**: at most 8,192 appends and 64 MiB of bodies wait for the disk;
//!   beyond, 503 at once. An append whose caller has already been answered 503 is not written.
//! - **The handler**: [`Worker::handler_timeout`] (default [`DEFAULT_HANDLER_TIMEOUT`], 30 s) cancels a
//!   handler that hangs; the attempt fails.
//! - **Durations**: every `Duration` setting saturates or is raised to a floor (TTLs, backoffs and
//!   idle times are cut to 365 days; the store deadline is at least [`MIN_STORE_TIMEOUT`]; the handler
//!   timeout at least 1 ms): `Duration::MAX` or `Duration::ZERO` never panics nor makes a store refuse
//!   its own commands.
//!
//! # Failures
//!
//! Storage fails loudly and recovers by itself:
//!
//! - **Embedded**: a commit that fails (an I/O error from a `pwrite` or a `fdatasync`: EIO, ENOSPC)
//!   answers 503 to every callback in it. redb refuses any further I/O on a database after an error
//!   ("Previous I/O error occurred. Please close and re-open the database."), and a failed sync must
//!   never be retried on the same file handle (the kernel may have dropped the dirty pages): the
//!   writer closes the database and reopens the file — redb repairs it from its last good commit —,
//!   re-reads what is durable (the pending events, the counts, the next sequence number; the events
//!   in a worker's hands stay there), and serves again, typically within a second of the disk's
//!   recovery. Meanwhile callbacks are answered 503 at once and the reopening is retried with a
//!   jittered pause growing to 1 s. The writes are redb's own: `pwrite` of its pages, `fdatasync` at
//!   each commit.
//! - **Redis**: down, stalled, or out of memory (`maxmemory` with `noeviction`: the append's first
//!   write is refused, nothing stored): 503, and the next operation connects again — no restart.
//! - A completion, retry or burial that fails is written again by the worker (with a growing,
//!   jittered pause) until it succeeds; the event stays in the worker's hands meanwhile, never dropped.
//! - **Refused callbacks**: each callback answered 503 is logged at ERROR (target
//!   `tencent_room_callback_inbox`, rate-limited) with its app, command and raw body — which carries
//!   no secret: the query's `Sign` is never stored nor logged — and counted ([`Inbox::stats`], the
//!   [`INBOX_REFUSED`](crate#metrics) counter), so that it can be replayed. Replay matters: Tencent
//!   resends a failed Room callback per its own rules, but Chat "after" callbacks are retried only
//!   when the app turns retries on in Tencent's console (they are not by default).
//!
//! # Damage
//!
//! A damaged store is never read past silently. A record that does not decode (damaged bytes, an
//! unknown version) is moved, as its bytes, into a quarantine (the embedded store's `quarantine`
//! table, Redis's `{prefix}:quarantine` stream) — when the store opens, or when a read meets it — and
//! logged at ERROR, counted ([`Depth::quarantined`], the [`INBOX_QUARANTINED`](crate#metrics)
//! counter) and listed by [`Inbox::quarantined`]; never handed to a worker, never dropped. An
//! embedded file shorter than its own header says (cut short: not a torn write redb can repair), or
//! that redb otherwise cannot open, makes [`Inbox::open`] fail with [`InboxErrorKind::Damaged`] and a
//! message saying what to do. redb panics on some damage while opening (an assertion in its page
//! manager): its open runs under `catch_unwind`, with the process's panic hook wrapped once so that
//! such a panic (on that thread, during that call) is not printed; every other panic goes to the
//! previous hook.
//!
//! # Duplicates
//!
//! Each stored callback carries its key: a digest of the `SdkAppid`, the command and the body bytes as
//! received (never a re-serialization, so keys stay stable across versions of this crate; the digest
//! is versioned). A callback whose key was stored within the dedup TTL (24 h by default,
//! [`InboxBuilder::dedup_ttl`]) is acknowledged OK without being stored or handled again. The key is
//! written in the same transaction as the event, and a duplicate that arrives while the first copy is
//! not yet durable is not answered before the first copy is.
//!
//! # Delivery
//!
//! At least once: an event is removed from the inbox after your handler returns `Ok`. A crash between
//! the handler's success and that removal, or a graceful shutdown that times out, hands the event again
//! (the handler should be idempotent: [`InboxEvent::key`] identifies it).
//!
//! An attempt is counted when an event is handed to a handler, durably, before the handler runs (the
//! embedded store writes it in its next group commit; Redis counts the entry's deliveries): an event
//! whose handling kills the process, or hangs, is handed out again after a restart with that attempt
//! counted, and after [`Worker::max_attempts`] hand-outs without an outcome the next claim makes it a
//! dead letter instead. A graceful shutdown's release gives the attempt back. Failed attempts are
//! retried after an exponential backoff with equal jitter (each wait between half and all of it). "Before" callbacks (whose
//! answer is a decision) are never stored: [`CallbackLayer::on_notifications`] does not take them, and an inbox
//! given one by [`CallbackLayer::on_prefix`] answers 500.
//!
//!
//! # Metrics
//!
//! With the feature `metrics`, through the `metrics` facade: the gauge `INBOX_DEPTH`
//! (`tencent_room_callback_inbox_depth`, label `backend`), the counters `INBOX_REFUSED`
//! (`tencent_room_callback_inbox_refused_total`, labels `backend`, `reason`), `INBOX_QUARANTINED`
//! (`tencent_room_callback_inbox_quarantined_total`) and `INBOX_REOPENED`
//! (`tencent_room_callback_inbox_reopened_total`).
//!
//! # Closing
//!
//! [`Inbox::close`] finishes the writes under way and closes the store (the embedded file written
//! clean, so that the next open needs no repair, and unlocked). Dropping the last clone of an inbox
//! closes it too, in the background: a drop never blocks (it may run on an async thread); an
//! [`Inbox::open`] of the same directory in the same process waits for that close to finish.
//!
//! [`CallbackLayer::on_notifications`]: tencent_room_callback::CallbackLayer::on_notifications
//! [`CallbackLayer::on_prefix`]: tencent_room_callback::CallbackLayer::on_prefix

#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's `rust` code blocks as doc tests (the quick start is compiled, not run).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tencent_room_callback::{Ack, HandlerError, RawCallback, RawHandler, RoomEvent};

mod dur;
mod embedded;
mod memory;
mod obs;
mod record;
#[cfg(feature = "redis")]
mod redis;
mod sched;
mod store;
mod worker;

pub use record::{EmptyEventId, EventId};
pub use store::{DeadLetter, Depth, InboxError, InboxErrorKind, InboxEvent, Quarantined};
pub use worker::{
    InboxHandler, ShutdownReport, Worker, WorkerHandle, DEFAULT_HANDLER_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
};

use record::Record;
use store::{Appended, Backend, BoxFuture};

#[cfg(feature = "metrics")]
pub use obs::{INBOX_DEPTH, INBOX_QUARANTINED, INBOX_REFUSED, INBOX_REOPENED};

/// How long a stored callback's key is remembered by default: 24 hours.
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The most events an inbox holds by default (waiting, or in a worker's hands): 100,000. Beyond it a
/// callback is answered 503 with a FAIL acknowledgment.
pub const DEFAULT_MAX_PENDING: u64 = 100_000;

/// How long a callback waits for the store by default before it is answered 503: 1 s, half of
/// Tencent's 2 s callback timeout.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(1);

/// The shortest store deadline: a shorter one (`Duration::ZERO` included) is raised to it, so that a
/// healthy disk or Redis can answer in time.
pub const MIN_STORE_TIMEOUT: Duration = Duration::from_millis(100);

/// A durable inbox of verified callbacks: register it on a layer with
/// [`CallbackLayer::on_notifications`](tencent_room_callback::CallbackLayer::on_notifications), run your handler on its events with
/// [`Inbox::worker`]. Cheap to clone (one store shared).
#[derive(Clone)]
pub struct Inbox {
    backend: Arc<dyn Backend>,
    dedup_ttl: Option<Duration>,
    max_pending: u64,
    store_timeout: Duration,
    refused: Arc<AtomicU64>,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("store", &self.backend.name())
            .field("dedup_ttl", &self.dedup_ttl)
            .field("max_pending", &self.max_pending)
            .field("store_timeout", &self.store_timeout)
            .finish()
    }
}

/// What an inbox has counted since it was made (in this process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct InboxStats {
    /// Callbacks refused with a 503 because the store failed, timed out, was full or closed (each one
    /// logged at ERROR with its body, to replay it).
    pub refused: u64,
    /// Times the embedded store was reopened after an I/O error.
    pub reopened: u64,
}

impl Inbox {
    /// The embedded inbox in directory `dir` (created if missing), with the default settings: see
    /// [`InboxBuilder::open`].
    ///
    /// # Errors
    /// When the directory or the database cannot be created or opened (another process holds it, a
    /// corrupt file, no permission).
    pub fn open(dir: impl AsRef<Path>) -> Result<Inbox, InboxError> {
        Inbox::builder().open(dir)
    }

    /// Settings for an inbox: the dedup TTL, the pending bound, the store deadline, then the store.
    pub fn builder() -> InboxBuilder {
        InboxBuilder {
            dedup_ttl: Some(DEFAULT_DEDUP_TTL),
            max_pending: DEFAULT_MAX_PENDING,
            store_timeout: DEFAULT_STORE_TIMEOUT,
            #[cfg(feature = "redis")]
            redis_prefix: "tencent-room-callback".to_owned(),
            #[cfg(feature = "redis")]
            redis_claim_idle: redis::DEFAULT_CLAIM_IDLE,
        }
    }

    /// A worker that runs `handler` on the inbox's events: configure it, then
    /// [`start`](Worker::start) it.
    pub fn worker<H: InboxHandler>(&self, handler: H) -> Worker<H> {
        Worker::new(self.backend.clone(), handler)
    }

    /// Stores a verified callback, as the layer's route does: `Ok(true)` once it is durable, `Ok(false)`
    /// for a duplicate (already stored within the TTL).
    ///
    /// # Errors
    /// The store failed or did not answer within its deadline ([`InboxBuilder::store_timeout`]), the
    /// inbox is full ([`InboxBuilder::max_pending`]) or closed: nothing is known to be stored (an
    /// append that timed out may still be stored: a copy sent again is then a duplicate).
    pub async fn store(&self, callback: RawCallback) -> Result<bool, InboxError> {
        let mut record = Record::new(callback, SystemTime::now(), self.dedup_ttl);
        record.max_pending = Some(self.max_pending);
        let appended = tokio::time::timeout(self.store_timeout, self.backend.append(record))
            .await
            .map_err(|_| {
                InboxError::of(
                    InboxErrorKind::TimedOut,
                    format!(
                        "the {} store did not answer within {} ms",
                        self.backend.name(),
                        self.store_timeout.as_millis()
                    ),
                )
            })??;
        let stored = match appended {
            Appended::Stored(_) => true,
            Appended::Duplicate => false,
            Appended::Full => {
                return Err(InboxError::of(
                    InboxErrorKind::Full,
                    format!("the inbox is full ({} events wait)", self.max_pending),
                ))
            }
        };
        self.record_depth();
        Ok(stored)
    }

    /// Up to `max` stored records that could not be read (damaged bytes, an unknown version), kept
    /// aside rather than handed to a worker or dropped: each was logged at ERROR and counted when it
    /// was found. Their bytes are as found, for a person to inspect or repair.
    ///
    /// # Errors
    /// The store failed.
    pub async fn quarantined(&self, max: usize) -> Result<Vec<Quarantined>, InboxError> {
        self.backend.quarantined(max).await
    }

    /// Closes the inbox: the writes under way finish, the store is closed (the embedded store's file
    /// written clean and unlocked, so that the next open needs no repair). Every later operation of
    /// every clone fails with [`InboxErrorKind::Closed`] (callbacks are answered 503). Call it after
    /// the server and the workers have stopped. Dropping the last clone closes the store too, in the
    /// background (an open of the same directory by this process waits for it).
    ///
    /// # Errors
    /// None today; kept for stores whose closing can fail.
    pub async fn close(&self) -> Result<(), InboxError> {
        self.backend.close().await
    }

    /// What this inbox has counted: the callbacks it refused, the store's reopenings.
    pub fn stats(&self) -> InboxStats {
        InboxStats {
            refused: self.refused.load(Ordering::Relaxed),
            reopened: self.backend.reopened(),
        }
    }

    /// The deadline of a store operation on a callback's path.
    pub fn store_timeout(&self) -> Duration {
        self.store_timeout
    }

    /// The most events the inbox holds.
    pub fn max_pending(&self) -> u64 {
        self.max_pending
    }

    /// Up to `max` dead letters (events whose every attempt failed), oldest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn dead_letters(&self, max: usize) -> Result<Vec<DeadLetter>, InboxError> {
        self.backend.dead_letters(max).await
    }

    /// Moves the dead letter `id` back into the inbox as a new event (attempts start again): its new ID,
    /// or `None` when there is no such dead letter.
    ///
    /// # Errors
    /// The store failed.
    pub async fn replay(&self, id: &EventId) -> Result<Option<EventId>, InboxError> {
        self.backend.replay(id).await
    }

    /// How many events wait and how many are dead letters.
    ///
    /// # Errors
    /// The store failed.
    pub async fn depth(&self) -> Result<Depth, InboxError> {
        self.backend.depth().await
    }

    /// Sets the inbox-depth gauge (feature `metrics`), for the stores that count without a round trip.
    pub(crate) fn record_depth(&self) {
        if let Some(depth) = self.backend.pending_now() {
            obs::depth(self.backend.name(), depth);
        }
    }

    /// How many syncs to disk (`fdatasync`) the embedded store has completed since it was opened; `None`
    /// for another store. Fewer syncs than stored callbacks is the group commit at work.
    pub fn syncs(&self) -> Option<u64> {
        self.backend.syncs()
    }

    /// The store's name: `"embedded"`, `"redis"` or `"memory"`.
    pub fn store_name(&self) -> &'static str {
        self.backend.name()
    }
}

/// The inbox's answer to a callback: 400 when its body is malformed (a Room event that does not decode,
/// anything else that is not a JSON object), else OK once durable (a duplicate too), 503 with a FAIL
/// acknowledgment when the store fails, times out, is full or closed — that callback then logged at
/// ERROR with its body (rate-limited) and counted ([`Inbox::stats`], the `metrics` counter
/// [`INBOX_REFUSED`](crate#metrics)), so that it can be replayed.
impl RawHandler for Inbox {
    type Future = BoxFuture<'static, Result<Ack, HandlerError>>;

    fn call(&self, callback: RawCallback) -> Self::Future {
        let inbox = self.clone();
        Box::pin(async move {
            if callback.meta.command.is_decision() {
                return Err(HandlerError::msg(
                    "a decision callback needs an answer now: the inbox stores only notifications",
                ));
            }
            // What is stored is what a handler could take: a Room event decodes as its type, under the
            // bound on lists the layer checked it with (400 otherwise, as without an inbox); any other
            // callback is a JSON object.
            match callback.meta.command.typed() {
                Some(_) => drop(callback.decode::<RoomEvent>()?),
                None => drop(callback.json::<serde::de::IgnoredAny>()?),
            }
            let (app, body) = (callback.meta.sdk_app_id, callback.body.clone());
            let command = callback.meta.command.clone();
            match inbox.store(callback).await {
                Ok(_) => Ok(Ack::ok()),
                Err(e) => {
                    inbox.refused.fetch_add(1, Ordering::Relaxed);
                    obs::refused(
                        inbox.backend.name(),
                        e.kind().as_str(),
                        app,
                        command.as_str(),
                        &body,
                        &e,
                    );
                    Err(HandlerError::unavailable(e))
                }
            }
        })
    }
}

/// Settings of an [`Inbox`], then the store it opens.
#[derive(Debug, Clone)]
pub struct InboxBuilder {
    dedup_ttl: Option<Duration>,
    max_pending: u64,
    store_timeout: Duration,
    #[cfg(feature = "redis")]
    redis_prefix: String,
    #[cfg(feature = "redis")]
    redis_claim_idle: Duration,
}

impl InboxBuilder {
    /// How long a stored callback's key is remembered: a copy with the same key within it is
    /// acknowledged without being stored again. Default [`DEFAULT_DEDUP_TTL`] (24 h); `None` or
    /// `Duration::ZERO` turns de-duplication off; a TTL above 365 days is cut to 365 days.
    pub fn dedup_ttl(mut self, ttl: impl Into<Option<Duration>>) -> Self {
        self.dedup_ttl = ttl.into().filter(|t| !t.is_zero()).map(dur::capped);
        self
    }

    /// The most events the inbox holds — waiting, or in a worker's hands; every store, Redis included:
    /// beyond it, a callback is answered 503 with a FAIL acknowledgment (not stored; Tencent may retry)
    /// until the workers catch up — backpressure instead of an unbounded disk or memory. Checked
    /// atomically where the event is stored (in the embedded store's transaction, in the Redis
    /// script). Default [`DEFAULT_MAX_PENDING`] (100,000); at least 1 (0 is taken as 1);
    /// `u64::MAX` for no bound.
    pub fn max_pending(mut self, max: u64) -> Self {
        self.max_pending = max.max(1);
        self
    }

    /// How long a callback waits for the store (embedded or Redis) before it is answered 503: a
    /// stalled disk or server must not hold callbacks past Tencent's 2 s timeout. Default
    /// [`DEFAULT_STORE_TIMEOUT`] (1 s); at least [`MIN_STORE_TIMEOUT`] (a shorter one, `ZERO` included,
    /// is raised to it); `Duration::MAX` waits as long as the store takes.
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout.max(MIN_STORE_TIMEOUT);
        self
    }

    /// The embedded inbox in directory `dir` (created if missing): one [redb](https://docs.rs/redb)
    /// file, `inbox.redb`, locked by this process. Each OK is answered after the transaction that holds
    /// the event is synced to disk (fdatasync); callbacks that arrive while a sync is under way share the
    /// next one (group commit). Events stored before a crash are handed to the worker after a restart.
    ///
    /// # Errors
    /// When the directory or the database cannot be created or opened (another process holds it, a
    /// corrupt file, no permission).
    pub fn open(self, dir: impl AsRef<Path>) -> Result<Inbox, InboxError> {
        let backend = embedded::Embedded::open(dir.as_ref())?;
        Ok(self.inbox(Arc::new(backend)))
    }

    fn inbox(self, backend: Arc<dyn Backend>) -> Inbox {
        Inbox {
            backend,
            dedup_ttl: self.dedup_ttl,
            max_pending: self.max_pending,
            store_timeout: self.store_timeout,
            refused: Arc::default(),
        }
    }

    /// An inbox in this process's memory: **not durable** (a crash, a kill or a deploy loses every
    /// event in it that Tencent was told is handled). For tests and development, or where losing events
    /// is acceptable; it de-duplicates like the others (within this process). Bound it with
    /// [`max_pending`](Self::max_pending).
    pub fn in_memory(self) -> Inbox {
        self.inbox(Arc::new(memory::Memory::new()))
    }

    /// The prefix of every Redis key the inbox uses (default `tencent-room-callback`; the keys are
    /// `{prefix}:events`, `{prefix}:retry`, `{prefix}:dead`, `{prefix}:key:<hex>`, the braces a Redis
    /// Cluster hash tag, so that one script's keys share a slot): inboxes with different prefixes on one
    /// Redis are separate.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis_prefix = prefix.into();
        self
    }

    /// How long an event claimed by a Redis worker may go without a sign of life from it (a live
    /// worker renews its claims) before another worker takes it over: default 30 s. Shorter takes over a
    /// dead worker's events sooner; it must stay well above the longest pause of a live worker. Between
    /// 100 ms and 365 days (a value outside is brought to the nearer end).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_claim_idle(mut self, idle: Duration) -> Self {
        self.redis_claim_idle = dur::capped(idle.max(Duration::from_millis(100)));
        self
    }

    /// The inbox on Redis at `url` (`redis://[:password@]host:port/db` or `redis+unix:///path`; TLS is
    /// not built in): events in a Redis Stream read by a consumer group, each key in an entry with a
    /// `PX` expiry, the two written by one Lua script (atomic). Every receiver and worker on that Redis shares one inbox and one dedup
    /// set. Acknowledged events are as durable as the server's persistence: run it with
    /// `appendonly yes` and `appendfsync always` for an OK to mean "on disk".
    ///
    /// # Errors
    /// A malformed URL. The server need not be up: until it is, callbacks are answered 503.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub async fn redis(self, url: &str) -> Result<Inbox, InboxError> {
        let backend =
            redis::RedisStore::connect(url, &self.redis_prefix, self.redis_claim_idle).await?;
        Ok(self.inbox(Arc::new(backend)))
    }
}
