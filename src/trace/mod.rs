//! One `tracing` event per intercepted request (feature `tracing`): command, room, outcome, reason.
//! Never a token, a signature or the query; a malformed-body reason is serde's message, which may quote
//! the offending value. Without the feature every function here is empty.
//!
//! Logs a sender cannot inflate:
//! - every field is length-capped ([`cap()`]): the command and the room at 128 bytes, the note, the
//!   handler's error and the panic message at 256, the reason at 320 (it is at most 259: its detail is
//!   already cut), each cut on a character boundary and marked "…";
//! - the WARN and ERROR events a sender can cause at will (refusals, handler errors, panics, decisions
//!   answered by the fallback) are rate-limited per kind, 50 at once then 10 a second ([`limit`]), and
//!   what was suppressed is counted in a "callback events suppressed" event;
//! - an accepted callback's event is at DEBUG, as tower-http's `TraceLayer` logs a request that went
//!   well: a signed URL replayed in its window writes nothing at INFO.

#![cfg_attr(not(feature = "tracing"), allow(unused_variables))]

use std::fmt::Display;

use crate::reject::Rejection;

#[cfg(feature = "tracing")]
mod cap;
#[cfg(feature = "tracing")]
mod limit;

#[cfg(feature = "tracing")]
use self::cap::{cap, Capped, MAX_NAME, MAX_REASON, MAX_TEXT};
#[cfg(feature = "tracing")]
use self::limit::Kind;

/// The target of every event of the crate.
#[cfg(feature = "tracing")]
const TARGET: &str = "tencent_room_callback";

/// The room of a delivered event, kept for the trace only when the `tracing` feature is on (already cut
/// as logged).
#[cfg(feature = "tracing")]
pub(crate) type Room = Option<String>;
/// The room of a delivered event, kept for the trace only when the `tracing` feature is on.
#[cfg(not(feature = "tracing"))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Room;

#[cfg(feature = "tracing")]
pub(crate) fn room(id: Option<&str>) -> Room {
    // Copied only when a subscriber may record it: `ERROR` is the least any of its events needs. At most
    // 128 bytes of it: the room ID is the sender's.
    if tracing::enabled!(target: TARGET, tracing::Level::ERROR) {
        id.map(|id| cap(id, MAX_NAME).into_owned())
    } else {
        None
    }
}
#[cfg(not(feature = "tracing"))]
pub(crate) fn room(_: Option<&str>) -> Room {
    Room
}

#[cfg(feature = "tracing")]
fn room_str(room: Option<&Room>) -> &str {
    room.and_then(|r| r.as_deref()).unwrap_or("")
}

/// The request was refused before its event reached anyone (so there is no room to report).
/// Rate-limited.
pub(crate) fn rejected(command: Option<&str>, rejection: &Rejection) {
    #[cfg(feature = "tracing")]
    if tracing::enabled!(target: TARGET, tracing::Level::WARN) && limit::admit(Kind::Rejected) {
        let command = cap(command.unwrap_or(""), MAX_NAME);
        let note = cap(rejection.note().unwrap_or(""), MAX_TEXT);
        tracing::warn!(
            target: TARGET,
            command = &*command,
            room = "",
            outcome = "rejected",
            status = rejection.status().as_u16(),
            code = rejection.kind().error_code(),
            reason = %Capped(rejection, MAX_REASON),
            note = &*note,
            "callback rejected"
        );
    }
}

/// A handler took the event: answered OK. At DEBUG, as tower-http's `TraceLayer` logs a request that
/// went well: a flood of accepted callbacks (a signed URL replayed in its window) writes nothing at the
/// usual levels.
pub(crate) fn handled(command: &str, room: &Room) {
    #[cfg(feature = "tracing")]
    {
        limit::flush();
        let command = cap(command, MAX_NAME);
        tracing::debug!(
            target: TARGET,
            command = &*command,
            room = room_str(Some(room)),
            outcome = "ok",
            "callback handled"
        );
    }
}

/// A callback no route takes was verified and passed to the inner service, with its metadata.
pub(crate) fn verified(command: &str) {
    #[cfg(feature = "tracing")]
    {
        limit::flush();
        let command = cap(command, MAX_NAME);
        tracing::debug!(
            target: TARGET,
            command = &*command,
            room = "",
            outcome = "verified",
            "callback verified, passed to the inner service"
        );
    }
}

/// The event went to the inner service in the request's extensions. At DEBUG, as [`handled`].
pub(crate) fn forwarded(command: &str, room: &Room) {
    #[cfg(feature = "tracing")]
    {
        limit::flush();
        let command = cap(command, MAX_NAME);
        tracing::debug!(
            target: TARGET,
            command = &*command,
            room = room_str(Some(room)),
            outcome = "forwarded",
            "callback forwarded to the inner service"
        );
    }
}

/// The handler returned an error: an ERROR event, or a WARN one for `HandlerError::unavailable` (a full
/// queue is backpressure, not a fault). Rate-limited.
pub(crate) fn handler_failed(
    command: &str,
    room: &Room,
    rejection: &Rejection,
    error: &dyn Display,
    unavailable: bool,
) {
    #[cfg(feature = "tracing")]
    {
        macro_rules! failed {
            ($level:ident, $macro:ident, $outcome:literal) => {
                if tracing::enabled!(target: TARGET, tracing::Level::$level)
                    && limit::admit(Kind::HandlerFailed)
                {
                    let command = cap(command, MAX_NAME);
                    tracing::$macro!(
                        target: TARGET,
                        command = &*command,
                        room = room_str(Some(room)),
                        outcome = $outcome,
                        status = rejection.status().as_u16(),
                        code = rejection.kind().error_code(),
                        reason = %Capped(rejection, MAX_REASON),
                        error = %Capped(error, MAX_TEXT),
                        "callback handler failed"
                    )
                }
            };
        }
        if unavailable {
            failed!(WARN, warn, "unavailable");
        } else {
            failed!(ERROR, error, "handler_error");
        }
    }
}

/// The handler panicked: answered 500, reported with the panic's message. Rate-limited.
pub(crate) fn panicked(command: &str, room: Option<&Room>, rejection: &Rejection, message: &str) {
    #[cfg(feature = "tracing")]
    if tracing::enabled!(target: TARGET, tracing::Level::ERROR) && limit::admit(Kind::Panicked) {
        let command = cap(command, MAX_NAME);
        let message = cap(message, MAX_TEXT);
        tracing::error!(
            target: TARGET,
            command = &*command,
            room = room_str(room),
            outcome = "handler_panic",
            status = rejection.status().as_u16(),
            code = rejection.kind().error_code(),
            reason = %Capped(rejection, MAX_REASON),
            panic = &*message,
            "callback handler panicked"
        );
    }
}

/// A decision callback was refused by the layer (a bad signature, an unknown app, a malformed body...):
/// a WARN even where refusals are routine, since Tencent lets through what each refused decision was
/// about (its moderation is silently off while this goes on). Rate-limited.
pub(crate) fn decision_refused(command: &str, rejection: &Rejection) {
    #[cfg(feature = "tracing")]
    if tracing::enabled!(target: TARGET, tracing::Level::WARN) && limit::admit(Kind::Rejected) {
        let command = cap(command, MAX_NAME);
        let note = cap(rejection.note().unwrap_or(""), MAX_TEXT);
        tracing::warn!(
            target: TARGET,
            command = &*command,
            room = "",
            outcome = "rejected",
            status = rejection.status().as_u16(),
            code = rejection.kind().error_code(),
            reason = %Capped(rejection, MAX_REASON),
            note = &*note,
            "decision callback refused: Tencent lets through what it was about"
        );
    }
}

/// A decision's handler was late, failed or panicked: the configured fallback answered. Rate-limited.
pub(crate) fn decision_fallback(command: &str, room: &Room, why: &str) {
    #[cfg(feature = "tracing")]
    if tracing::enabled!(target: TARGET, tracing::Level::WARN) && limit::admit(Kind::HandlerFailed)
    {
        let command = cap(command, MAX_NAME);
        let why = cap(why, MAX_TEXT);
        tracing::warn!(
            target: TARGET,
            command = &*command,
            room = room_str(Some(room)),
            outcome = "decision_fallback",
            why = &*why,
            "decision answered by the fallback"
        );
    }
}
