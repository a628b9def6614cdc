//! The embedded inbox: one [redb](https://docs.rs/redb) file in a local directory.
//!
//! Why redb: it is a pure-Rust, ACID, copy-on-write B-tree store whose commit with
//! `Durability::Immediate` returns only after `fdatasync` — one sync per commit, with a checksummed
//! commit slot — so "committed" means "on disk"; it locks its file (two processes cannot share an inbox
//! by accident); and it takes a custom storage backend, through which the tests count the syncs. Against
//! SQLite (rusqlite, WAL, `synchronous=FULL`) it needs no C toolchain and no `unsafe` on our side;
//! `benches/inbox.rs` measures the two ways a group commit can go (see the README's figures). Writes
//! are redb's own: `pwrite` of its pages, `fdatasync` at each commit.
//!
//! One writer thread owns every write: it takes whatever operations wait (appends of many concurrent
//! callbacks, hand-outs, completions, retries) and commits them in one transaction with one sync — the
//! group commit — then answers each. A duplicate is found in the same transaction that would store it,
//! so a copy that arrives while the first is being committed is answered only after that commit; the
//! pending bound is checked in that transaction too (redb counts a table's rows in O(1)). The queue of
//! appends is bounded (in operations and in body bytes): past it, 503 at once.
//!
//! # Failures
//!
//! A failed commit (an I/O error from a write or a sync) fails every operation of its batch (the
//! appends answer 503), then the writer closes the database — redb refuses any further I/O on it after
//! an error, so the failed sync is never retried on that file handle — and reopens the file: redb
//! repairs it from its last good commit, the schedule is rebuilt from what the file holds (the events in
//! a worker's hands stay there), and serving resumes. While the store is closed, callbacks are answered
//! 503 at once; the reopening is tried again with a growing, jittered pause (up to a second).
//!
//! # Damage
//!
//! A record that does not decode is moved, as its bytes, into a quarantine table — at start, and
//! whenever a read meets one — logged at ERROR, counted, and listed by [`Backend::quarantined`]: never
//! handed to a worker, never dropped. A file shorter than its own header says (cut short) is refused
//! at open with a [`Damaged`](InboxErrorKind::Damaged) error that says what to do; so is any other
//! damage redb reports, or panics on, while opening (redb's open runs under `catch_unwind`, its panic
//! message silenced).
//!
//! The index of pending events (for the workers) is kept in memory and rebuilt from the file at start
//! and after a reopening; the database is read (a claim of an event no longer cached, the dead letters,
//! the quarantine) on the blocking pool, never on an async worker thread.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, Once, OnceLock, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use redb::backends::FileBackend;
use redb::{
    Database, DatabaseError, Durability, ReadableTable, ReadableTableMetadata, StorageBackend,
    StorageError, TableDefinition,
};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::dur;
use super::memory::unsettled;
use super::obs;
use super::record::{header_attempts, millis, EventId, Record, Stored};
use super::sched::Shared;
use super::store::{
    Appended, Backend, BoxFuture, DeadLetter, Depth, InboxError, InboxErrorKind, InboxEvent,
    Quarantined,
};

/// Pending events: sequence number → stored record.
const EVENTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("events");
/// Dead letters: sequence number → stored record (with its last error).
const DEAD: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("dead");
/// Remembered keys → expiry (ms since the epoch).
const KEYS: TableDefinition<'_, &[u8], u64> = TableDefinition::new("keys");
/// The same keys by expiry, for purging.
const EXPIRIES: TableDefinition<'_, (u64, &[u8]), ()> = TableDefinition::new("expiries");
/// `"next"` → the next sequence number.
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// Pending events handed out: sequence number → how many times (an event never handed out has no
/// row; one stored by an older version counts its header's attempts).
const HANDED: TableDefinition<'_, u64, u32> = TableDefinition::new("handed");
/// Unreadable records kept aside: their sequence number → an envelope (where from, why) and their
/// bytes as found.
const QUARANTINE: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("quarantine");

/// The most operations one transaction takes.
const MAX_BATCH: usize = 4096;
/// The most expired keys one transaction purges.
const MAX_PURGE: usize = 1024;
/// The most appends, and body bytes, waiting for the writer: past either, an append is refused at
/// once (503) rather than queued — memory stays bounded when the disk is slow.
const MAX_QUEUED: usize = 8192;
const MAX_QUEUED_BYTES: usize = 64 << 20;
/// The most stored events, and body bytes, kept in memory for the worker's next claim (beyond, a claim
/// reads the file): a backlog with no worker, or of large bodies, stays on disk.
const MAX_CACHED: usize = 16_384;
const MAX_CACHED_BYTES: usize = 32 << 20;
/// The first pause between two attempts at reopening a failed store, and the longest.
const REOPEN_FIRST: Duration = Duration::from_millis(50);
const REOPEN_MAX: Duration = Duration::from_secs(1);
/// How long an event whose claim failed waits before it is due again.
const CLAIM_RETRY: Duration = Duration::from_secs(1);
/// How long an open waits for this process's previous inbox on the same file to finish closing.
const CLOSING_WAIT: Duration = Duration::from_secs(30);
/// The file in the inbox's directory.
const FILE_NAME: &str = "inbox.redb";

/// The store serves.
const HEALTHY: u8 = 0;
/// The store failed: the writer is reopening it.
const RECOVERING: u8 = 1;
/// The store is closed (or closing).
const CLOSED: u8 = 2;

/// Events just stored, handed to the next claim without reading the file back.
#[derive(Debug, Default)]
struct Cached {
    events: HashMap<u64, Stored>,
    bytes: usize,
}

impl Cached {
    fn put(&mut self, seq: u64, stored: Stored) {
        let size = stored.record.body.len();
        if self.events.len() < MAX_CACHED && self.bytes + size <= MAX_CACHED_BYTES {
            self.bytes += size;
            self.events.insert(seq, stored);
        }
    }

    fn take(&mut self, seq: u64) -> Option<Stored> {
        let stored = self.events.remove(&seq)?;
        self.bytes -= stored.record.body.len();
        Some(stored)
    }

    fn clear(&mut self) {
        self.events.clear();
        self.bytes = 0;
    }
}

/// Any of redb's errors, boxed (they are large): `?` takes each of redb's error types.
#[derive(Debug)]
struct Db(Box<redb::Error>);

impl<E: Into<redb::Error>> From<E> for Db {
    fn from(e: E) -> Self {
        Db(Box::new(e.into()))
    }
}

impl fmt::Display for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Db {}

/// A file backend that counts its completed syncs.
#[derive(Debug)]
struct Counted {
    file: FileBackend,
    syncs: Arc<AtomicU64>,
}

impl StorageBackend for Counted {
    fn len(&self) -> Result<u64, io::Error> {
        self.file.len()
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, io::Error> {
        self.file.read(offset, len)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.file.set_len(len)
    }

    fn sync_data(&self, eventual: bool) -> Result<(), io::Error> {
        self.file.sync_data(eventual)?;
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.file.write(offset, data)
    }
}

// ------------------------------------------------------------------------------------------------
// One inbox per file in this process

/// Where an inbox file of this process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Open,
    Closing,
    Closed,
}

/// An inbox file in use by this process: a new open of it waits while the previous one closes (its
/// writer thread releases the file's lock in the background).
#[derive(Debug)]
struct Slot {
    life: Mutex<Life>,
    changed: Condvar,
}

impl Slot {
    fn set(&self, life: Life) {
        *self.life.lock().unwrap_or_else(|e| e.into_inner()) = life;
        self.changed.notify_all();
    }
}

fn slots() -> &'static Mutex<HashMap<PathBuf, Arc<Slot>>> {
    static SLOTS: OnceLock<Mutex<HashMap<PathBuf, Arc<Slot>>>> = OnceLock::new();
    SLOTS.get_or_init(Mutex::default)
}

/// Takes the slot of `path` for a new open: waits (up to [`CLOSING_WAIT`]) for a previous inbox of
/// this process on it to finish closing; refuses while one is open.
fn take_slot(path: &Path) -> Result<Arc<Slot>, InboxError> {
    let previous = slots()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(path)
        .cloned();
    if let Some(previous) = previous {
        let life = previous.life.lock().unwrap_or_else(|e| e.into_inner());
        let (life, _) = previous
            .changed
            .wait_timeout_while(life, CLOSING_WAIT, |life| *life == Life::Closing)
            .unwrap_or_else(|e| e.into_inner());
        if *life != Life::Closed {
            return Err(InboxError::of(
                InboxErrorKind::Setup,
                format!(
                    "cannot lock {}: another process, or another open inbox of this process, is \
                     using it",
                    path.display()
                ),
            ));
        }
    }
    let slot = Arc::new(Slot {
        life: Mutex::new(Life::Open),
        changed: Condvar::new(),
    });
    slots()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_owned(), slot.clone());
    Ok(slot)
}

/// The slot's file is closed: forgotten (unless a newer open took it meanwhile).
fn release_slot(path: &Path, slot: &Arc<Slot>) {
    slot.set(Life::Closed);
    let mut slots = slots().lock().unwrap_or_else(|e| e.into_inner());
    if slots.get(path).is_some_and(|s| Arc::ptr_eq(s, slot)) {
        slots.remove(path);
    }
}

// ------------------------------------------------------------------------------------------------
// Opening

/// redb's magic number, the start of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// The length redb's header (its first 32 bytes) says the file has: the super-header page, the full
/// regions, the trailing partial region. `None` when the bytes are not a redb header or the sum
/// overflows (redb itself then reports the damage).
fn expected_len(header: &[u8; 32]) -> Option<u64> {
    if header[..9] != REDB_MAGIC {
        return None;
    }
    let at = |o: usize| {
        u64::from(u32::from_le_bytes([
            header[o],
            header[o + 1],
            header[o + 2],
            header[o + 3],
        ]))
    };
    let (page, header_pages, max_data_pages) = (at(12), at(16), at(20));
    let (full_regions, trailing_pages) = (at(24), at(28));
    let region = header_pages
        .checked_add(max_data_pages)?
        .checked_mul(page)?;
    let mut len = page.checked_add(full_regions.checked_mul(region)?)?;
    if trailing_pages > 0 {
        len = len.checked_add(
            header_pages
                .checked_add(trailing_pages)?
                .checked_mul(page)?,
        )?;
    }
    Some(len)
}

/// What to do about a damaged inbox file.
fn damaged(path: &Path, what: &str) -> InboxError {
    InboxError::of(
        InboxErrorKind::Damaged,
        format!(
            "the inbox file {} is damaged: {what}. It cannot be opened: restore it from a backup, or \
             move it aside to start with an empty inbox (its events are then not handled)",
            path.display()
        ),
    )
}

/// Refuses a file shorter than its own header says (cut short: not a torn tail redb can repair).
fn check_length(file: &File, path: &Path) -> Result<(), InboxError> {
    let len = file
        .metadata()
        .map_err(|e| InboxError::new(format!("cannot read {}", path.display()), e))?
        .len();
    let mut header = [0u8; 32];
    let mut reader = file;
    if len < 32 || reader.read_exact(&mut header).is_err() {
        return Ok(());
    }
    match expected_len(&header) {
        Some(expected) if len < expected => Err(damaged(
            path,
            &format!(
                "it is {len} bytes long, its own header says {expected}: it was cut short (not a \
                 torn write redb can repair)"
            ),
        )),
        _ => Ok(()),
    }
}

thread_local! {
    /// Set while redb opens a file on this thread: a panic then is caught and not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, a panic in it caught: its message as the error. The panic hook is wrapped once per
/// process so that such a panic is not printed (the previous hook still runs for every other panic).
fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned())
    })
}

/// Opens (creating it when missing) the redb file at `path`, checked for damage first.
fn open_db(path: &Path, syncs: &Arc<AtomicU64>) -> Result<Database, InboxError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| InboxError::new(format!("cannot open {}", path.display()), e))?;
    check_length(&file, path)?;
    let backend = FileBackend::new(file).map_err(|e| match e {
        DatabaseError::DatabaseAlreadyOpen => InboxError::of(
            InboxErrorKind::Setup,
            format!(
                "cannot lock {}: another process, or another open inbox of this process, is using \
                 it",
                path.display()
            ),
        ),
        e => InboxError::new(format!("cannot lock {}", path.display()), e),
    })?;
    let counted = Counted {
        file: backend,
        syncs: syncs.clone(),
    };
    match catch_quietly(|| redb::Builder::new().create_with_backend(counted)) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(DatabaseError::Storage(StorageError::Corrupted(what)))) => {
            Err(damaged(path, &format!("redb says: {what}")))
        }
        Ok(Err(DatabaseError::Storage(StorageError::Io(e))))
            if e.kind() == io::ErrorKind::InvalidData =>
        {
            Err(damaged(
                path,
                "it is not a redb file (its magic number is wrong)",
            ))
        }
        Ok(Err(DatabaseError::UpgradeRequired(v))) => Err(InboxError::of(
            InboxErrorKind::Setup,
            format!(
                "{} is in redb's old file format {v}: upgrade it with redb's tools",
                path.display()
            ),
        )),
        Ok(Err(e)) => Err(InboxError::new(
            format!("cannot open {}", path.display()),
            e,
        )),
        Err(panic) => Err(damaged(
            path,
            &format!(
                "redb could not read its structure ({})",
                panic.replace('\n', " ")
            ),
        )),
    }
}

/// What a loaded file holds.
struct Loaded {
    next: u64,
    counts: Counts,
    /// The pending events: sequence number and room.
    events: Vec<(u64, Option<Box<str>>)>,
}

/// How many rows the event tables hold.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    pending: u64,
    dead: u64,
    quarantined: u64,
}

/// Where an unreadable record was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Events,
    Dead,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Events => "events",
            Origin::Dead => "dead",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow)]
    why: Cow<'a, str>,
}

/// A quarantined record as stored: the envelope's length (4 bytes, big-endian), the envelope, the
/// record's bytes as found.
fn envelope(from: Origin, why: &str, bytes: &[u8]) -> Vec<u8> {
    let head = serde_json::to_vec(&Envelope {
        from: Cow::Borrowed(from.as_str()),
        why: Cow::Borrowed(why),
    })
    .unwrap_or_default();
    let len = u32::try_from(head.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(4 + head.len() + bytes.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(bytes);
    out
}

fn open_envelope(seq: u64, stored: &[u8]) -> Quarantined {
    let parsed = stored.get(..4).and_then(|len| {
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let end = len.checked_add(4)?;
        let head: Envelope<'_> = serde_json::from_slice(stored.get(4..end)?).ok()?;
        Some((
            head.from.into_owned(),
            head.why.into_owned(),
            &stored[end..],
        ))
    });
    let (from, reason, bytes) = parsed.unwrap_or_else(|| {
        (
            "events".to_owned(),
            "unknown (its envelope is unreadable)".to_owned(),
            stored,
        )
    });
    Quarantined {
        id: EventId::seq(seq),
        from: if from == "dead" { "dead" } else { "events" },
        reason,
        bytes: Bytes::copy_from_slice(bytes),
    }
}

/// Creates the tables, moves every unreadable record into the quarantine, and reads the pending
/// events, in one transaction synced to disk (after a reopening, the first sync on the new handle).
fn load(db: &Database) -> Result<Loaded, InboxError> {
    let fail = |e: Db| InboxError::new("cannot load the inbox", e);
    (|| -> Result<Loaded, Db> {
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        let mut next = 1;
        let mut pending = Vec::new();
        let counts;
        {
            let mut events = txn.open_table(EVENTS)?;
            let mut dead = txn.open_table(DEAD)?;
            txn.open_table(KEYS)?;
            txn.open_table(EXPIRIES)?;
            let mut handed = txn.open_table(HANDED)?;
            let mut quarantine = txn.open_table(QUARANTINE)?;
            let mut meta = txn.open_table(META)?;
            if let Some(n) = meta.get("next")? {
                next = next.max(n.value());
            }
            for table in [&events, &dead] {
                if let Some((last, _)) = table.last()? {
                    next = next.max(last.value().saturating_add(1));
                }
            }
            if let Some((last, _)) = quarantine.last()? {
                next = next.max(last.value().saturating_add(1));
            }
            let mut bad = Vec::new();
            for entry in events.iter()? {
                let (seq, bytes) = entry?;
                let seq = seq.value();
                match Stored::decode(EventId::seq(seq), bytes.value()) {
                    Ok(stored) => pending.push((seq, stored.record.room)),
                    Err(e) => {
                        bad.push((Origin::Events, seq, e.to_string(), bytes.value().to_vec()))
                    }
                }
            }
            for entry in dead.iter()? {
                let (seq, bytes) = entry?;
                if let Err(e) = Stored::decode(EventId::seq(seq.value()), bytes.value()) {
                    bad.push((
                        Origin::Dead,
                        seq.value(),
                        e.to_string(),
                        bytes.value().to_vec(),
                    ));
                }
            }
            for (from, seq, why, bytes) in bad {
                match from {
                    Origin::Events => drop(events.remove(seq)?),
                    Origin::Dead => drop(dead.remove(seq)?),
                }
                handed.remove(seq)?;
                quarantine.insert(seq, envelope(from, &why, &bytes).as_slice())?;
                obs::quarantined("embedded", &seq, from.as_str(), &why);
            }
            meta.insert("next", next)?;
            counts = Counts {
                pending: events.len()?,
                dead: dead.len()?,
                quarantined: quarantine.len()?,
            };
        }
        txn.commit()?;
        Ok(Loaded {
            next,
            counts,
            events: pending,
        })
    })()
    .map_err(fail)
}

// ------------------------------------------------------------------------------------------------
// The store

/// What the writer and the store's callers share.
struct Core {
    path: PathBuf,
    /// The open database, `None` while it is being reopened (or once closed). Readers clone it for
    /// the length of one read.
    db: RwLock<Option<Arc<Database>>>,
    ops: mpsc::Sender<Op>,
    queued: AtomicUsize,
    queued_bytes: AtomicUsize,
    state: AtomicU8,
    /// Why the store is recovering, for the 503s meanwhile.
    last_error: Mutex<String>,
    shared: Shared,
    cache: Mutex<Cached>,
    syncs: Arc<AtomicU64>,
    pending: AtomicU64,
    dead: AtomicU64,
    quarantined: AtomicU64,
    reopened: AtomicU64,
}

impl Core {
    fn cache(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, counts: Counts) {
        self.pending.store(counts.pending, Ordering::Relaxed);
        self.dead.store(counts.dead, Ordering::Relaxed);
        self.quarantined
            .store(counts.quarantined, Ordering::Relaxed);
    }

    /// The error of an operation refused because the store is not serving.
    fn not_serving(&self) -> Option<InboxError> {
        match self.state.load(Ordering::Acquire) {
            HEALTHY => None,
            RECOVERING => {
                let why = self
                    .last_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                Some(InboxError::msg(format!(
                    "the inbox is reopening its store after a failure ({why})"
                )))
            }
            _ => Some(closed()),
        }
    }

    /// The database, for one read on the blocking pool.
    fn reader(&self) -> Result<Arc<Database>, InboxError> {
        if let Some(e) = self.not_serving() {
            return Err(e);
        }
        self.db
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| InboxError::msg("the inbox is reopening its store"))
    }
}

fn closed() -> InboxError {
    InboxError::of(InboxErrorKind::Closed, "the inbox is closed")
}

type Reply<T> = oneshot::Sender<Result<T, InboxError>>;

/// What a hand-out did to one event.
#[derive(Debug, Clone, Copy)]
enum HandOut {
    /// Handed out, after this many hand-outs.
    Handed(u32),
    /// Handed out its most attempts already: buried.
    Buried,
    /// No longer pending.
    Gone,
}

enum Op {
    Append {
        record: Record,
        bytes: usize,
        reply: Reply<Appended>,
    },
    HandOut {
        seqs: Vec<u64>,
        max_attempts: u32,
        reply: Reply<Vec<HandOut>>,
    },
    /// Answered once the removal is durable: the worker's slot stays taken until then, so that the
    /// events handled twice after a crash are at most those the worker had in hand.
    Complete {
        seq: u64,
        reply: Reply<()>,
    },
    Retry {
        seq: u64,
        attempts: u32,
        error: String,
        delay: Duration,
        reply: Reply<()>,
    },
    Bury {
        seq: u64,
        attempts: u32,
        error: String,
        reply: Reply<()>,
    },
    /// A hand-out given back: its count taken back (best effort).
    Release {
        seq: u64,
    },
    Replay {
        seq: u64,
        reply: Reply<Option<EventId>>,
    },
    Quarantine {
        seq: u64,
        from: Origin,
        reason: String,
    },
    Close {
        reply: Option<oneshot::Sender<()>>,
    },
}

/// An operation without its reply.
enum Work {
    Append(Record),
    HandOut {
        seqs: Vec<u64>,
        max_attempts: u32,
    },
    Complete(u64),
    Retry {
        seq: u64,
        attempts: u32,
        error: String,
        delay: Duration,
    },
    Bury {
        seq: u64,
        attempts: u32,
        error: String,
    },
    Release(u64),
    Replay(u64),
    Quarantine {
        seq: u64,
        from: Origin,
        reason: String,
    },
}

/// Who waits for an operation's outcome.
enum Waiter {
    Append(Reply<Appended>),
    HandOut(Reply<Vec<HandOut>>),
    Done(Reply<()>),
    Replay(Reply<Option<EventId>>),
    Nobody,
}

impl Waiter {
    fn fail(self, error: &InboxError) {
        let e = || InboxError::msg(error.to_string()).kind_of(error.kind());
        match self {
            Waiter::Append(tx) => drop(tx.send(Err(e()))),
            Waiter::HandOut(tx) => drop(tx.send(Err(e()))),
            Waiter::Done(tx) => drop(tx.send(Err(e()))),
            Waiter::Replay(tx) => drop(tx.send(Err(e()))),
            Waiter::Nobody => {}
        }
    }
}

/// What one operation of a committed batch did.
enum Outcome {
    Appended(Box<Stored>),
    Duplicate,
    Full,
    /// The events handed out (those buried or gone leave the schedule).
    HandedOut(Vec<(u64, HandOut)>),
    /// The event left the pending events (completed, buried, quarantined).
    Removed(u64),
    /// The event waits for its retry.
    Requeued(u64, Duration),
    Replayed(Option<(u64, Option<Box<str>>)>),
    Nothing,
}

pub(crate) struct Embedded {
    core: Arc<Core>,
    /// This process's hold on the file: closing, once the store begins to close.
    slot: Arc<Slot>,
}

impl fmt::Debug for Embedded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Embedded")
            .field("path", &self.core.path)
            .finish_non_exhaustive()
    }
}

impl Embedded {
    pub(crate) fn open(dir: &Path) -> Result<Embedded, InboxError> {
        fs::create_dir_all(dir).map_err(|e| {
            InboxError::new(
                format!("cannot create the inbox directory {}", dir.display()),
                e,
            )
            .kind_of(InboxErrorKind::Setup)
        })?;
        let path = dir.join(FILE_NAME);
        let key = fs::canonicalize(dir)
            .map(|d| d.join(FILE_NAME))
            .unwrap_or_else(|_| path.clone());
        let slot = take_slot(&key)?;
        let opened = Embedded::start(&path, &key, &slot);
        if opened.is_err() {
            release_slot(&key, &slot);
        }
        opened
    }

    fn start(path: &Path, key: &Path, slot: &Arc<Slot>) -> Result<Embedded, InboxError> {
        let syncs = Arc::new(AtomicU64::new(0));
        let db = Arc::new(open_db(path, &syncs)?);
        let loaded = load(&db)?;
        let (ops, rx) = mpsc::channel();
        let core = Arc::new(Core {
            path: path.to_owned(),
            db: RwLock::new(Some(db.clone())),
            ops,
            queued: AtomicUsize::new(0),
            queued_bytes: AtomicUsize::new(0),
            state: AtomicU8::new(HEALTHY),
            last_error: Mutex::new(String::new()),
            shared: Shared::new(),
            cache: Mutex::default(),
            syncs,
            pending: AtomicU64::new(0),
            dead: AtomicU64::new(0),
            quarantined: AtomicU64::new(0),
            reopened: AtomicU64::new(0),
        });
        core.publish(loaded.counts);
        {
            let mut sched = core.shared.lock();
            let now = Instant::now();
            for (seq, room) in &loaded.events {
                sched.insert(*seq, room.as_deref(), now);
            }
        }
        let writer = Writer {
            core: core.clone(),
            db: Some(db),
            next: loaded.next,
            last_purge: Instant::now(),
        };
        let (key, held) = (key.to_owned(), slot.clone());
        thread::Builder::new()
            .name("room-callback-inbox".into())
            .spawn(move || {
                // However the writer ends, the file is released for a new open.
                struct Release(PathBuf, Arc<Slot>);
                impl Drop for Release {
                    fn drop(&mut self) {
                        release_slot(&self.0, &self.1);
                    }
                }
                let _release = Release(key, held);
                writer.run(rx);
            })
            .map_err(|e| InboxError::new("cannot start the inbox's writer thread", e))?;
        Ok(Embedded {
            core,
            slot: slot.clone(),
        })
    }

    /// Sends the operation `op` makes with a reply channel; resolves to the writer's reply.
    fn request<T: Send + 'static>(
        &self,
        op: impl FnOnce(Reply<T>) -> Op,
    ) -> BoxFuture<'_, Result<T, InboxError>> {
        let (tx, rx) = oneshot::channel();
        let sent = self.send(op(tx));
        Box::pin(async move {
            sent?;
            rx.await.map_err(|_| closed())?
        })
    }

    fn send(&self, op: Op) -> Result<(), InboxError> {
        self.core.ops.send(op).map_err(|_| closed())
    }

    /// Starts closing (once): the writer finishes what it has, closes the database, and releases the
    /// file.
    fn begin_close(&self, reply: Option<oneshot::Sender<()>>) -> bool {
        if self.core.state.swap(CLOSED, Ordering::AcqRel) == CLOSED {
            return false;
        }
        {
            // Unless the writer already released it (it ended).
            let mut life = self.slot.life.lock().unwrap_or_else(|e| e.into_inner());
            if *life == Life::Open {
                *life = Life::Closing;
            }
        }
        self.core.shared.wake();
        let _ = self.core.ops.send(Op::Close { reply });
        true
    }

    /// Reads, on the blocking pool, what `read` takes from the database.
    async fn read<T: Send + 'static>(
        &self,
        what: &'static str,
        read: impl FnOnce(&Database) -> Result<T, Db> + Send + 'static,
    ) -> Result<T, InboxError> {
        let db = self.core.reader()?;
        tokio::task::spawn_blocking(move || read(&db))
            .await
            .map_err(|e| InboxError::new(format!("cannot read the {what}"), e))?
            .map_err(|e| InboxError::new(format!("cannot read the {what}"), e))
    }

    /// Gives back a claimed event that could not be handed: due again after `after`.
    fn give_back(&self, seq: u64, after: Duration) {
        let _ = self.send(Op::Release { seq });
        self.core
            .shared
            .lock()
            .requeue(seq, dur::after(Instant::now(), after));
    }
}

/// The events a claim took and has not handed out yet: given back if it ends early.
struct Unclaimed<'a> {
    store: &'a Embedded,
    seqs: Vec<u64>,
    after: Duration,
}

impl Drop for Unclaimed<'_> {
    fn drop(&mut self) {
        for seq in self.seqs.drain(..) {
            self.store.give_back(seq, self.after);
        }
        if self.after.is_zero() {
            self.store.core.shared.wake();
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        // Not waiting for the writer (no blocking in a drop, which may run on an async thread): it
        // closes the database in the background; an open of the same directory by this process waits
        // for it. `Backend::close` waits.
        self.begin_close(None);
    }
}

// ------------------------------------------------------------------------------------------------
// The writer

struct Writer {
    core: Arc<Core>,
    /// The writer's own reference to the open database (`None` while it is being reopened).
    db: Option<Arc<Database>>,
    next: u64,
    last_purge: Instant,
}

impl Writer {
    fn run(mut self, ops: mpsc::Receiver<Op>) {
        let mut pause = REOPEN_FIRST;
        loop {
            if self.db.is_none() {
                if self.core.state.load(Ordering::Acquire) == CLOSED {
                    return self.shut(&ops, None);
                }
                match self.reopen() {
                    Ok(()) => pause = REOPEN_FIRST,
                    Err(e) => {
                        obs::recovering(&e);
                        self.set_error(&e);
                        // Until the next attempt, every operation is refused (a close is obeyed).
                        let until = Instant::now() + dur::equal_jitter(pause);
                        pause = (pause * 2).min(REOPEN_MAX);
                        loop {
                            let left = until.saturating_duration_since(Instant::now());
                            match ops.recv_timeout(left) {
                                Ok(Op::Close { reply }) => return self.shut(&ops, reply),
                                Ok(op) => self.refuse(op, &e),
                                Err(RecvTimeoutError::Timeout) => break,
                                Err(RecvTimeoutError::Disconnected) => {
                                    return self.shut(&ops, None)
                                }
                            }
                        }
                        continue;
                    }
                }
            }
            let Ok(first) = ops.recv() else {
                return self.shut(&ops, None);
            };
            let mut work = Vec::new();
            let mut waiters = Vec::new();
            let mut close = None;
            self.take(first, &mut work, &mut waiters, &mut close);
            while close.is_none() && work.len() < MAX_BATCH {
                match ops.try_recv() {
                    Ok(op) => self.take(op, &mut work, &mut waiters, &mut close),
                    Err(_) => break,
                }
            }
            if !work.is_empty() {
                self.commit(work, waiters);
            }
            if let Some(reply) = close {
                return self.shut(&ops, reply);
            }
        }
    }

    /// Adds `op` to the batch (an append whose caller has gone — answered 503 at its deadline — is
    /// dropped: storing it would only make a copy Tencent may send again).
    fn take(
        &self,
        op: Op,
        work: &mut Vec<Work>,
        waiters: &mut Vec<Waiter>,
        close: &mut Option<Option<oneshot::Sender<()>>>,
    ) {
        let (w, waiter) = match op {
            Op::Append {
                record,
                bytes,
                reply,
            } => {
                self.core.queued.fetch_sub(1, Ordering::AcqRel);
                self.core.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                if reply.is_closed() {
                    return;
                }
                (Work::Append(record), Waiter::Append(reply))
            }
            Op::HandOut {
                seqs,
                max_attempts,
                reply,
            } => (Work::HandOut { seqs, max_attempts }, Waiter::HandOut(reply)),
            Op::Complete { seq, reply } => (Work::Complete(seq), Waiter::Done(reply)),
            Op::Retry {
                seq,
                attempts,
                error,
                delay,
                reply,
            } => (
                Work::Retry {
                    seq,
                    attempts,
                    error,
                    delay,
                },
                Waiter::Done(reply),
            ),
            Op::Bury {
                seq,
                attempts,
                error,
                reply,
            } => (
                Work::Bury {
                    seq,
                    attempts,
                    error,
                },
                Waiter::Done(reply),
            ),
            Op::Release { seq } => (Work::Release(seq), Waiter::Nobody),
            Op::Replay { seq, reply } => (Work::Replay(seq), Waiter::Replay(reply)),
            Op::Quarantine { seq, from, reason } => {
                (Work::Quarantine { seq, from, reason }, Waiter::Nobody)
            }
            Op::Close { reply } => {
                *close = Some(reply);
                return;
            }
        };
        work.push(w);
        waiters.push(waiter);
    }

    /// An operation that arrives while the store is being reopened: refused.
    fn refuse(&self, op: Op, error: &InboxError) {
        let (mut work, mut waiters, mut close) = (Vec::new(), Vec::new(), None);
        self.take(op, &mut work, &mut waiters, &mut close);
        for waiter in waiters {
            waiter.fail(error);
        }
    }

    fn set_error(&self, error: &InboxError) {
        *self
            .core
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = error.to_string();
    }

    fn commit(&mut self, work: Vec<Work>, waiters: Vec<Waiter>) {
        let Some(db) = self.db.clone() else {
            let e = InboxError::msg("the inbox is reopening its store");
            waiters.into_iter().for_each(|w| w.fail(&e));
            return;
        };
        let purge = self.last_purge.elapsed() >= Duration::from_secs(1);
        let mut next = self.next;
        match write_batch(&db, work, &mut next, purge) {
            Ok((outcomes, counts)) => {
                self.next = next;
                if purge {
                    self.last_purge = Instant::now();
                }
                self.core.publish(counts);
                self.apply(outcomes, waiters);
            }
            Err(e) => {
                // Nothing of the batch is stored: every waiter hears so (the appends answer 503);
                // the completions, retries and burials are tried again by their workers.
                let error = InboxError::new("the inbox could not write to its store", e);
                waiters.into_iter().for_each(|w| w.fail(&error));
                drop(db);
                self.fail(&error);
            }
        }
    }

    /// The batch is durable: the schedule, the cache and the waiters learn what it did.
    fn apply(&self, outcomes: Vec<Outcome>, waiters: Vec<Waiter>) {
        let now = Instant::now();
        let mut answers = Vec::with_capacity(waiters.len());
        {
            let mut cached = self.core.cache();
            let mut sched = self.core.shared.lock();
            for (outcome, waiter) in outcomes.into_iter().zip(waiters) {
                let answer = match outcome {
                    Outcome::Appended(stored) => {
                        let seq = stored.seq();
                        sched.insert(seq, stored.record.room.as_deref(), now);
                        let id = stored.id.clone();
                        cached.put(seq, *stored);
                        Answer::Append(Appended::Stored(id))
                    }
                    Outcome::Duplicate => Answer::Append(Appended::Duplicate),
                    Outcome::Full => Answer::Append(Appended::Full),
                    Outcome::HandedOut(handed) => {
                        for (seq, h) in &handed {
                            if matches!(h, HandOut::Buried | HandOut::Gone) {
                                sched.remove(*seq);
                                cached.take(*seq);
                            }
                        }
                        Answer::HandOut(handed.into_iter().map(|(_, h)| h).collect())
                    }
                    Outcome::Removed(seq) => {
                        sched.remove(seq);
                        cached.take(seq);
                        Answer::Done
                    }
                    Outcome::Requeued(seq, delay) => {
                        sched.requeue(seq, dur::after(now, delay));
                        Answer::Done
                    }
                    Outcome::Replayed(replayed) => {
                        if let Some((seq, room)) = &replayed {
                            sched.insert(*seq, room.as_deref(), now);
                        }
                        Answer::Replay(replayed.map(|(seq, _)| EventId::seq(seq)))
                    }
                    Outcome::Nothing => Answer::Done,
                };
                answers.push((answer, waiter));
            }
        }
        self.core.shared.wake();
        for (answer, waiter) in answers {
            match (answer, waiter) {
                (Answer::Append(appended), Waiter::Append(tx)) => drop(tx.send(Ok(appended))),
                (Answer::HandOut(handed), Waiter::HandOut(tx)) => drop(tx.send(Ok(handed))),
                (Answer::Replay(replayed), Waiter::Replay(tx)) => drop(tx.send(Ok(replayed))),
                (_, Waiter::Done(tx)) => drop(tx.send(Ok(()))),
                _ => {}
            }
        }
    }

    /// The store failed: the database is closed (no further I/O on it: redb refuses any after an
    /// error), to be reopened by the loop.
    fn fail(&mut self, error: &InboxError) {
        obs::recovering(error);
        self.set_error(error);
        if self.core.state.load(Ordering::Acquire) != CLOSED {
            self.core.state.store(RECOVERING, Ordering::Release);
        }
        self.close_db();
    }

    /// Closes the database once no reader holds it (a read on the blocking pool is short).
    fn close_db(&mut self) {
        let taken = self
            .core
            .db
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(self.db.take());
        let Some(mut db) = taken else {
            return;
        };
        loop {
            match Arc::try_unwrap(db) {
                Ok(db) => return drop(db),
                Err(still) => {
                    db = still;
                    thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }

    /// Opens the file again and reads what is durable: the schedule is rebuilt from it (the events in
    /// a worker's hands stay there), the counts and the next sequence number re-read.
    fn reopen(&mut self) -> Result<(), InboxError> {
        let db = Arc::new(open_db(&self.core.path, &self.core.syncs)?);
        let loaded = load(&db)?;
        self.next = loaded.next;
        self.core.publish(loaded.counts);
        self.core.cache().clear();
        self.core
            .shared
            .lock()
            .reset(&loaded.events, Instant::now());
        *self.core.db.write().unwrap_or_else(|e| e.into_inner()) = Some(db.clone());
        self.db = Some(db);
        let _ = self.core.state.compare_exchange(
            RECOVERING,
            HEALTHY,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.core.reopened.fetch_add(1, Ordering::Relaxed);
        obs::reopened(loaded.counts.pending);
        self.core.shared.wake();
        Ok(())
    }

    /// Closes the database (redb writes its clean-shutdown state), refuses what is left, tells the
    /// closer.
    fn shut(mut self, ops: &mpsc::Receiver<Op>, reply: Option<oneshot::Sender<()>>) {
        self.core.state.store(CLOSED, Ordering::Release);
        self.close_db();
        let error = closed();
        let mut replies = Vec::from_iter(reply);
        while let Ok(op) = ops.try_recv() {
            match op {
                Op::Close { reply } => replies.extend(reply),
                op => self.refuse(op, &error),
            }
        }
        self.core.shared.wake();
        for reply in replies {
            let _ = reply.send(());
        }
    }
}

/// What a committed operation's waiter is told.
enum Answer {
    Append(Appended),
    HandOut(Vec<HandOut>),
    Replay(Option<EventId>),
    Done,
}

/// Decodes the record at `seq` of a table, when there is one and it is readable.
fn decoded(bytes: Option<redb::AccessGuard<'_, &[u8]>>, seq: u64) -> Option<Stored> {
    bytes.and_then(|bytes| Stored::decode(EventId::seq(seq), bytes.value()).ok())
}

/// Applies a batch in one transaction, synced before it returns: each operation's outcome, in order,
/// and the rows the tables hold after it.
fn write_batch(
    db: &Database,
    work: Vec<Work>,
    next: &mut u64,
    purge: bool,
) -> Result<(Vec<Outcome>, Counts), Db> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    let now_ms = millis(SystemTime::now());
    let mut outcomes = Vec::with_capacity(work.len());
    let counts;
    {
        let mut events = txn.open_table(EVENTS)?;
        let mut dead = txn.open_table(DEAD)?;
        let mut keys = txn.open_table(KEYS)?;
        let mut expiries = txn.open_table(EXPIRIES)?;
        let mut meta = txn.open_table(META)?;
        let mut handed = txn.open_table(HANDED)?;
        let mut quarantine = txn.open_table(QUARANTINE)?;
        if purge {
            let expired: Vec<(u64, Vec<u8>)> = expiries
                .range::<(u64, &[u8])>(..(now_ms, &[][..]))?
                .take(MAX_PURGE)
                .filter_map(Result::ok)
                .map(|(k, _)| {
                    let (at, key) = k.value();
                    (at, key.to_vec())
                })
                .collect();
            for (at, key) in expired {
                expiries.remove((at, key.as_slice()))?;
                let current = keys.get(key.as_slice())?.map(|v| v.value());
                if current == Some(at) {
                    keys.remove(key.as_slice())?;
                }
            }
        }
        // The events stored and not yet handled (those in a worker's hands too), counted by redb in
        // this transaction: the bound holds however many callbacks arrive together.
        let mut pending = events.len()?;
        for w in work {
            let outcome = match w {
                Work::Append(record) => {
                    let key = record.stored_key();
                    let seen = match record.dedup_ttl {
                        Some(_) => keys.get(&key[..])?.map(|v| v.value()),
                        None => None,
                    };
                    if seen.is_some_and(|until| until > now_ms) {
                        Outcome::Duplicate
                    } else if record.max_pending.is_some_and(|max| pending >= max) {
                        Outcome::Full
                    } else {
                        if let Some(ttl) = record.dedup_ttl {
                            if let Some(expired) = seen {
                                expiries.remove((expired, &key[..]))?;
                            }
                            let until = now_ms.saturating_add(dur::millis(ttl));
                            keys.insert(&key[..], until)?;
                            expiries.insert((until, &key[..]), ())?;
                        }
                        let seq = *next;
                        *next += 1;
                        pending += 1;
                        let stored = Stored {
                            id: EventId::seq(seq),
                            record,
                            attempts: 0,
                            error: None,
                        };
                        events.insert(seq, stored.encode().as_slice())?;
                        Outcome::Appended(Box::new(stored))
                    }
                }
                Work::HandOut { seqs, max_attempts } => {
                    let mut out = Vec::with_capacity(seqs.len());
                    for seq in seqs {
                        let before = {
                            let Some(record) = events.get(seq)? else {
                                out.push((seq, HandOut::Gone));
                                continue;
                            };
                            match handed.get(seq)? {
                                Some(n) => n.value(),
                                // Never handed out by this version: an older one counted the
                                // failed attempts in the record.
                                None => header_attempts(record.value()).unwrap_or(0),
                            }
                        };
                        if before < max_attempts {
                            handed.insert(seq, before.saturating_add(1))?;
                            out.push((seq, HandOut::Handed(before)));
                            continue;
                        }
                        // Handed out its most attempts without an outcome: buried.
                        let bytes = events
                            .remove(seq)?
                            .map(|b| b.value().to_vec())
                            .unwrap_or_default();
                        handed.remove(seq)?;
                        match Stored::decode(EventId::seq(seq), &bytes) {
                            Ok(mut stored) => {
                                obs::buried_unsettled(&seq, before);
                                stored.attempts = before;
                                stored.error = Some(unsettled(before));
                                dead.insert(seq, stored.encode().as_slice())?;
                            }
                            Err(e) => {
                                let why = e.to_string();
                                obs::quarantined("embedded", &seq, "events", &why);
                                quarantine.insert(
                                    seq,
                                    envelope(Origin::Events, &why, &bytes).as_slice(),
                                )?;
                            }
                        }
                        out.push((seq, HandOut::Buried));
                    }
                    Outcome::HandedOut(out)
                }
                Work::Complete(seq) => {
                    events.remove(seq)?;
                    handed.remove(seq)?;
                    Outcome::Removed(seq)
                }
                Work::Retry {
                    seq,
                    attempts,
                    error,
                    delay,
                } => {
                    let found = decoded(events.get(seq)?, seq);
                    match found {
                        Some(mut stored) => {
                            stored.attempts = attempts;
                            stored.error = Some(error);
                            events.insert(seq, stored.encode().as_slice())?;
                            Outcome::Requeued(seq, delay)
                        }
                        None => Outcome::Removed(seq),
                    }
                }
                Work::Bury {
                    seq,
                    attempts,
                    error,
                } => {
                    if let Some(mut stored) = decoded(events.remove(seq)?, seq) {
                        stored.attempts = attempts;
                        stored.error = Some(error);
                        dead.insert(seq, stored.encode().as_slice())?;
                    }
                    handed.remove(seq)?;
                    Outcome::Removed(seq)
                }
                Work::Release(seq) => {
                    let count = handed.get(seq)?.map(|n| n.value());
                    if let Some(n) = count.filter(|n| *n > 0) {
                        handed.insert(seq, n - 1)?;
                    }
                    Outcome::Nothing
                }
                Work::Replay(seq) => match decoded(dead.remove(seq)?, seq) {
                    Some(mut stored) => {
                        let new = *next;
                        *next += 1;
                        stored.id = EventId::seq(new);
                        stored.attempts = 0;
                        stored.error = None;
                        events.insert(new, stored.encode().as_slice())?;
                        Outcome::Replayed(Some((new, stored.record.room)))
                    }
                    None => Outcome::Replayed(None),
                },
                Work::Quarantine { seq, from, reason } => {
                    let bytes = match from {
                        Origin::Events => events.remove(seq)?.map(|b| b.value().to_vec()),
                        Origin::Dead => dead.remove(seq)?.map(|b| b.value().to_vec()),
                    };
                    if let Some(bytes) = bytes {
                        quarantine.insert(seq, envelope(from, &reason, &bytes).as_slice())?;
                    }
                    handed.remove(seq)?;
                    match from {
                        Origin::Events => Outcome::Removed(seq),
                        Origin::Dead => Outcome::Nothing,
                    }
                }
            };
            outcomes.push(outcome);
        }
        meta.insert("next", *next)?;
        counts = Counts {
            pending: events.len()?,
            dead: dead.len()?,
            quarantined: quarantine.len()?,
        };
    }
    txn.commit()?;
    Ok((outcomes, counts))
}

/// Reads the events `seqs` (none of them cached): each one's record, or why it could not be read.
enum Fetched {
    Found(Box<Stored>),
    Gone,
    Unreadable(String),
}

fn read_events(db: &Database, seqs: &[u64]) -> Result<Vec<Fetched>, Db> {
    let txn = db.begin_read()?;
    let events = txn.open_table(EVENTS)?;
    let mut out = Vec::with_capacity(seqs.len());
    for &seq in seqs {
        out.push(match events.get(seq)? {
            None => Fetched::Gone,
            Some(bytes) => match Stored::decode(EventId::seq(seq), bytes.value()) {
                Ok(stored) => Fetched::Found(Box::new(stored)),
                Err(e) => Fetched::Unreadable(e.to_string()),
            },
        });
    }
    Ok(out)
}

impl Backend for Embedded {
    fn append(&self, record: Record) -> BoxFuture<'_, Result<Appended, InboxError>> {
        if let Some(e) = self.core.not_serving() {
            return Box::pin(async move { Err(e) });
        }
        let bytes = record.body.len();
        let queued = self.core.queued.fetch_add(1, Ordering::AcqRel);
        let queued_bytes = self.core.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        if queued >= MAX_QUEUED || queued_bytes.saturating_add(bytes) > MAX_QUEUED_BYTES {
            self.core.queued.fetch_sub(1, Ordering::AcqRel);
            self.core.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            return Box::pin(async move {
                Err(InboxError::of(
                    InboxErrorKind::Full,
                    format!(
                        "the inbox's write queue is full ({queued} callbacks wait for the disk)"
                    ),
                ))
            });
        }
        let (tx, rx) = oneshot::channel();
        if self
            .send(Op::Append {
                record,
                bytes,
                reply: tx,
            })
            .is_err()
        {
            self.core.queued.fetch_sub(1, Ordering::AcqRel);
            self.core.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            return Box::pin(async { Err(closed()) });
        }
        Box::pin(async move { rx.await.map_err(|_| closed())? })
    }

    fn claim(
        &self,
        max: usize,
        ordered: bool,
        wait: Duration,
        max_attempts: u32,
    ) -> BoxFuture<'_, Result<Vec<Stored>, InboxError>> {
        Box::pin(async move {
            if let Some(e) = self.core.not_serving() {
                return Err(e);
            }
            let seqs = self.core.shared.claim(max, ordered, wait).await;
            if seqs.is_empty() {
                return Ok(Vec::new());
            }
            // Should this claim end early (an error, or its future dropped by a shutdown), what it
            // took is given back: its hand-outs uncounted, due again.
            let mut unclaimed = Unclaimed {
                store: self,
                seqs: seqs.clone(),
                after: Duration::ZERO,
            };
            // Each hand-out counted on disk before the handler runs: an event that kills the
            // process or hangs is buried after its most attempts.
            let handed = match self
                .request(|reply| Op::HandOut {
                    seqs: seqs.clone(),
                    max_attempts,
                    reply,
                })
                .await
            {
                Ok(handed) => handed,
                Err(e) => {
                    unclaimed.after = CLAIM_RETRY;
                    return Err(e);
                }
            };
            let mut out = Vec::with_capacity(seqs.len());
            let mut misses = Vec::new();
            {
                let mut cached = self.core.cache();
                for (seq, handed) in seqs.iter().zip(handed) {
                    // Buried or gone: the writer took it out of the schedule.
                    if let HandOut::Handed(before) = handed {
                        match cached.take(*seq) {
                            Some(mut stored) => {
                                stored.attempts = before;
                                out.push(stored);
                            }
                            None => misses.push((*seq, before)),
                        }
                    }
                }
            }
            if !misses.is_empty() {
                let wanted: Vec<u64> = misses.iter().map(|m| m.0).collect();
                match self
                    .read("events", move |db| read_events(db, &wanted))
                    .await
                {
                    Ok(reads) => {
                        for ((seq, before), read) in misses.into_iter().zip(reads) {
                            match read {
                                Fetched::Found(mut stored) => {
                                    stored.attempts = before;
                                    out.push(*stored);
                                }
                                Fetched::Gone => self.core.shared.lock().remove(seq),
                                Fetched::Unreadable(reason) => {
                                    obs::quarantined("embedded", &seq, "events", &reason);
                                    let _ = self.send(Op::Quarantine {
                                        seq,
                                        from: Origin::Events,
                                        reason,
                                    });
                                }
                            }
                        }
                    }
                    Err(e) => {
                        // Those not read are given back, due again in a while.
                        let missed: Vec<u64> = misses.iter().map(|m| m.0).collect();
                        for seq in missed {
                            self.give_back(seq, CLAIM_RETRY);
                        }
                        if out.is_empty() {
                            unclaimed.seqs.clear();
                            return Err(e);
                        }
                        obs::failed("claim", &e);
                    }
                }
            }
            unclaimed.seqs.clear();
            for stored in &out {
                obs::handed_out(&stored.id, stored.attempts.saturating_add(1));
            }
            Ok(out)
        })
    }

    fn complete(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>> {
        let seq = event.seq();
        self.request(|reply| Op::Complete { seq, reply })
    }

    fn retry(
        &self,
        event: &Stored,
        delay: Duration,
        error: &str,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        let (seq, attempts, error) = (event.seq(), event.attempts + 1, error.to_owned());
        self.request(|reply| Op::Retry {
            seq,
            attempts,
            error,
            delay,
            reply,
        })
    }

    fn bury(&self, event: &Stored, error: &str) -> BoxFuture<'_, Result<(), InboxError>> {
        let (seq, attempts, error) = (event.seq(), event.attempts + 1, error.to_owned());
        self.request(|reply| Op::Bury {
            seq,
            attempts,
            error,
            reply,
        })
    }

    fn release(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>> {
        self.give_back(event.seq(), Duration::ZERO);
        self.core.shared.wake();
        Box::pin(async { Ok(()) })
    }

    fn dead_letters(&self, max: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, InboxError>> {
        Box::pin(async move {
            let read = self
                .read("dead letters", move |db| {
                    let txn = db.begin_read()?;
                    let dead = txn.open_table(DEAD)?;
                    let mut out = Vec::new();
                    for entry in dead.iter()?.take(max) {
                        let (seq, bytes) = entry?;
                        let seq = seq.value();
                        out.push(
                            Stored::decode(EventId::seq(seq), bytes.value())
                                .map_err(|e| (seq, e.to_string())),
                        );
                    }
                    Ok(out)
                })
                .await?;
            let mut out = Vec::with_capacity(read.len());
            for entry in read {
                match entry {
                    Ok(stored) => out.push(DeadLetter {
                        error: stored.error.clone().unwrap_or_default(),
                        event: InboxEvent { stored },
                    }),
                    Err((seq, reason)) => {
                        obs::quarantined("embedded", &seq, "dead", &reason);
                        let _ = self.send(Op::Quarantine {
                            seq,
                            from: Origin::Dead,
                            reason,
                        });
                    }
                }
            }
            Ok(out)
        })
    }

    fn replay(&self, id: &EventId) -> BoxFuture<'_, Result<Option<EventId>, InboxError>> {
        let Some(seq) = id.as_seq() else {
            return Box::pin(async { Ok(None) });
        };
        if let Some(e) = self.core.not_serving() {
            return Box::pin(async move { Err(e) });
        }
        self.request(|reply| Op::Replay { seq, reply })
    }

    fn depth(&self) -> BoxFuture<'_, Result<Depth, InboxError>> {
        let core = &self.core;
        let depth = Depth {
            pending: core.pending.load(Ordering::Relaxed),
            dead: core.dead.load(Ordering::Relaxed),
            quarantined: core.quarantined.load(Ordering::Relaxed),
        };
        let result = match core.state.load(Ordering::Acquire) {
            CLOSED => Err(closed()),
            _ => Ok(depth),
        };
        Box::pin(async move { result })
    }

    fn quarantined(&self, max: usize) -> BoxFuture<'_, Result<Vec<Quarantined>, InboxError>> {
        Box::pin(async move {
            self.read("quarantine", move |db| {
                let txn = db.begin_read()?;
                let table = txn.open_table(QUARANTINE)?;
                let mut out = Vec::new();
                for entry in table.iter()?.take(max) {
                    let (seq, bytes) = entry?;
                    out.push(open_envelope(seq.value(), bytes.value()));
                }
                Ok(out)
            })
            .await
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), InboxError>> {
        let (tx, rx) = oneshot::channel();
        let started = self.begin_close(Some(tx));
        Box::pin(async move {
            if started {
                // Answered once the database is closed and its file unlocked.
                let _ = rx.await;
            }
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "embedded"
    }

    fn pending_now(&self) -> Option<u64> {
        Some(self.core.pending.load(Ordering::Relaxed))
    }

    fn syncs(&self) -> Option<u64> {
        Some(self.core.syncs.load(Ordering::SeqCst))
    }

    fn reopened(&self) -> u64 {
        self.core.reopened.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_length_is_the_files_length() {
        let dir = std::env::temp_dir().join(format!("inbox-len-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        let syncs = Arc::new(AtomicU64::new(0));
        {
            let db = open_db(&path, &syncs).unwrap();
            load(&db).unwrap();
        }
        let bytes = fs::read(&path).unwrap();
        let header: [u8; 32] = bytes[..32].try_into().unwrap();
        assert_eq!(expected_len(&header), Some(bytes.len() as u64));
        // Cut in half: refused with what to do, not a panic.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(bytes.len() as u64 / 2).unwrap();
        drop(file);
        let e = open_db(&path, &syncs).unwrap_err();
        assert_eq!(e.kind(), InboxErrorKind::Damaged);
        assert!(e.to_string().contains("cut short"), "{e}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_panic_is_caught_quietly() {
        assert_eq!(catch_quietly(|| 7), Ok(7));
        let e = catch_quietly(|| -> u8 { panic!("inside redb") }).unwrap_err();
        assert_eq!(e, "inside redb");
    }

    #[test]
    fn an_envelope_comes_back() {
        let stored = envelope(Origin::Dead, "unreadable header", b"\0\0\0\x02xx");
        let q = open_envelope(9, &stored);
        assert_eq!((q.from, q.reason.as_str()), ("dead", "unreadable header"));
        assert_eq!(&q.bytes[..], b"\0\0\0\x02xx");
        assert_eq!(q.id, EventId::seq(9));
        let q = open_envelope(3, b"junk");
        assert_eq!(&q.bytes[..], b"junk");
    }
}
