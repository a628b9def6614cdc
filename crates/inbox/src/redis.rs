//! The inbox on Redis Streams (feature `redis`): every receiver and worker on one Redis shares one
//! inbox and one dedup set.
//!
//! # Keys
//!
//! Every key starts with the prefix in braces — a Redis Cluster hash tag, so that each script's keys
//! share one slot (default prefix `tencent-room-callback`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{prefix}:events` | stream | events to handle (and in a worker's hands), one field `d`: [`Stored::encode`] |
//! | `{prefix}:workers` | consumer group of `{prefix}:events` | one consumer per [`Inbox`](super::Inbox): `host-pid-random` |
//! | `{prefix}:retry` | sorted set | failed events waiting for their retry: score the due time (ms), member `<old id> <encoded>` |
//! | `{prefix}:dead` | stream | dead letters, field `d` (with the attempts and the last error) |
//! | `{prefix}:quarantine` | stream | unreadable entries kept aside: fields `d` (the bytes as found), `from` (`events` or `dead`), `why` |
//! | `{prefix}:key:<hex>` | string, `PX` the dedup TTL | a remembered key (its value the event's stream ID) |
//!
//! An event leaves `{prefix}:events` when it is completed (`XACK` + `XDEL`), retried (to the retry set),
//! buried (to the dead letters); so every entry of the stream is unfinished work, and the consumer group
//! is created at ID `0` (never `$`: nothing stored before it existed is skipped) by the first claim that
//! finds it missing — the first worker's, or any after an `XGROUP DESTROY`.
//!
//! Needs Redis 6.2 or later (`XAUTOCLAIM`), with `maxmemory-policy noeviction` (Redis's default: an
//! evicting policy may drop the stream itself). Not Redis Cluster (the hash tags are ready for it, the
//! client is not), not TLS (`rediss://` is refused by [`RedisStore::connect`]: the redis crate's TLS
//! features are not turned on).
//!
//! # Atomicity
//!
//! Each change is one Lua script (Redis runs a script alone, and its effects reach the AOF and the
//! replicas as one transaction): the append checks its arguments and the key, counts the pending events
//! (the stream's entries, those in a worker's hands included, and the retries: at the inbox's bound it
//! stores nothing and answers "full"), adds the event, then remembers the key — every check before the
//! first write, so that a refused append leaves nothing behind (a script is not rolled back);
//! retry, burial and release act only on an event still pending for this consumer (a worker that was
//! taken for dead and whose events another worker took over changes nothing); moving due retries back
//! into the stream is one script, so two workers never both move one; a replay deletes the dead letter
//! and adds the event in one script, so it happens once.
//!
//! # Durability
//!
//! An append resolves once Redis has replied: with `appendonly yes` and `appendfsync always`, Redis
//! replies to a write only after its AOF is written and fsynced, so an OK means "on the server's disk".
//! With `appendfsync everysec` (Redis's default when the AOF is on) up to a second of acknowledged
//! events can be lost in a crash of the server's machine; without persistence, all of them.
//!
//! # Failures
//!
//! Connections are made lazily: [`RedisStore::connect`] succeeds while the server is down. Each
//! operation is bounded ([`OP_DEADLINE`]: connecting and answering each have [`IO_TIMEOUT`]; an append
//! also by the inbox's store deadline): with the server down or stalled it fails within that bound
//! (the layer answers 503), and the connection is made again by the next operation once the server is
//! back — no restart needed. A server out of memory (`maxmemory` with `noeviction`) refuses the
//! append's first write: 503, nothing stored; the workers still drain the inbox (reading,
//! acknowledging and deleting need no memory), and appends succeed again once memory is free.
//!
//! # Attempts
//!
//! An event's attempts are the failed ones its entry records (a retry re-adds it with the count) plus
//! the times Redis delivered the current entry (its delivery count, raised by each `XREADGROUP` and
//! each take-over): so a hand-out is counted by Redis itself before the handler runs. An event handed
//! out its most attempts without an outcome (its worker died or hung each time) is buried by the next
//! claim instead of being handed again. A release (a shutdown's) lowers the count it raised.
//!
//! # Damage
//!
//! An entry that does not decode is moved to `{prefix}:quarantine` (logged at ERROR, counted, listed),
//! never handed to a worker.
//!
//! # Claims and order
//!
//! A claim first moves the due retries back into the stream, then takes over the events that another
//! consumer has held without a sign of life for the claim idle time (`XAUTOCLAIM`: a worker that died
//! with events in hand), then reads new events (`XREADGROUP ... >`, blocking up to a second when there
//! are none). While a handler runs, its consumer renews its claim (an `XCLAIM` that resets the idle time)
//! every third of the claim idle time, so a slow handler is not taken over; a claim that finds an event
//! this consumer already holds, or settled in the last seconds (a race with the group's recreation),
//! does not hand it again.
//!
//! A delivery whose reply is lost — a read given up while the server stalled, the server dying
//! after it delivered — leaves an entry pending for this consumer but in no one's hands: for 15 s
//! after any failed operation, each claim also takes back this consumer's own pending entries that
//! it does not hold and that have been idle for 2.5 s (longer than any of its reads waits), rather
//! than leave them to the claim idle time. Such a lost delivery counts as an attempt. A blocking
//! read that timed out closes its connection (it may still be blocked in Redis).
//!
//! Per-room order (`ordered`) cannot hold across workers that read one stream: it is ignored. What
//! holds: new events are handed in stream order (arrival order at Redis), several at once to each
//! worker and to every worker, so they run concurrently and may finish in any order; a retried event
//! goes back at the end of the stream when due (after the events that came meanwhile); an event taken
//! over from a dead worker, or given back by a shutdown (released: left in place, marked idle for long,
//! its ID kept), comes first in the next claim of any worker, ahead of newer events.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{
    AsyncConnectionConfig, Client, FromRedisValue, RedisError, RedisResult, Script,
    ScriptInvocation, Value,
};

use super::record::{EventId, Record, Stored};
use super::store::{
    Appended, Backend, BoxFuture, DeadLetter, Depth, InboxError, InboxErrorKind, InboxEvent,
    Quarantined,
};

/// The bound on connecting, and on each answer once connected.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(1);
/// The bound on a whole operation (a connection, then its commands).
pub(crate) const OP_DEADLINE: Duration = Duration::from_millis(1500);
/// The longest a claim blocks on Redis waiting for a new event (a shutdown waits no longer).
const MAX_BLOCK: Duration = Duration::from_secs(1);
/// How long a claimed event may go without a sign of life from its consumer before another consumer
/// takes it over (its worker is taken for dead).
pub(crate) const DEFAULT_CLAIM_IDLE: Duration = Duration::from_secs(30);
/// The most due retries one claim moves back into the stream.
const PROMOTE: usize = 256;
/// A consumer of the group with nothing pending, silent this long, is removed (a worker process long
/// gone: consumers would otherwise pile up, one per process ever started).
const FORGET_CONSUMER: Duration = Duration::from_secs(60 * 60);
/// How often a store that has claimed looks for consumers to forget.
const HOUSEKEEPING: Duration = Duration::from_secs(60);
/// The most idle connections kept for blocking reads.
const MAX_IDLE_BLOCKING: usize = 4;
/// The idle time a released event is given, so that the next claim of any consumer takes it over.
const RELEASED_IDLE_MS: u64 = 100_000_000_000;
/// The stream entries' one field.
const FIELD: &str = "d";
/// How long after a failed claim or read the claims also look for lost deliveries.
const RECHECK_FOR: Duration = Duration::from_secs(15);
/// An own pending entry not in hand, idle this long, was delivered to a read that gave up (no read
/// waits longer than a blocking read's bound plus an operation's).
const LOST_AFTER: Duration = Duration::from_millis(2500);

/// A Lua function: is entry `id` pending in `group` of `events` for consumer `me`?
const MINE: &str = r"
local function mine(events, group, id, me)
  local p = redis.pcall('XPENDING', events, group, id, id, 1)
  if type(p) ~= 'table' or p.err or #p == 0 then return false end
  return p[1][2] == me
end
";

/// KEYS: events, retry, the key to remember (absent without dedup). ARGV: the encoded event, the most
/// pending events, the TTL in ms (absent without dedup). The event's new stream ID; nil for a
/// duplicate; 0 when the inbox is full. Every check comes before the first write, so that a refused
/// append (a bad TTL, full, out of memory at XADD) leaves nothing behind (a script is not rolled back).
const APPEND: &str = r"
if KEYS[3] then
  local ttl = tonumber(ARGV[3])
  if not ttl or ttl < 1 or ttl > 31536000000 then
    return redis.error_reply('ERR the inbox dedup TTL is out of range')
  end
  if redis.call('EXISTS', KEYS[3]) == 1 then return false end
end
local max = tonumber(ARGV[2])
if max and redis.call('XLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= max then return 0 end
local id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])
if KEYS[3] then redis.call('SET', KEYS[3], id, 'PX', ARGV[3]) end
return id
";

/// KEYS: events, retry. ARGV: group, consumer, count, claim idle ms, most retries to move.
/// Moves the due retries into the stream, takes over idle events, reads new ones (not blocking):
/// `{taken over, read, ms until the next retry is due or -1, the taken-over entries' delivery
/// counts}`. Creates the group (at 0) when missing. A retry that cannot be moved (Redis out of memory)
/// stays in the retry set for a later claim.
const CLAIM: &str = r"
local events, retry = KEYS[1], KEYS[2]
local group, me, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', retry, '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
for _, member in ipairs(due) do
  local cut = string.find(member, ' ', 1, true)
  if cut then
    local added = redis.pcall('XADD', events, '*', 'd', string.sub(member, cut + 1))
    if type(added) == 'table' and added.err then break end
  end
  redis.call('ZREM', retry, member)
end
local claimed = redis.pcall('XAUTOCLAIM', events, group, me, ARGV[4], '0-0', 'COUNT', count)
if type(claimed) == 'table' and claimed.err then
  if string.find(claimed.err, 'NOGROUP', 1, true) then
    redis.call('XGROUP', 'CREATE', events, group, '0', 'MKSTREAM')
    claimed = redis.call('XAUTOCLAIM', events, group, me, ARGV[4], '0-0', 'COUNT', count)
  else
    return redis.error_reply(claimed.err)
  end
end
local taken, counts = {}, {}
for _, entry in ipairs(claimed[2]) do
  if type(entry) == 'table' then
    taken[#taken + 1] = entry
    local p = redis.call('XPENDING', events, group, entry[1], entry[1], 1)
    counts[#counts + 1] = (p[1] and tonumber(p[1][4])) or 1
  end
end
local read = {}
if #taken < count then
  local r = redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', count - #taken, 'STREAMS', events, '>')
  if r then read = r[1][2] end
end
local next_due = -1
local first = redis.call('ZRANGE', retry, 0, 0, 'WITHSCORES')
if first[2] then next_due = math.max(0, tonumber(first[2]) - now) end
return {taken, read, next_due, counts}
";

/// KEYS: events. ARGV: group, id. Removes the event (whoever holds it: it was handled).
const COMPLETE: &str = r"
redis.pcall('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
";

/// KEYS: events, retry. ARGV: group, consumer, id, delay ms, the encoded event (attempt counted).
const RETRY: &str = r"
local events, retry, group, me, id = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]
if not mine(events, group, id, me) then return 0 end
redis.call('XACK', events, group, id)
if redis.call('XDEL', events, id) == 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', retry, now + tonumber(ARGV[4]), id .. ' ' .. ARGV[5])
return 1
";

/// KEYS: events, dead. ARGV: group, consumer, id, the encoded event (attempt counted, error).
const BURY: &str = r"
local events, dead, group, me, id = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]
if not mine(events, group, id, me) then return 0 end
redis.call('XACK', events, group, id)
if redis.call('XDEL', events, id) == 0 then return 0 end
redis.call('XADD', dead, '*', 'd', ARGV[4])
return 1
";

/// KEYS: events. ARGV: group, consumer, id, idle ms. Leaves the event where it is (its ID and place
/// kept), idle for long: the next claim of any consumer takes it over. Its delivery count is lowered
/// by one, so that the take-over (which raises it) leaves the released hand-out uncounted.
const RELEASE: &str = r"
local events, group, me, id = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local p = redis.pcall('XPENDING', events, group, id, id, 1)
if type(p) ~= 'table' or p.err or #p == 0 or p[1][2] ~= me then return 0 end
local count = math.max(0, tonumber(p[1][4]) - 1)
redis.call('XCLAIM', events, group, me, 0, id, 'IDLE', ARGV[4], 'RETRYCOUNT', count, 'JUSTID')
return 1
";

/// KEYS: events. ARGV: group, consumer, count, min idle ms, the IDs in this consumer's hands. Takes
/// back this consumer's own pending entries idle for that long and not in its hands: deliveries whose
/// reply was lost (a read given up while Redis stalled, or died, after the server had delivered).
/// `{entries, their delivery counts}`.
const RECLAIM: &str = r"
local events, group, me = KEYS[1], ARGV[1], ARGV[2]
local held = {}
for i = 5, #ARGV do held[ARGV[i]] = true end
local p = redis.pcall('XPENDING', events, group, 'IDLE', tonumber(ARGV[4]), '-', '+', tonumber(ARGV[3]), me)
if type(p) ~= 'table' or p.err then return {{}, {}} end
local ids = {}
for _, e in ipairs(p) do
  if not held[e[1]] then ids[#ids + 1] = e[1] end
end
if #ids == 0 then return {{}, {}} end
local claimed = redis.call('XCLAIM', events, group, me, tonumber(ARGV[4]), unpack(ids))
local taken, counts = {}, {}
for _, entry in ipairs(claimed) do
  if type(entry) == 'table' then
    taken[#taken + 1] = entry
    local q = redis.call('XPENDING', events, group, entry[1], entry[1], 1)
    counts[#counts + 1] = (q[1] and tonumber(q[1][4])) or 1
  end
end
return {taken, counts}
";

/// KEYS: events, quarantine. ARGV: group, consumer, id, the entry's bytes, why. Moves an unreadable
/// entry in this consumer's hands to the quarantine.
const QUARANTINE: &str = r"
local events, quarantine, group, me, id = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]
if not mine(events, group, id, me) then return 0 end
redis.call('XACK', events, group, id)
if redis.call('XDEL', events, id) == 0 then return 0 end
redis.call('XADD', quarantine, '*', 'd', ARGV[4], 'from', 'events', 'why', ARGV[5])
return 1
";

/// KEYS: dead, quarantine. ARGV: the dead letter's ID, its bytes, why. Moves an unreadable dead letter
/// to the quarantine.
const QUARANTINE_DEAD: &str = r"
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'd', ARGV[2], 'from', 'dead', 'why', ARGV[3])
return 1
";

/// KEYS: events. ARGV: group, consumer, the IDs in hand. Resets their idle time (still ours only).
const TOUCH: &str = r"
local events, group, me = KEYS[1], ARGV[1], ARGV[2]
local n = 0
for i = 3, #ARGV do
  if mine(events, group, ARGV[i], me) then
    redis.call('XCLAIM', events, group, me, 0, ARGV[i], 'JUSTID')
    n = n + 1
  end
end
return n
";

/// KEYS: dead, events. ARGV: the dead letter's ID, the event to add (attempts 0, no error).
const REPLAY: &str = r"
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
";

/// KEYS: events. ARGV: group, this consumer, idle ms. Removes the other consumers with nothing
/// pending, silent for longer than that.
const FORGET: &str = r"
local events, group, me, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local consumers = redis.pcall('XINFO', 'CONSUMERS', events, group)
if type(consumers) ~= 'table' or consumers.err then return 0 end
local n = 0
for _, c in ipairs(consumers) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info['name'] ~= me and info['pending'] == 0 and tonumber(info['idle']) > limit then
    redis.call('XGROUP', 'DELCONSUMER', events, group, info['name'])
    n = n + 1
  end
end
return n
";

struct Scripts {
    append: Script,
    claim: Script,
    complete: Script,
    retry: Script,
    bury: Script,
    release: Script,
    touch: Script,
    replay: Script,
    forget: Script,
    quarantine: Script,
    quarantine_dead: Script,
    reclaim: Script,
}

impl Scripts {
    fn new() -> Scripts {
        let owned = |body: &str| Script::new(&format!("{MINE}{body}"));
        Scripts {
            append: Script::new(APPEND),
            claim: Script::new(CLAIM),
            complete: Script::new(COMPLETE),
            retry: owned(RETRY),
            bury: owned(BURY),
            release: owned(RELEASE),
            touch: owned(TOUCH),
            replay: Script::new(REPLAY),
            forget: Script::new(FORGET),
            quarantine: owned(QUARANTINE),
            quarantine_dead: Script::new(QUARANTINE_DEAD),
            reclaim: Script::new(RECLAIM),
        }
    }
}

/// The inbox's keys under one prefix.
#[derive(Debug)]
struct Keys {
    events: String,
    retry: String,
    dead: String,
    quarantine: String,
    group: String,
    /// `{prefix}:key:` — a remembered key's name without its hex.
    key: String,
}

impl Keys {
    fn new(prefix: &str) -> Keys {
        let tag = format!("{{{prefix}}}");
        Keys {
            events: format!("{tag}:events"),
            retry: format!("{tag}:retry"),
            dead: format!("{tag}:dead"),
            quarantine: format!("{tag}:quarantine"),
            group: format!("{tag}:workers"),
            key: format!("{tag}:key:"),
        }
    }

    fn of(&self, record: &Record) -> String {
        let mut name = String::with_capacity(self.key.len() + 34);
        name.push_str(&self.key);
        for byte in record.stored_key() {
            name.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            name.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
        }
        name
    }
}

struct Inner {
    client: Client,
    /// Every command but the blocking reads: one multiplexed connection, made again when lost.
    conn: ConnectionManager,
    /// Connections for blocking reads (a blocked read holds its connection), one per claim under way.
    blocking: Mutex<Vec<MultiplexedConnection>>,
    blocking_config: AsyncConnectionConfig,
    keys: Keys,
    consumer: String,
    claim_idle: Duration,
    scripts: Scripts,
    /// The events in this consumer's hands, and those it settled lately.
    hands: Mutex<Hands>,
    /// Whether this store ever claimed (a worker runs on it).
    claims: AtomicBool,
    /// Whether the inbox was closed.
    closed: AtomicBool,
    /// Until when claims look for this consumer's own lost deliveries (after a failed claim or read).
    recheck_until: Mutex<Option<Instant>>,
}

/// The Redis store: see the module's documentation.
pub(crate) struct RedisStore {
    inner: Arc<Inner>,
    upkeep: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("events", &self.inner.keys.events)
            .field("consumer", &self.inner.consumer)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.upkeep.abort();
    }
}

impl RedisStore {
    /// The store on Redis at `url`, its keys under `prefix`: no connection is made yet (the server need
    /// not be up). Errors on a malformed URL only.
    pub(crate) async fn connect(
        url: &str,
        prefix: &str,
        claim_idle: Duration,
    ) -> Result<RedisStore, InboxError> {
        let client = Client::open(url).map_err(|e| InboxError::new("invalid Redis URL", e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(IO_TIMEOUT))
            .set_response_timeout(Some(IO_TIMEOUT))
            // One attempt per operation: with the server down an operation fails at once, and the next
            // one tries again.
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| InboxError::new("cannot set up the Redis connection", e))?;
        let blocking_config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(IO_TIMEOUT))
            .set_response_timeout(Some(MAX_BLOCK + IO_TIMEOUT));
        let claim_idle = crate::dur::capped(claim_idle.max(Duration::from_millis(100)));
        let inner = Arc::new(Inner {
            client,
            conn,
            blocking: Mutex::new(Vec::new()),
            blocking_config,
            keys: Keys::new(prefix),
            consumer: consumer_name(),
            claim_idle,
            scripts: Scripts::new(),
            hands: Mutex::new(Hands::default()),
            claims: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            recheck_until: Mutex::new(None),
        });
        let upkeep = tokio::spawn(upkeep(Arc::downgrade(&inner)));
        Ok(RedisStore { inner, upkeep })
    }
}

/// This consumer's name: the host, the process, a random part (two inboxes of one process differ).
fn consumer_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(64)
        .collect();
    let host = if host.is_empty() {
        "host".to_owned()
    } else {
        host
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let random = RandomState::new().hash_one((nanos, N.fetch_add(1, Ordering::Relaxed)));
    format!("{host}-{}-{:08x}", std::process::id(), random as u32)
}

/// Renews the claims of the events in hand, and now and then forgets long-gone consumers; ends with
/// the store.
async fn upkeep(inner: Weak<Inner>) {
    let Some(every) = inner.upgrade().map(|i| i.claim_idle / 3) else {
        return;
    };
    let mut since_housekeeping = Duration::ZERO;
    loop {
        tokio::time::sleep(every).await;
        since_housekeeping += every;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let ids: Vec<String> = inner.hands().held.iter().cloned().collect();
        if !ids.is_empty() {
            let result = inner
                .as_consumer::<i64>("renew claims", &inner.scripts.touch, |s| {
                    s.arg(&ids);
                })
                .await;
            if let Err(error) = result {
                crate::obs::failed("renew", &error);
            }
        }
        if since_housekeeping >= HOUSEKEEPING && inner.claims.load(Ordering::Relaxed) {
            since_housekeeping = Duration::ZERO;
            let _ = inner
                .as_consumer::<i64>("forget consumers", &inner.scripts.forget, |s| {
                    s.arg(millis(FORGET_CONSUMER));
                })
                .await;
        }
    }
}

/// `d` in whole milliseconds, at most 365 days (what Redis takes as an idle time, a TTL, a delay).
fn millis(d: Duration) -> u64 {
    crate::dur::millis(d)
}

impl Inner {
    fn hands(&self) -> std::sync::MutexGuard<'_, Hands> {
        self.hands.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `op` on the shared connection within [`OP_DEADLINE`]. A refused connection (the server
    /// was down when the connection was last made) is tried once more at once: the manager makes a
    /// new connection for the second try, and nothing was sent by the first.
    async fn call<T, F, Fut>(&self, what: &'static str, mut op: F) -> Result<T, InboxError>
    where
        F: FnMut(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(InboxError::of(
                InboxErrorKind::Closed,
                "the inbox is closed",
            ));
        }
        let attempt = async {
            match op(self.conn.clone()).await {
                Err(e) if e.is_connection_refusal() => op(self.conn.clone()).await,
                other => other,
            }
        };
        let result = tokio::time::timeout(OP_DEADLINE, attempt).await;
        if !matches!(result, Ok(Ok(_))) {
            // Whatever was sent may have run without its reply: deliveries may have been lost.
            self.trouble();
        }
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if e.is_timeout() => Err(failed(what, e).kind_of(InboxErrorKind::TimedOut)),
            Ok(Err(e)) => Err(failed(what, e)),
            Err(_) => Err(InboxError::of(
                InboxErrorKind::TimedOut,
                format!(
                    "Redis did not answer within {} ms ({what})",
                    OP_DEADLINE.as_millis()
                ),
            )),
        }
    }

    /// Runs `script` (through [`call`](Self::call)) with the keys and arguments `args` gives it: its
    /// reply.
    async fn invoke<T: FromRedisValue>(
        &self,
        what: &'static str,
        script: &Script,
        args: impl Fn(&mut ScriptInvocation<'_>),
    ) -> Result<T, InboxError> {
        self.call(what, |mut c| {
            let mut invocation = script.prepare_invoke();
            args(&mut invocation);
            async move { invocation.invoke_async(&mut c).await }
        })
        .await
    }

    /// [`invoke`](Self::invoke) for a script acting as this consumer: the events' stream first among its
    /// keys, the group and this consumer first among its arguments, then what `rest` adds.
    async fn as_consumer<T: FromRedisValue>(
        &self,
        what: &'static str,
        script: &Script,
        rest: impl Fn(&mut ScriptInvocation<'_>),
    ) -> Result<T, InboxError> {
        self.invoke(what, script, |s| {
            s.key(&self.keys.events)
                .arg(&self.keys.group)
                .arg(&self.consumer);
            rest(s);
        })
        .await
    }

    /// One blocking `XREADGROUP` of up to `count` new events, for up to `block`, on a connection of its
    /// own (a blocked read holds its connection). `Ok(None)`: the group is missing (the next claim
    /// creates it).
    async fn read_blocking(
        &self,
        count: usize,
        block: Duration,
    ) -> Result<Option<Value>, InboxError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.keys.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(millis(block).max(1))
            .arg("STREAMS")
            .arg(&self.keys.events)
            .arg(">");
        let read = async {
            let pooled = self
                .blocking
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let mut conn = match pooled {
                Some(conn) => conn,
                None => self
                    .client
                    .get_multiplexed_async_connection_with_config(&self.blocking_config)
                    .await
                    .map_err(|e| failed("connect", e))?,
            };
            // A read cancelled mid-way drops its connection (closed: Redis unblocks it) rather than
            // leave a blocked read on a pooled one.
            let result = cmd.query_async::<Value>(&mut conn).await;
            // A read that timed out may still be blocked in Redis, or served later (a stall): its
            // connection is not reused.
            let healthy = match &result {
                Ok(_) => true,
                Err(e) => !e.is_io_error() && !e.is_unrecoverable_error() && !e.is_timeout(),
            };
            if healthy {
                let mut pool = self.blocking.lock().unwrap_or_else(|e| e.into_inner());
                if pool.len() < MAX_IDLE_BLOCKING {
                    pool.push(conn);
                }
            }
            match result {
                Ok(value) => Ok(Some(value)),
                Err(e) if e.code() == Some("NOGROUP") => Ok(None),
                Err(e) => Err(failed("read", e)),
            }
        };
        match tokio::time::timeout(block + OP_DEADLINE, read).await {
            Ok(result) => result,
            Err(_) => Err(InboxError::msg(format!(
                "Redis did not answer a blocking read within {} ms",
                (block + OP_DEADLINE).as_millis()
            ))),
        }
    }

    /// An operation failed: for a while, claims also look for deliveries whose reply was lost.
    fn trouble(&self) {
        *self.recheck_until.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Instant::now() + RECHECK_FOR);
    }

    /// Whether claims look for lost deliveries now.
    fn rechecking(&self) -> bool {
        let mut until = self.recheck_until.lock().unwrap_or_else(|e| e.into_inner());
        match *until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    /// Takes back this consumer's own pending entries that it does not hold, idle for longer than any
    /// read of its could still be waiting: entries Redis delivered to a read that had given up.
    /// Without this they would wait for the claim idle time.
    async fn reclaim_lost(&self, max: usize, max_attempts: u32, out: &mut Vec<Stored>) {
        let held: Vec<String> = self.hands().held.iter().cloned().collect();
        let reply: Result<Value, _> = self
            .as_consumer("reclaim", &self.scripts.reclaim, |s| {
                s.arg(max).arg(millis(LOST_AFTER)).arg(&held);
            })
            .await;
        let Ok(Value::Array(parts)) = reply else {
            return;
        };
        let counts: Vec<u32> = match parts.get(1) {
            Some(Value::Array(counts)) => counts
                .iter()
                .map(|c| match c {
                    Value::Int(n) => u32::try_from(*n).unwrap_or(u32::MAX),
                    _ => 1,
                })
                .collect(),
            _ => Vec::new(),
        };
        let taken = parts
            .first()
            .map(entries)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, (id, bytes))| (id, bytes, counts.get(i).copied().unwrap_or(1)))
            .collect();
        self.take(taken, max_attempts, out).await;
    }

    /// Decodes claimed entries (each with its delivery count): an unreadable one goes to the
    /// quarantine as it is; one handed out its most attempts without an outcome goes to the dead
    /// letters; the others are handed out, their attempts before this hand-out counted.
    async fn take(
        &self,
        entries: Vec<(String, Vec<u8>, u32)>,
        max_attempts: u32,
        out: &mut Vec<Stored>,
    ) {
        for (id, bytes, deliveries) in entries {
            match Stored::decode(EventId::text(&id), &bytes) {
                Ok(mut stored) => {
                    let before = stored.attempts.saturating_add(deliveries.saturating_sub(1));
                    if before >= max_attempts {
                        crate::obs::buried_unsettled(&id, before);
                        stored.attempts = before;
                        stored.error = Some(crate::memory::unsettled(before));
                        if let Err(e) = self.bury_raw(&id, &stored.encode()).await {
                            crate::obs::failed("bury", &e);
                        }
                        continue;
                    }
                    if self.hands().take(id) {
                        stored.attempts = before;
                        crate::obs::handed_out(&stored.id, before.saturating_add(1));
                        out.push(stored);
                    }
                }
                Err(corrupt) => {
                    let why = corrupt.to_string();
                    crate::obs::quarantined("redis", &id, "events", &why);
                    let moved = self
                        .as_consumer::<i64>("quarantine", &self.scripts.quarantine, |s| {
                            s.key(&self.keys.quarantine).arg(&id).arg(&bytes).arg(&why);
                        })
                        .await;
                    if let Err(e) = moved {
                        crate::obs::failed("quarantine", &e);
                    }
                }
            }
        }
    }

    async fn bury_raw(&self, id: &str, payload: &[u8]) -> Result<(), InboxError> {
        self.as_consumer::<i64>("bury", &self.scripts.bury, |s| {
            s.key(&self.keys.dead).arg(id).arg(payload);
        })
        .await
        .map(drop)
    }

    /// The event being settled: out of this consumer's hands once its settling is over (done, failed
    /// or cancelled) — not before, so that a claim under way meanwhile does not hand it again.
    fn settling(&self, event: &Stored, done: bool) -> Settling<'_> {
        Settling {
            inner: self,
            id: event.id.to_string(),
            done,
        }
    }
}

/// An event being settled: see [`Inner::settling`].
struct Settling<'a> {
    inner: &'a Inner,
    id: String,
    /// Completed, retried or buried: the entry leaves the stream (a release leaves it there).
    done: bool,
}

impl Drop for Settling<'_> {
    fn drop(&mut self) {
        let id = std::mem::take(&mut self.id);
        self.inner.hands().settle(id, self.done);
    }
}

/// How long a settled event's ID is remembered: longer than a claim takes (its script may have read
/// the entry just before the settling removed it, its reply read just after).
const SETTLED_MEMORY: Duration = Duration::from_secs(5);

/// The events in a consumer's hands (their claims renewed), and those it settled lately (a claim that
/// read one of them before it left the stream does not hand it again).
#[derive(Debug, Default)]
struct Hands {
    held: HashSet<String>,
    settled: HashSet<String>,
    settled_order: VecDeque<(Instant, String)>,
}

impl Hands {
    /// Takes a claimed entry: false when it is already in hand or was settled lately.
    fn take(&mut self, id: String) -> bool {
        self.forget(Instant::now());
        !self.settled.contains(&id) && self.held.insert(id)
    }

    fn settle(&mut self, id: String, done: bool) {
        let now = Instant::now();
        self.forget(now);
        self.held.remove(&id);
        if done && self.settled.insert(id.clone()) {
            self.settled_order.push_back((now, id));
        }
    }

    fn forget(&mut self, now: Instant) {
        while let Some((at, _)) = self.settled_order.front() {
            if now.duration_since(*at) < SETTLED_MEMORY {
                break;
            }
            if let Some((_, id)) = self.settled_order.pop_front() {
                self.settled.remove(&id);
            }
        }
    }
}

/// `event` encoded with its failed attempt counted and `error` noted: what a retry or a burial stores.
fn failed_attempt(event: &Stored, error: &str) -> Vec<u8> {
    Stored {
        id: event.id.clone(),
        record: event.record.clone(),
        attempts: event.attempts + 1,
        error: Some(error.to_owned()),
    }
    .encode()
}

fn failed(what: &'static str, e: RedisError) -> InboxError {
    InboxError::new(format!("Redis failed ({what})"), e)
}

/// The bytes of a bulk or simple string.
fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn text(value: &Value) -> Option<String> {
    bytes(value).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// A stream entry `[id, [field, value, ...]]`: its ID and its field `d` (empty when missing).
fn entry(value: &Value) -> Option<(String, Vec<u8>)> {
    let Value::Array(parts) = value else {
        return None;
    };
    let id = text(parts.first()?)?;
    let payload = match parts.get(1) {
        Some(Value::Array(fields)) => fields
            .chunks(2)
            .find(|kv| bytes(&kv[0]) == Some(FIELD.as_bytes()))
            .and_then(|kv| kv.get(1))
            .and_then(bytes)
            .map(<[u8]>::to_vec),
        Some(Value::Map(fields)) => fields
            .iter()
            .find(|(k, _)| bytes(k) == Some(FIELD.as_bytes()))
            .and_then(|(_, v)| bytes(v))
            .map(<[u8]>::to_vec),
        _ => None,
    };
    Some((id, payload.unwrap_or_default()))
}

/// The quarantined entries of an `XRANGE` reply: each one's fields `d`, `from` and `why`.
fn quarantine_entries(value: &Value) -> Vec<Quarantined> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Array(parts) = item else { continue };
        let Some(id) = parts.first().and_then(text) else {
            continue;
        };
        let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        match parts.get(1) {
            Some(Value::Array(kv)) => {
                for pair in kv.chunks(2) {
                    if let (Some(k), Some(v)) =
                        (pair.first().and_then(bytes), pair.get(1).and_then(bytes))
                    {
                        fields.push((k.to_vec(), v.to_vec()));
                    }
                }
            }
            Some(Value::Map(kv)) => {
                for (k, v) in kv {
                    if let (Some(k), Some(v)) = (bytes(k), bytes(v)) {
                        fields.push((k.to_vec(), v.to_vec()));
                    }
                }
            }
            _ => {}
        }
        let field = |name: &[u8]| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        out.push(Quarantined {
            id: EventId::text(&id),
            from: if field(b"from") == b"dead" {
                "dead"
            } else {
                "events"
            },
            reason: String::from_utf8_lossy(&field(b"why")).into_owned(),
            bytes: bytes::Bytes::from(field(FIELD.as_bytes())),
        });
    }
    out
}

/// The entries of an array of stream entries.
fn entries(value: &Value) -> Vec<(String, Vec<u8>)> {
    match value {
        Value::Array(items) => items.iter().filter_map(entry).collect(),
        _ => Vec::new(),
    }
}

/// The entries of an `XREADGROUP` reply (one stream): `[[stream, entries]]`, or a map in RESP3.
fn read_entries(value: &Value) -> Vec<(String, Vec<u8>)> {
    match value {
        Value::Array(streams) => streams
            .iter()
            .filter_map(|s| match s {
                Value::Array(pair) => pair.get(1).map(entries),
                _ => None,
            })
            .flatten()
            .collect(),
        Value::Map(streams) => streams.iter().flat_map(|(_, v)| entries(v)).collect(),
        _ => Vec::new(),
    }
}

/// `ms-seq`, as Redis prints a full stream ID.
fn is_stream_id(id: &str) -> bool {
    let mut parts = id.splitn(2, '-');
    let digits = |s: Option<&str>| {
        s.is_some_and(|s| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
    };
    digits(parts.next()) && digits(parts.next())
}

impl Backend for RedisStore {
    fn append(&self, record: Record) -> BoxFuture<'_, Result<Appended, InboxError>> {
        let inner = &*self.inner;
        let dedup = record
            .dedup_ttl
            .map(|ttl| (inner.keys.of(&record), millis(ttl).max(1)));
        let max_pending = record.max_pending.unwrap_or(u64::MAX);
        let payload = Stored {
            id: EventId::seq(0),
            record,
            attempts: 0,
            error: None,
        }
        .encode();
        Box::pin(async move {
            let reply: Value = inner
                .invoke("append", &inner.scripts.append, |s| {
                    s.key(&inner.keys.events)
                        .key(&inner.keys.retry)
                        .arg(&payload)
                        .arg(max_pending);
                    if let Some((key, ttl)) = &dedup {
                        s.key(key).arg(*ttl);
                    }
                })
                .await?;
            match &reply {
                Value::Nil => Ok(Appended::Duplicate),
                Value::Int(0) => Ok(Appended::Full),
                other => match text(other) {
                    Some(id) => Ok(Appended::Stored(EventId::text(&id))),
                    None => Err(InboxError::msg(format!(
                        "Redis answered the append with {other:?}"
                    ))),
                },
            }
        })
    }

    fn claim(
        &self,
        max: usize,
        _ordered: bool,
        wait: Duration,
        max_attempts: u32,
    ) -> BoxFuture<'_, Result<Vec<Stored>, InboxError>> {
        let inner = &*self.inner;
        inner.claims.store(true, Ordering::Relaxed);
        let max = max.max(1);
        Box::pin(async move {
            let mut out = Vec::new();
            if inner.rechecking() {
                inner.reclaim_lost(max, max_attempts, &mut out).await;
            }
            let reply: Value = match inner
                .as_consumer("claim", &inner.scripts.claim, |s| {
                    s.key(&inner.keys.retry)
                        .arg(max)
                        .arg(millis(inner.claim_idle))
                        .arg(PROMOTE);
                })
                .await
            {
                Ok(reply) => reply,
                Err(e) => {
                    inner.trouble();
                    return if out.is_empty() { Err(e) } else { Ok(out) };
                }
            };
            let mut taken = Vec::new();
            let mut next_due = None;
            if let Value::Array(parts) = &reply {
                if let (Some(claimed), Some(read)) = (parts.first(), parts.get(1)) {
                    let counts: Vec<u32> = match parts.get(3) {
                        Some(Value::Array(counts)) => counts
                            .iter()
                            .map(|c| match c {
                                Value::Int(n) => u32::try_from(*n).unwrap_or(u32::MAX),
                                _ => 1,
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    // Taken over: as often delivered as Redis counted; read anew: once.
                    taken = entries(claimed)
                        .into_iter()
                        .enumerate()
                        .map(|(i, (id, bytes))| (id, bytes, counts.get(i).copied().unwrap_or(1)))
                        .collect();
                    taken.extend(entries(read).into_iter().map(|(id, bytes)| (id, bytes, 1)));
                }
                if let Some(Value::Int(ms)) = parts.get(2) {
                    next_due = u64::try_from(*ms).ok().map(Duration::from_millis);
                }
            }
            inner.take(taken, max_attempts, &mut out).await;
            if !out.is_empty() || wait.is_zero() {
                return Ok(out);
            }
            let mut block = wait.min(MAX_BLOCK);
            if let Some(due) = next_due {
                block = block.min(due);
            }
            if block < Duration::from_millis(1) {
                return Ok(out);
            }
            let read = inner.read_blocking(max, block).await;
            if read.is_err() {
                inner.trouble();
            }
            if let Some(reply) = read? {
                let read = read_entries(&reply)
                    .into_iter()
                    .map(|(id, bytes)| (id, bytes, 1))
                    .collect();
                inner.take(read, max_attempts, &mut out).await;
            }
            Ok(out)
        })
    }

    fn complete(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>> {
        let inner = &*self.inner;
        let settling = inner.settling(event, true);
        Box::pin(async move {
            inner
                .invoke::<i64>("complete", &inner.scripts.complete, |s| {
                    s.key(&inner.keys.events)
                        .arg(&inner.keys.group)
                        .arg(&settling.id);
                })
                .await
                .map(drop)
        })
    }

    fn retry(
        &self,
        event: &Stored,
        delay: Duration,
        error: &str,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        let inner = &*self.inner;
        let settling = inner.settling(event, true);
        let payload = failed_attempt(event, error);
        Box::pin(async move {
            inner
                .as_consumer::<i64>("retry", &inner.scripts.retry, |s| {
                    s.key(&inner.keys.retry)
                        .arg(&settling.id)
                        .arg(millis(delay))
                        .arg(&payload);
                })
                .await
                .map(drop)
        })
    }

    fn bury(&self, event: &Stored, error: &str) -> BoxFuture<'_, Result<(), InboxError>> {
        let inner = &*self.inner;
        let settling = inner.settling(event, true);
        let payload = failed_attempt(event, error);
        Box::pin(async move { inner.bury_raw(&settling.id, &payload).await })
    }

    fn release(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>> {
        let inner = &*self.inner;
        let settling = inner.settling(event, false);
        Box::pin(async move {
            inner
                .as_consumer::<i64>("release", &inner.scripts.release, |s| {
                    s.arg(&settling.id).arg(RELEASED_IDLE_MS);
                })
                .await
                .map(drop)
        })
    }

    fn dead_letters(&self, max: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, InboxError>> {
        let inner = &*self.inner;
        Box::pin(async move {
            if max == 0 {
                return Ok(Vec::new());
            }
            let reply: Value = inner
                .call("dead letters", |mut c| async move {
                    redis::cmd("XRANGE")
                        .arg(&inner.keys.dead)
                        .arg("-")
                        .arg("+")
                        .arg("COUNT")
                        .arg(max)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            let mut out = Vec::new();
            for (id, bytes) in entries(&reply) {
                match Stored::decode(EventId::text(&id), &bytes) {
                    Ok(stored) => out.push(DeadLetter {
                        error: stored.error.clone().unwrap_or_default(),
                        event: InboxEvent { stored },
                    }),
                    Err(corrupt) => {
                        // Unreadable: kept aside in the quarantine, not listed.
                        let why = corrupt.to_string();
                        crate::obs::quarantined("redis", &id, "dead", &why);
                        let moved = inner
                            .invoke::<i64>("quarantine", &inner.scripts.quarantine_dead, |s| {
                                s.key(&inner.keys.dead)
                                    .key(&inner.keys.quarantine)
                                    .arg(&id)
                                    .arg(&bytes)
                                    .arg(&why);
                            })
                            .await;
                        if let Err(e) = moved {
                            crate::obs::failed("quarantine", &e);
                        }
                    }
                }
            }
            Ok(out)
        })
    }

    fn replay(&self, id: &EventId) -> BoxFuture<'_, Result<Option<EventId>, InboxError>> {
        let inner = &*self.inner;
        let id = id.to_string();
        Box::pin(async move {
            if !is_stream_id(&id) {
                return Ok(None);
            }
            let id = &id;
            let reply: Value = inner
                .call("replay", |mut c| async move {
                    redis::cmd("XRANGE")
                        .arg(&inner.keys.dead)
                        .arg(id)
                        .arg(id)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            let Some((_, bytes)) = entries(&reply).into_iter().next() else {
                return Ok(None);
            };
            let mut stored = Stored::decode(EventId::text(id), &bytes)
                .map_err(|e| InboxError::new("cannot replay the dead letter", e))?;
            stored.attempts = 0;
            stored.error = None;
            let payload = stored.encode();
            let new: Option<String> = inner
                .invoke("replay", &inner.scripts.replay, |s| {
                    s.key(&inner.keys.dead)
                        .key(&inner.keys.events)
                        .arg(id)
                        .arg(&payload);
                })
                .await?;
            Ok(new.map(|new| EventId::text(&new)))
        })
    }

    fn depth(&self) -> BoxFuture<'_, Result<Depth, InboxError>> {
        let inner = &*self.inner;
        Box::pin(async move {
            let (events, retry, dead, quarantined): (u64, u64, u64, u64) = inner
                .call("depth", |mut c| async move {
                    redis::pipe()
                        .cmd("XLEN")
                        .arg(&inner.keys.events)
                        .cmd("ZCARD")
                        .arg(&inner.keys.retry)
                        .cmd("XLEN")
                        .arg(&inner.keys.dead)
                        .cmd("XLEN")
                        .arg(&inner.keys.quarantine)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            Ok(Depth {
                pending: events + retry,
                dead,
                quarantined,
            })
        })
    }

    fn quarantined(&self, max: usize) -> BoxFuture<'_, Result<Vec<Quarantined>, InboxError>> {
        let inner = &*self.inner;
        Box::pin(async move {
            if max == 0 {
                return Ok(Vec::new());
            }
            let reply: Value = inner
                .call("quarantine", |mut c| async move {
                    redis::cmd("XRANGE")
                        .arg(&inner.keys.quarantine)
                        .arg("-")
                        .arg("+")
                        .arg("COUNT")
                        .arg(max)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            Ok(quarantine_entries(&reply))
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), InboxError>> {
        self.inner.closed.store(true, Ordering::Release);
        self.upkeep.abort();
        Box::pin(async { Ok(()) })
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_a_malformed_url_fails_to_connect() {
        // Nothing listens on port 1: made all the same (lazily), it fails when used, promptly.
        let store = RedisStore::connect("redis://127.0.0.1:1/", "t", DEFAULT_CLAIM_IDLE)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        assert!(store.depth().await.is_err());
        assert!(started.elapsed() < OP_DEADLINE + Duration::from_millis(500));
        for url in [
            "redis+unix:///nowhere/redis.sock",
            "unix:///nowhere/redis.sock",
        ] {
            assert!(
                RedisStore::connect(url, "t", DEFAULT_CLAIM_IDLE)
                    .await
                    .is_ok(),
                "{url}"
            );
        }
        for url in ["not a url", "http://127.0.0.1/"] {
            let err = RedisStore::connect(url, "t", DEFAULT_CLAIM_IDLE)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("invalid Redis URL"), "{err}");
        }
        // TLS needs a TLS feature of the redis crate, which this crate does not turn on.
        let err = RedisStore::connect("rediss://127.0.0.1:1/", "t", DEFAULT_CLAIM_IDLE)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("TLS"), "{err}");
    }

    #[test]
    fn keys_share_one_hash_tag() {
        let keys = Keys::new("app");
        assert_eq!(keys.events, "{app}:events");
        assert_eq!(keys.retry, "{app}:retry");
        assert_eq!(keys.dead, "{app}:dead");
        assert_eq!(keys.group, "{app}:workers");
        assert!(keys.key.starts_with("{app}:key:"));
    }

    #[test]
    fn only_full_stream_ids_are_replayed() {
        assert!(is_stream_id("1700000000000-0"));
        assert!(is_stream_id("0-1"));
        for id in [
            "42",
            "-",
            "+",
            "1-",
            "-1",
            "1-2-3",
            "a-1",
            "1700000000000-0 ",
        ] {
            assert!(!is_stream_id(id), "{id:?}");
        }
    }

    #[test]
    fn a_settled_event_is_not_taken_again_a_released_one_is() {
        let mut hands = Hands::default();
        assert!(hands.take("1-0".into()));
        assert!(!hands.take("1-0".into()), "already in hand");
        hands.settle("1-0".into(), true);
        assert!(hands.held.is_empty());
        assert!(!hands.take("1-0".into()), "settled lately");
        assert!(hands.take("2-0".into()));
        hands.settle("2-0".into(), false);
        assert!(hands.take("2-0".into()), "released: taken again");
        hands.forget(Instant::now() + SETTLED_MEMORY);
        assert!(hands.settled.is_empty() && hands.settled_order.is_empty());
    }

    #[test]
    fn consumer_names_differ() {
        let (a, b) = (consumer_name(), consumer_name());
        assert_ne!(a, b);
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }

    #[test]
    fn entries_are_read_from_arrays_and_maps() {
        let e = |id: &str, v: &str| {
            Value::Array(vec![
                Value::BulkString(id.into()),
                Value::Array(vec![
                    Value::BulkString(b"d".to_vec()),
                    Value::BulkString(v.into()),
                ]),
            ])
        };
        let resp2 = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"s".to_vec()),
            Value::Array(vec![e("1-0", "x"), e("2-0", "y")]),
        ])]);
        let resp3 = Value::Map(vec![(
            Value::BulkString(b"s".to_vec()),
            Value::Array(vec![e("1-0", "x")]),
        )]);
        assert_eq!(
            read_entries(&resp2),
            [
                ("1-0".to_owned(), b"x".to_vec()),
                ("2-0".to_owned(), b"y".to_vec())
            ]
        );
        assert_eq!(read_entries(&resp3), [("1-0".to_owned(), b"x".to_vec())]);
        assert!(read_entries(&Value::Nil).is_empty());
    }
}
