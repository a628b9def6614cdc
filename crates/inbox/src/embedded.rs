//! The embedded inbox: one [redb](https://docs.rs/redb) file in a local directory.
//!
//! Why redb: it is a pure-Rust, ACID, copy-on-write B-tree store whose commit with
//! `Durability::Immediate` returns only after `fdatasync` — one sync per commit, with a checksummed
//! commit slot — so "committed" means "on disk"; it locks its file (two processes cannot share an inbox
//! by accident); and it takes a custom storage backend, through which the tests count the syncs. Against
//! SQLite (rusqlite, WAL, `synchronous=FULL`) it needs no C toolchain and no `unsafe` on our side;
//! `benches/inbox.rs` measures the two ways a group commit can go (see the README's figures).
//!
//! One writer thread owns every write: it takes whatever operations wait (appends of many concurrent
//! callbacks, completions, retries) and commits them in one transaction with one sync — the group
//! commit — then answers each append. A duplicate is found in the same transaction that would store it,
//! so a copy that arrives while the first is being committed is answered only after that commit. The
//! index of pending events (for the workers) is kept in memory and rebuilt from the file at start.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use redb::backends::FileBackend;
use redb::{
    Database, Durability, ReadableTable, ReadableTableMetadata, StorageBackend, TableDefinition,
};
use tokio::sync::oneshot;

use super::record::{millis, EventId, Record, Stored};
use super::sched::Shared;
use super::store::{Appended, Backend, BoxFuture, DeadLetter, Depth, InboxError, InboxEvent};

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

/// The most operations one transaction takes.
const MAX_BATCH: usize = 4096;
/// The most expired keys one transaction purges.
const MAX_PURGE: usize = 1024;
/// The most stored events, and body bytes, kept in memory for the worker's next claim (beyond, a claim
/// reads the file): a backlog with no worker, or of large bodies, stays on disk.
const MAX_CACHED: usize = 16_384;
const MAX_CACHED_BYTES: usize = 32 << 20;

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
}

type Cache = Mutex<Cached>;

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

enum Op {
    Append(Record, oneshot::Sender<Result<Appended, InboxError>>),
    /// Answered once the removal is durable: the worker's slot stays taken until then, so that the
    /// events handled twice after a crash are at most those the worker had in hand.
    Complete(u64, oneshot::Sender<Result<(), InboxError>>),
    Retry {
        seq: u64,
        attempts: u32,
        error: String,
    },
    Bury {
        seq: u64,
        attempts: u32,
        error: String,
    },
    Replay(u64, oneshot::Sender<Result<Option<EventId>, InboxError>>),
}

pub(crate) struct Embedded {
    db: Arc<Database>,
    ops: Option<mpsc::Sender<Op>>,
    writer: Option<thread::JoinHandle<()>>,
    shared: Arc<Shared>,
    cache: Arc<Cache>,
    syncs: Arc<AtomicU64>,
}

impl fmt::Debug for Embedded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Embedded").finish_non_exhaustive()
    }
}

impl Embedded {
    pub(crate) fn open(dir: &Path) -> Result<Embedded, InboxError> {
        fs::create_dir_all(dir).map_err(|e| {
            InboxError::new(
                format!("cannot create the inbox directory {}", dir.display()),
                e,
            )
        })?;
        let path = dir.join("inbox.redb");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| InboxError::new(format!("cannot open {}", path.display()), e))?;
        let syncs = Arc::new(AtomicU64::new(0));
        let backend = FileBackend::new(file).map_err(|e| {
            InboxError::new(
                format!(
                    "cannot lock {} (is another process using it?)",
                    path.display()
                ),
                e,
            )
        })?;
        let db = redb::Builder::new()
            .create_with_backend(Counted {
                file: backend,
                syncs: syncs.clone(),
            })
            .map_err(|e| InboxError::new(format!("cannot open {}", path.display()), e))?;
        let db = Arc::new(db);
        let shared = Arc::new(Shared::new());
        let next = load(&db, &shared)?;
        let (ops, rx) = mpsc::channel();
        let cache = Arc::new(Cache::default());
        let writer = {
            let db = db.clone();
            let shared = shared.clone();
            let cache = cache.clone();
            thread::Builder::new()
                .name("room-callback-inbox".into())
                .spawn(move || write_loop(&db, &shared, &cache, rx, next))
                .map_err(|e| InboxError::new("cannot start the inbox's writer thread", e))?
        };
        Ok(Embedded {
            db,
            ops: Some(ops),
            writer: Some(writer),
            shared,
            cache,
            syncs,
        })
    }

    fn send(&self, op: Op) -> Result<(), InboxError> {
        self.ops
            .as_ref()
            .and_then(|ops| ops.send(op).ok())
            .ok_or_else(|| InboxError::msg("the inbox's writer has stopped"))
    }

    /// Sends the operation `op` makes with a reply channel; resolves to the writer's reply.
    fn request<T: Send + 'static>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, InboxError>>) -> Op,
    ) -> BoxFuture<'_, Result<T, InboxError>> {
        let (tx, rx) = oneshot::channel();
        let sent = self.send(op(tx));
        Box::pin(async move {
            sent?;
            rx.await
                .map_err(|_| InboxError::msg("the inbox's writer has stopped"))?
        })
    }

    fn read(
        &self,
        table: TableDefinition<'_, u64, &[u8]>,
        seq: u64,
    ) -> Result<Option<Stored>, InboxError> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| InboxError::new("read", e))?;
        let table = txn
            .open_table(table)
            .map_err(|e| InboxError::new("read", e))?;
        let Some(bytes) = table.get(seq).map_err(|e| InboxError::new("read", e))? else {
            return Ok(None);
        };
        Stored::decode(EventId::seq(seq), bytes.value())
            .map(Some)
            .map_err(|e| InboxError::new("read", e))
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        // Closing the channel stops the writer once it has written what it has; waiting for it lets a
        // new `Inbox::open` of the same directory find the file unlocked.
        self.ops.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Creates the tables, loads the pending events into the scheduler: the next sequence number.
fn load(db: &Database, shared: &Shared) -> Result<u64, InboxError> {
    let txn = db.begin_write().map_err(|e| InboxError::new("open", e))?;
    let mut next = 1;
    {
        let events = txn
            .open_table(EVENTS)
            .map_err(|e| InboxError::new("open", e))?;
        let dead = txn
            .open_table(DEAD)
            .map_err(|e| InboxError::new("open", e))?;
        txn.open_table(KEYS)
            .map_err(|e| InboxError::new("open", e))?;
        txn.open_table(EXPIRIES)
            .map_err(|e| InboxError::new("open", e))?;
        let meta = txn
            .open_table(META)
            .map_err(|e| InboxError::new("open", e))?;
        if let Some(n) = meta.get("next").map_err(|e| InboxError::new("open", e))? {
            next = next.max(n.value());
        }
        for table in [&events, &dead] {
            if let Some((last, _)) = table.last().map_err(|e| InboxError::new("open", e))? {
                next = next.max(last.value() + 1);
            }
        }
        let mut sched = shared.lock();
        let now = Instant::now();
        for entry in events.iter().map_err(|e| InboxError::new("open", e))? {
            let (seq, bytes) = entry.map_err(|e| InboxError::new("open", e))?;
            let seq = seq.value();
            // A record that cannot be read is left in the file, not handed to the worker.
            if let Ok(stored) = Stored::decode(EventId::seq(seq), bytes.value()) {
                sched.insert(seq, stored.record.room.as_deref(), now);
            }
        }
    }
    txn.commit().map_err(|e| InboxError::new("open", e))?;
    Ok(next)
}

/// What one operation of a committed batch did.
enum Outcome {
    Appended(Box<Stored>),
    Duplicate,
    Full,
    Replayed(Option<(u64, Option<Box<str>>)>),
    Nothing,
}

/// What a committed operation's waiter is told.
enum Answer {
    Append(Appended),
    Replay(Option<EventId>),
    Done,
}

/// Who waits for an operation's outcome.
enum Reply {
    Append(oneshot::Sender<Result<Appended, InboxError>>),
    Replay(oneshot::Sender<Result<Option<EventId>, InboxError>>),
    Done(oneshot::Sender<Result<(), InboxError>>),
    Nobody,
}

/// An operation without its reply.
enum Work {
    Append(Record),
    Complete(u64),
    Retry {
        seq: u64,
        attempts: u32,
        error: String,
    },
    Bury {
        seq: u64,
        attempts: u32,
        error: String,
    },
    Replay(u64),
}

fn split(op: Op) -> (Work, Reply) {
    match op {
        Op::Append(record, tx) => (Work::Append(record), Reply::Append(tx)),
        Op::Complete(seq, tx) => (Work::Complete(seq), Reply::Done(tx)),
        Op::Retry {
            seq,
            attempts,
            error,
        } => (
            Work::Retry {
                seq,
                attempts,
                error,
            },
            Reply::Nobody,
        ),
        Op::Bury {
            seq,
            attempts,
            error,
        } => (
            Work::Bury {
                seq,
                attempts,
                error,
            },
            Reply::Nobody,
        ),
        Op::Replay(seq, tx) => (Work::Replay(seq), Reply::Replay(tx)),
    }
}

fn write_loop(
    db: &Database,
    shared: &Shared,
    cache: &Cache,
    ops: mpsc::Receiver<Op>,
    mut next: u64,
) {
    let mut last_purge = Instant::now();
    while let Ok(first) = ops.recv() {
        let mut work = Vec::new();
        let mut replies = Vec::new();
        let mut take = |op| {
            let (w, r) = split(op);
            work.push(w);
            replies.push(r);
        };
        take(first);
        for _ in 1..MAX_BATCH {
            match ops.try_recv() {
                Ok(op) => take(op),
                Err(_) => break,
            }
        }
        let purge = last_purge.elapsed() >= Duration::from_secs(1);
        let start = next;
        // The events waiting now (those handled meanwhile only make the bound stricter).
        let pending = shared.lock().len() as u64;
        match write_batch(db, work, &mut next, purge, pending) {
            Ok(outcomes) => {
                if purge {
                    last_purge = Instant::now();
                }
                let now = Instant::now();
                let mut answers = Vec::with_capacity(replies.len());
                {
                    let mut cached = cache.lock().unwrap_or_else(|e| e.into_inner());
                    let mut sched = shared.lock();
                    for (outcome, reply) in outcomes.into_iter().zip(replies) {
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
                            Outcome::Replayed(replayed) => {
                                if let Some((seq, room)) = &replayed {
                                    sched.insert(*seq, room.as_deref(), now);
                                }
                                Answer::Replay(replayed.map(|(seq, _)| EventId::seq(seq)))
                            }
                            Outcome::Nothing => Answer::Done,
                        };
                        answers.push((answer, reply));
                    }
                }
                shared.wake();
                for (answer, reply) in answers {
                    match (answer, reply) {
                        (Answer::Append(appended), Reply::Append(tx)) => {
                            let _ = tx.send(Ok(appended));
                        }
                        (Answer::Replay(replayed), Reply::Replay(tx)) => {
                            let _ = tx.send(Ok(replayed));
                        }
                        (_, Reply::Done(tx)) => {
                            let _ = tx.send(Ok(()));
                        }
                        _ => {}
                    }
                }
            }
            Err(error) => {
                // Nothing of the batch is stored: every append and replay hears so (the appends answer
                // 503). Completions, retries and burials stay undone: their events are handed again.
                next = start;
                let error = error.to_string();
                for reply in replies {
                    match reply {
                        Reply::Append(tx) => {
                            let _ = tx.send(Err(InboxError::new(
                                "the inbox could not store the callback",
                                error.clone(),
                            )));
                        }
                        Reply::Replay(tx) => {
                            let _ = tx.send(Err(InboxError::new(
                                "the inbox could not replay the event",
                                error.clone(),
                            )));
                        }
                        Reply::Done(tx) => {
                            let _ = tx.send(Err(InboxError::new(
                                "the inbox could not remove a handled event",
                                error.clone(),
                            )));
                        }
                        Reply::Nobody => {}
                    }
                }
            }
        }
    }
}

/// Decodes the record at `seq` of a table, when there is one and it is readable.
fn decoded(bytes: Option<redb::AccessGuard<'_, &[u8]>>, seq: u64) -> Option<Stored> {
    bytes.and_then(|bytes| Stored::decode(EventId::seq(seq), bytes.value()).ok())
}

/// Applies a batch in one transaction, synced before it returns: each operation's outcome, in order.
fn write_batch(
    db: &Database,
    work: Vec<Work>,
    next: &mut u64,
    purge: bool,
    mut pending: u64,
) -> Result<Vec<Outcome>, Db> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    let now_ms = millis(SystemTime::now());
    let mut outcomes = Vec::with_capacity(work.len());
    {
        let mut events = txn.open_table(EVENTS)?;
        let mut dead = txn.open_table(DEAD)?;
        let mut keys = txn.open_table(KEYS)?;
        let mut expiries = txn.open_table(EXPIRIES)?;
        let mut meta = txn.open_table(META)?;
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
                            let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
                            let until = now_ms.saturating_add(ttl_ms);
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
                Work::Complete(seq) => {
                    events.remove(seq)?;
                    Outcome::Nothing
                }
                Work::Retry {
                    seq,
                    attempts,
                    error,
                } => {
                    let stored = decoded(events.get(seq)?, seq);
                    if let Some(mut stored) = stored {
                        stored.attempts = attempts;
                        stored.error = Some(error);
                        events.insert(seq, stored.encode().as_slice())?;
                    }
                    Outcome::Nothing
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
            };
            outcomes.push(outcome);
        }
        meta.insert("next", *next)?;
    }
    txn.commit()?;
    Ok(outcomes)
}

impl Backend for Embedded {
    fn append(&self, record: Record) -> BoxFuture<'_, Result<Appended, InboxError>> {
        self.request(|tx| Op::Append(record, tx))
    }

    fn claim(
        &self,
        max: usize,
        ordered: bool,
        wait: Duration,
    ) -> BoxFuture<'_, Result<Vec<Stored>, InboxError>> {
        Box::pin(async move {
            let seqs = self.shared.claim(max, ordered, wait).await;
            let mut out = Vec::with_capacity(seqs.len());
            let mut misses = Vec::new();
            {
                let mut cached = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                for seq in seqs {
                    match cached.take(seq) {
                        Some(stored) => out.push(stored),
                        None => misses.push(seq),
                    }
                }
            }
            for seq in misses {
                match self.read(EVENTS, seq) {
                    Ok(Some(stored)) => out.push(stored),
                    // Gone or unreadable: not handed (an unreadable one stays in the file).
                    Ok(None) => self.shared.lock().remove(seq),
                    Err(e) => {
                        // Give back what this claim took, then report.
                        let mut sched = self.shared.lock();
                        sched.requeue(seq, Instant::now() + Duration::from_secs(1));
                        for stored in &out {
                            sched.requeue(stored.seq(), Instant::now());
                        }
                        return Err(e);
                    }
                }
            }
            Ok(out)
        })
    }

    fn complete(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>> {
        let seq = event.seq();
        self.shared.lock().remove(seq);
        self.shared.wake();
        self.request(|tx| Op::Complete(seq, tx))
    }

    fn retry(
        &self,
        event: &Stored,
        delay: Duration,
        error: &str,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        let seq = event.seq();
        let sent = self.send(Op::Retry {
            seq,
            attempts: event.attempts + 1,
            error: error.to_owned(),
        });
        self.shared.lock().requeue(seq, Instant::now() + delay);
        self.shared.wake();
        Box::pin(async move { sent })
    }

    fn bury(&self, event: &Stored, error: &str) -> BoxFuture<'_, Result<(), InboxError>> {
        let seq = event.seq();
        let sent = self.send(Op::Bury {
            seq,
            attempts: event.attempts + 1,
            error: error.to_owned(),
        });
        self.shared.lock().remove(seq);
        self.shared.wake();
        Box::pin(async move { sent })
    }

    fn release(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>> {
        self.shared.lock().requeue(event.seq(), Instant::now());
        self.shared.wake();
        Box::pin(async { Ok(()) })
    }

    fn dead_letters(&self, max: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, InboxError>> {
        let read = || -> Result<Vec<DeadLetter>, Db> {
            let txn = self.db.begin_read()?;
            let dead = txn.open_table(DEAD)?;
            let mut out = Vec::new();
            for entry in dead.iter()?.take(max) {
                let (seq, bytes) = entry?;
                if let Ok(stored) = Stored::decode(EventId::seq(seq.value()), bytes.value()) {
                    out.push(DeadLetter {
                        error: stored.error.clone().unwrap_or_default(),
                        event: InboxEvent { stored },
                    });
                }
            }
            Ok(out)
        };
        let result = read().map_err(|e| InboxError::new("cannot read the dead letters", e.0));
        Box::pin(async move { result })
    }

    fn replay(&self, id: &EventId) -> BoxFuture<'_, Result<Option<EventId>, InboxError>> {
        let Some(seq) = id.as_seq() else {
            return Box::pin(async { Ok(None) });
        };
        self.request(|tx| Op::Replay(seq, tx))
    }

    fn depth(&self) -> BoxFuture<'_, Result<Depth, InboxError>> {
        let pending = self.shared.lock().len() as u64;
        let dead = (|| -> Result<u64, Db> {
            let txn = self.db.begin_read()?;
            Ok(txn.open_table(DEAD)?.len()?)
        })()
        .map_err(|e| InboxError::new("cannot count the dead letters", e.0));
        Box::pin(async move {
            Ok(Depth {
                pending,
                dead: dead?,
            })
        })
    }

    fn name(&self) -> &'static str {
        "embedded"
    }

    fn pending_now(&self) -> Option<u64> {
        Some(self.shared.lock().len() as u64)
    }

    fn syncs(&self) -> Option<u64> {
        Some(self.syncs.load(Ordering::SeqCst))
    }
}
