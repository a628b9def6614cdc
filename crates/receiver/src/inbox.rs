//! The receiver's inbox: `ROOM_CALLBACK_INBOX=DIR` (embedded, synced to disk before each OK) or
//! `ROOM_CALLBACK_REDIS=redis://HOST:PORT` (shared by every receiver on that Redis), with a worker in
//! this process; `ROOM_CALLBACK_WORK_MS` and `ROOM_CALLBACK_WORKERS` shape the worker.

use std::time::Duration;

use tencent_room_callback_inbox::Inbox;

pub(crate) const INBOX: &str = "ROOM_CALLBACK_INBOX";
pub(crate) const REDIS: &str = "ROOM_CALLBACK_REDIS";
pub(crate) const WORK_MS: &str = "ROOM_CALLBACK_WORK_MS";
pub(crate) const WORKERS: &str = "ROOM_CALLBACK_WORKERS";

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
    match var(name)? {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name} is not a whole number of the right size: {v:?}")),
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
    if store.is_none() && std::env::var_os(WORKERS).is_some() {
        return Err(format!(
            "{WORKERS} is set without an inbox ({INBOX} or {REDIS}): there is no worker"
        ));
    }
    Ok(Settings {
        store,
        work,
        workers: usize::try_from(workers).unwrap_or(usize::MAX),
    })
}

/// Opens the inbox the settings name (de-duplication on, 24 h).
pub(crate) async fn open(store: &Store) -> Result<Inbox, String> {
    match store {
        Store::Embedded(dir) => Inbox::open(dir).map_err(|e| format!("{INBOX}: {dir}: {e}")),
        Store::Redis(url) => Inbox::builder()
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
