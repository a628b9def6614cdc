//! What the inbox reports: failures through `tracing` (rate-limited, so that a store that fails on every
//! callback cannot flood the logs) and the depth gauge through `metrics` (feature `metrics`).

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The `tracing` target of every event the inbox emits.
const TARGET: &str = "tencent_room_callback_inbox";

/// Longest error text kept in an event, in bytes.
const MAX_TEXT: usize = 512;

/// At most this many failure events a second; the ones past it are counted and reported with the next
/// admitted one.
const PER_SECOND: u64 = 20;

/// The second the window is in (high 32 bits) and the events admitted in it (low 32 bits).
static WINDOW: AtomicU64 = AtomicU64::new(0);
/// Events suppressed since the last admitted one.
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// Whether one more failure event may be written now; when it may, how many were suppressed before it.
fn admit() -> Option<u64> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        & 0xffff_ffff;
    let mut current = WINDOW.load(Ordering::Relaxed);
    loop {
        let (second, count) = (current >> 32, current & 0xffff_ffff);
        let next = if second == now {
            if count >= PER_SECOND {
                SUPPRESSED.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            current + 1
        } else {
            (now << 32) | 1
        };
        match WINDOW.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Some(SUPPRESSED.swap(0, Ordering::Relaxed)),
            Err(seen) => current = seen,
        }
    }
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

/// Sets the inbox-depth gauge (feature `metrics`; nothing without it).
pub(crate) fn depth(backend: &'static str, depth: u64) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(INBOX_DEPTH, "backend" => backend).set(depth as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = (backend, depth);
}
