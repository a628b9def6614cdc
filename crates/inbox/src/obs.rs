//! What the inbox reports: failures through `tracing` (rate-limited, so that a store that fails on every
//! callback cannot flood the logs) and the depth gauge through `metrics` (feature `metrics`).

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The `tracing` target of every event the inbox emits.
const TARGET: &str = "tencent_room_callback_inbox";

/// Longest error text kept in an event, in bytes.
const MAX_TEXT: usize = 512;

/// At most this many events a second of one kind (failures, refused callbacks); the ones past it are
/// counted and reported with the next admitted one.
const PER_SECOND: u64 = 20;

/// A rate limit: the second the window is in (high 32 bits) and the events admitted in it (low 32
/// bits), and the events suppressed since the last admitted one.
struct Limiter {
    window: AtomicU64,
    suppressed: AtomicU64,
}

impl Limiter {
    const fn new() -> Self {
        Limiter {
            window: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether one more event may be written now; when it may, how many were suppressed before it.
    fn admit(&self) -> Option<u64> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            & 0xffff_ffff;
        let mut current = self.window.load(Ordering::Relaxed);
        loop {
            let (second, count) = (current >> 32, current & 0xffff_ffff);
            let next = if second == now {
                if count >= PER_SECOND {
                    self.suppressed.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                current + 1
            } else {
                (now << 32) | 1
            };
            match self.window.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(self.suppressed.swap(0, Ordering::Relaxed)),
                Err(seen) => current = seen,
            }
        }
    }
}

/// The store's failures and the handlers' failures.
static FAILURES: Limiter = Limiter::new();
/// The callbacks refused with their bodies.
static REFUSED: Limiter = Limiter::new();
/// The records quarantined.
static QUARANTINED: Limiter = Limiter::new();

fn admit() -> Option<u64> {
    FAILURES.admit()
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub(crate) fn fitting(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An operation of the store failed (`what`: append, claim, settle, release, renew...).
pub(crate) fn failed(what: &'static str, error: &dyn Display) {
    if !tracing::enabled!(target: TARGET, tracing::Level::ERROR) {
        return;
    }
    if let Some(suppressed) = admit() {
        let text = error.to_string();
        tracing::error!(
            target: TARGET,
            what,
            error = fitting(&text, MAX_TEXT),
            suppressed,
            "callback inbox failed"
        );
    }
}

/// A worker's handler failed on a stored event (it is retried or buried).
pub(crate) fn handler_failed(command: &str, id: &dyn Display, attempt: u32, error: &str) {
    if !tracing::enabled!(target: TARGET, tracing::Level::WARN) {
        return;
    }
    if let Some(suppressed) = admit() {
        tracing::warn!(
            target: TARGET,
            command = fitting(command, 128),
            id = %id,
            attempt,
            error = fitting(error, MAX_TEXT),
            suppressed,
            "inbox worker's handler failed"
        );
    }
}

/// The name of the inbox-depth gauge (feature `metrics`), label `backend`.
#[cfg(feature = "metrics")]
pub const INBOX_DEPTH: &str = "tencent_room_callback_inbox_depth";

/// The name of the counter of callbacks the inbox refused with a 503 (feature `metrics`), labels
/// `backend` and `reason` ([`InboxErrorKind::as_str`](crate::InboxErrorKind::as_str): `storage`,
/// `timeout`, `full`, `closed`). Each one is also logged at ERROR with its body, to replay it.
#[cfg(feature = "metrics")]
pub const INBOX_REFUSED: &str = "tencent_room_callback_inbox_refused_total";

/// The name of the counter of stored records found unreadable and kept aside (feature `metrics`),
/// label `backend`.
#[cfg(feature = "metrics")]
pub const INBOX_QUARANTINED: &str = "tencent_room_callback_inbox_quarantined_total";

/// The name of the counter of the embedded store's reopenings after an I/O error (feature `metrics`).
#[cfg(feature = "metrics")]
pub const INBOX_REOPENED: &str = "tencent_room_callback_inbox_reopened_total";

/// The longest body logged with a refused callback, in bytes (the layer's own limit is usually lower).
const MAX_LOGGED_BODY: usize = 64 * 1024;

/// A callback was refused (503) because the store failed, timed out or is full: logged at ERROR with
/// its raw body so that it can be replayed (rate-limited), and counted.
pub(crate) fn refused(
    backend: &'static str,
    reason: &'static str,
    app: u64,
    command: &str,
    body: &[u8],
    error: &dyn Display,
) {
    #[cfg(feature = "metrics")]
    metrics::counter!(INBOX_REFUSED, "backend" => backend, "reason" => reason).increment(1);
    if !tracing::enabled!(target: TARGET, tracing::Level::ERROR) {
        return;
    }
    if let Some(suppressed) = REFUSED.admit() {
        let text = error.to_string();
        let body = String::from_utf8_lossy(&body[..body.len().min(MAX_LOGGED_BODY)]);
        tracing::error!(
            target: TARGET,
            backend,
            reason,
            sdk_app_id = app,
            command = fitting(command, 128),
            error = fitting(&text, MAX_TEXT),
            body = %body.escape_debug(),
            suppressed,
            "callback refused (503): not stored; replay it from this body"
        );
    }
}

/// A stored record could not be read: kept aside, never handed to a worker.
pub(crate) fn quarantined(backend: &'static str, id: &dyn Display, from: &str, reason: &str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(INBOX_QUARANTINED, "backend" => backend).increment(1);
    if !tracing::enabled!(target: TARGET, tracing::Level::ERROR) {
        return;
    }
    if let Some(suppressed) = QUARANTINED.admit() {
        tracing::error!(
            target: TARGET,
            backend,
            id = %id,
            from,
            reason = fitting(reason, MAX_TEXT),
            suppressed,
            "a stored record is unreadable: kept aside in the quarantine (Inbox::quarantined lists it)"
        );
    }
}

/// The embedded store failed and is being reopened.
pub(crate) fn recovering(error: &dyn Display) {
    if let Some(suppressed) = admit() {
        let text = error.to_string();
        tracing::error!(
            target: TARGET,
            error = fitting(&text, MAX_TEXT),
            suppressed,
            "callback inbox store failed: reopening it (callbacks are answered 503 meanwhile)"
        );
    }
}

/// The embedded store was reopened after a failure.
pub(crate) fn reopened(pending: u64) {
    #[cfg(feature = "metrics")]
    metrics::counter!(INBOX_REOPENED).increment(1);
    tracing::warn!(
        target: TARGET,
        pending,
        "callback inbox store reopened after a failure: serving again"
    );
}

/// An event was handed to a worker's handler.
pub(crate) fn handed_out(id: &dyn Display, attempt: u32) {
    tracing::debug!(target: TARGET, id = %id, attempt, "inbox event handed out");
}

/// An event was handed out too many times without an outcome: buried.
pub(crate) fn buried_unsettled(id: &dyn Display, attempts: u32) {
    if let Some(suppressed) = admit() {
        tracing::error!(
            target: TARGET,
            id = %id,
            attempts,
            suppressed,
            "inbox event handed out its most attempts without an outcome (its handler hung, or the \
             process stopped under it): now a dead letter"
        );
    }
}

/// Sets the inbox-depth gauge (feature `metrics`; nothing without it).
pub(crate) fn depth(backend: &'static str, depth: u64) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(INBOX_DEPTH, "backend" => backend).set(depth as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = (backend, depth);
}
