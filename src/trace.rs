//! One `tracing` event per intercepted request (feature `tracing`): command, room, outcome, reason.
//! Never a token, a signature or the query; a malformed-body reason is serde's message, which may quote
//! the offending value. Without the feature every function here is empty.

#![cfg_attr(not(feature = "tracing"), allow(unused_variables))]

use std::fmt::Display;

use crate::reject::Rejection;

/// The room of a delivered event, kept for the trace only when the `tracing` feature is on.
#[cfg(feature = "tracing")]
pub(crate) type Room = Option<String>;
/// The room of a delivered event, kept for the trace only when the `tracing` feature is on.
#[cfg(not(feature = "tracing"))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Room;

#[cfg(feature = "tracing")]
pub(crate) fn room(id: Option<&str>) -> Room {
    // Copied only when a subscriber may record it: `ERROR` is the least any of its events needs.
    if tracing::enabled!(target: "tencent_room_callback", tracing::Level::ERROR) {
        id.map(str::to_owned)
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
/// A command name as logged: at most 128 bytes (cut on a character boundary), since any command from
/// the query is logged and the query is the sender's.
#[cfg(feature = "tracing")]
fn short(command: &str) -> &str {
    const MAX: usize = 128;
    if command.len() <= MAX {
        return command;
    }
    let mut end = MAX;
    while !command.is_char_boundary(end) {
        end -= 1;
    }
    &command[..end]
}

pub(crate) fn rejected(command: Option<&str>, rejection: &Rejection) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        target: "tencent_room_callback",
        command = short(command.unwrap_or("")),
        room = "",
        outcome = "rejected",
        status = rejection.status().as_u16(),
        code = rejection.kind().error_code(),
        reason = %rejection,
        note = rejection.note().unwrap_or(""),
        "callback rejected"
    );
}

/// A handler took the event: answered OK.
pub(crate) fn handled(command: &str, room: &Room) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: "tencent_room_callback",
        command = short(command),
        room = room_str(Some(room)),
        outcome = "ok",
        "callback handled"
    );
}

/// A callback no route takes was verified and passed to the inner service, with its metadata.
pub(crate) fn verified(command: &str) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "tencent_room_callback",
        command = short(command),
        room = "",
        outcome = "verified",
        "callback verified, passed to the inner service"
    );
}

/// The event went to the inner service in the request's extensions.
pub(crate) fn forwarded(command: &str, room: &Room) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: "tencent_room_callback",
        command = short(command),
        room = room_str(Some(room)),
        outcome = "forwarded",
        "callback forwarded to the inner service"
    );
}

/// The handler returned an error: an ERROR event, or a WARN one for `HandlerError::unavailable` (a full
/// queue is backpressure, not a fault).
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
            ($level:ident, $outcome:literal) => {
                tracing::$level!(
                    target: "tencent_room_callback",
                    command = short(command),
                    room = room_str(Some(room)),
                    outcome = $outcome,
                    status = rejection.status().as_u16(),
                    code = rejection.kind().error_code(),
                    reason = %rejection,
                    error = %error,
                    "callback handler failed"
                )
            };
        }
        if unavailable {
            failed!(warn, "unavailable");
        } else {
            failed!(error, "handler_error");
        }
    }
}

/// The handler panicked: answered 500, reported with the panic's message.
pub(crate) fn panicked(command: &str, room: Option<&Room>, rejection: &Rejection, message: &str) {
    #[cfg(feature = "tracing")]
    tracing::error!(
        target: "tencent_room_callback",
        command = short(command),
        room = room_str(room),
        outcome = "handler_panic",
        status = rejection.status().as_u16(),
        code = rejection.kind().error_code(),
        reason = %rejection,
        panic = message,
        "callback handler panicked"
    );
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    #[test]
    fn logged_command_names_are_cut_at_128_bytes() {
        assert_eq!(
            super::short("C2C.CallbackBeforeSendMsg"),
            "C2C.CallbackBeforeSendMsg"
        );
        assert_eq!(super::short(&"a".repeat(1 << 20)).len(), 128);
        // A cut inside a character backs off to its start.
        let long = format!("a{}", "é".repeat(100));
        assert_eq!(super::short(&long), format!("a{}", "é".repeat(63)));
    }
}
