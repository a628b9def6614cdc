//! The receiver's inbox: `ROOM_CALLBACK_INBOX=DIR` (embedded, synced to disk before each OK) or
//! `ROOM_CALLBACK_REDIS=redis://HOST:PORT` (shared by every receiver on that Redis), with a worker in
//! this process; `ROOM_CALLBACK_MAX_PENDING` bounds it; `ROOM_CALLBACK_WORK_MS`,
//! `ROOM_CALLBACK_WORKERS`, `ROOM_CALLBACK_HANDLER_TIMEOUT_MS` and `ROOM_CALLBACK_MAX_ATTEMPTS` shape
//! the worker.
//!
//! - `ROOM_CALLBACK_MAX_PENDING=N`: the most events the inbox holds (waiting, or in the worker's
//!   hands; embedded or Redis, counted where the event is stored). Beyond it a callback is answered 503
//!   with a FAIL acknowledgment until the worker catches up. Default 100,000.
//! - `ROOM_CALLBACK_HANDLER_TIMEOUT_MS`: how long the worker's handler may take on one event before it
//!   is cancelled and the attempt counts as failed (default 30000).
//! - `ROOM_CALLBACK_MAX_ATTEMPTS`: attempts before an event becomes a dead letter (default 8). An
//!   attempt is counted when the event is handed to the handler: an event whose handling kills the
//!   process is a dead letter after this many starts.
//!
//! Each is a whole decimal number, not zero; set but empty, zero or malformed, the receiver stops
//! before it listens (exit code 2, one line naming the variable), as for the other variables; so does
//! setting one of them without an inbox.
//!
//! A storage failure answers 503 (FAIL) and logs the refused callback's body at ERROR (target
//! `tencent_room_callback_inbox`), so that it can be replayed; the inbox recovers by itself once the
//! store does. An inbox file that is damaged (cut short, unreadable) stops the receiver at start with
//! one line naming `ROOM_CALLBACK_INBOX` as given and saying what to do.

use std::time::Duration;

use tencent_room_callback_inbox::{Inbox, InboxHandler, Worker};

pub(crate) const INBOX: &str = "ROOM_CALLBACK_INBOX";
pub(crate) const REDIS: &str = "ROOM_CALLBACK_REDIS";
pub(crate) const WORK_MS: &str = "ROOM_CALLBACK_WORK_MS";
pub(crate) const WORKERS: &str = "ROOM_CALLBACK_WORKERS";
pub(crate) const MAX_PENDING: &str = "ROOM_CALLBACK_MAX_PENDING";
pub(crate) const HANDLER_TIMEOUT_MS: &str = "ROOM_CALLBACK_HANDLER_TIMEOUT_MS";
pub(crate) const MAX_ATTEMPTS: &str = "ROOM_CALLBACK_MAX_ATTEMPTS";

/// The most events the worker handles at once, by default.
const DEFAULT_WORKERS: usize = 32;

/// Where the inbox is.
pub(crate) enum Store {
    Embedded(String),
    Redis(String),
}

/// What the environment asks of the inbox and the handler.
pub(crate) struct Settings {
    /// `None`: no inbox, every callback handled before its answer (as without this module).
    pub(crate) store: Option<Store>,
    /// The handler's simulated work per event.
    pub(crate) work: Duration,
    /// The worker's concurrency.
    pub(crate) workers: usize,
    /// The inbox's pending bound (`None`: the library's default).
    pub(crate) max_pending: Option<u64>,
    /// The worker's handler timeout (`None`: the library's default).
    pub(crate) handler_timeout: Option<Duration>,
    /// The worker's attempts (`None`: the library's default).
    pub(crate) max_attempts: Option<u32>,
}

/// A variable's value: `None` when unset; an error naming it when set but empty, padded or not
/// Unicode.
fn var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Err(format!("{name} is set but empty")),
        Ok(v) if v.trim() != v => Err(format!("{name} starts or ends with white space")),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid Unicode")),
    }
}

fn number(name: &str, default: u64) -> Result<u64, String> {
    Ok(optional(name)?.unwrap_or(default))
}

/// A whole decimal number when set (digits only), `None` when unset.
fn optional(name: &str) -> Result<Option<u64>, String> {
    match var(name)? {
        None => Ok(None),
        Some(v) if !v.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("{name} is not a whole decimal number: {v:?}"))
        }
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{name} is not a whole number of the right size: {v:?}")),
    }
}

/// [`optional`], and not zero.
fn positive(name: &str, what: &str) -> Result<Option<u64>, String> {
    match optional(name)? {
        Some(0) => Err(format!("{name} is 0: {what} is at least 1")),
        n => Ok(n),
    }
}

pub(crate) fn settings() -> Result<Settings, String> {
    let store = match (var(INBOX)?, var(REDIS)?) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{INBOX} and {REDIS} are both set: choose one inbox"
            ))
        }
        (Some(dir), None) => Some(Store::Embedded(dir)),
        (None, Some(url)) => {
            if !url.starts_with("redis://")
                && !url.starts_with("redis+unix://")
                && !url.starts_with("unix://")
            {
                return Err(format!(
                    "{REDIS} is not a Redis URL (redis://HOST:PORT, redis+unix:///PATH): {url:?}"
                ));
            }
            Some(Store::Redis(url))
        }
        (None, None) => None,
    };
    let work = Duration::from_millis(number(WORK_MS, 0)?);
    let workers = number(WORKERS, DEFAULT_WORKERS as u64)?;
    if workers == 0 {
        return Err(format!("{WORKERS} is 0: the worker needs at least 1"));
    }
    let max_pending = positive(MAX_PENDING, "the inbox's bound")?;
    let handler_timeout =
        positive(HANDLER_TIMEOUT_MS, "the handler's time")?.map(Duration::from_millis);
    let max_attempts = positive(MAX_ATTEMPTS, "the number of attempts")?
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    if store.is_none() {
        for name in [WORKERS, MAX_PENDING, HANDLER_TIMEOUT_MS, MAX_ATTEMPTS] {
            if std::env::var_os(name).is_some() {
                return Err(format!(
                    "{name} is set without an inbox ({INBOX} or {REDIS}): there is no worker"
                ));
            }
        }
    }
    Ok(Settings {
        store,
        work,
        workers: usize::try_from(workers).unwrap_or(usize::MAX),
        max_pending,
        handler_timeout,
        max_attempts,
    })
}

impl Settings {
    /// The worker, shaped as the settings say: its concurrency, handler timeout and attempts.
    pub(crate) fn shape<H: InboxHandler>(&self, worker: Worker<H>) -> Worker<H> {
        let mut worker = worker.concurrency(self.workers);
        if let Some(timeout) = self.handler_timeout {
            worker = worker.handler_timeout(timeout);
        }
        if let Some(attempts) = self.max_attempts {
            worker = worker.max_attempts(attempts);
        }
        worker
    }
}

/// Opens the inbox the settings name (de-duplication on, 24 h; the pending bound of
/// `ROOM_CALLBACK_MAX_PENDING`). The embedded store is opened on the blocking pool (it reads its file).
pub(crate) async fn open(store: &Store, settings: &Settings) -> Result<Inbox, String> {
    let mut builder = Inbox::builder();
    if let Some(max) = settings.max_pending {
        builder = builder.max_pending(max);
    }
    match store {
        Store::Embedded(dir) => {
            let path = dir.clone();
            tokio::task::spawn_blocking(move || builder.open(&path))
                .await
                .map_err(|e| format!("{INBOX}: {dir}: cannot open the inbox: {e}"))?
                .map_err(|e| format!("{INBOX}: {dir}: {e}"))
        }
        Store::Redis(url) => builder
            .redis(url)
            .await
            .map_err(|e| format!("{REDIS}: {e}")),
    }
}

impl Store {
    /// For the startup log (a Redis URL without its password).
    pub(crate) fn describe(&self) -> String {
        match self {
            Store::Embedded(dir) => format!("embedded in {dir}"),
            Store::Redis(url) => match url.split_once('@') {
                Some((scheme_user, host)) => {
                    let scheme = scheme_user.split("://").next().unwrap_or("redis");
                    format!("redis {scheme}://***@{host}")
                }
                None => format!("redis {url}"),
            },
        }
    }
}
