//! Verification and decoding without HTTP: a query string and body bytes in, an event out.

use crate::command::{CallbackCommand, CommandSet};
use crate::config::Config;
use crate::event::{Event, RoomEvent};
use crate::meta::CallbackMeta;
use crate::query::{Routing, Scan};
use crate::reject::{Rejection, RejectionKind};
use crate::verify::{conflicting_command, verify};

/// Verifies and decodes a callback without HTTP: the query string (without `?`) and the body bytes.
///
/// Checks what the layer checks on the query (the command, `SdkAppid`, and with a token `Sign` and
/// `RequestTime`), then decodes the body as `E`. The method and body-size checks belong to the transport
/// and are the layer's.
///
/// ```
/// use tencent_room_callback::{decode, Config, MemberLeave};
///
/// let config = Config::new(1400000000);
/// let query = "SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json";
/// let body = br#"{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123}"#;
/// let (event, meta) = decode::<MemberLeave>(&config, query, body)?;
/// assert_eq!(event.room_id, "rid-123");
/// assert_eq!(meta.sdk_app_id, 1400000000);
/// # Ok::<(), tencent_room_callback::Rejection>(())
/// ```
///
/// # Errors
/// The [`Rejection`] the layer would answer with.
pub fn decode<E: Event>(
    config: &Config,
    query: &str,
    body: &[u8],
) -> Result<(E, CallbackMeta), Rejection> {
    let meta = verify_for(config, CommandSet::from(E::COMMAND), query)?;
    Ok((E::from_json(body)?, meta))
}

/// Like [`decode`] for any Room command: the query's command picks the event type.
///
/// # Errors
/// The [`Rejection`] the layer would answer with.
pub fn decode_any(
    config: &Config,
    query: &str,
    body: &[u8],
) -> Result<(RoomEvent, CallbackMeta), Rejection> {
    let meta = verify_for(config, CommandSet::ALL, query)?;
    let command = meta
        .command
        .typed()
        .ok_or(Rejection::new(RejectionKind::UnknownCommand))?;
    Ok((RoomEvent::from_json(command, body)?, meta))
}

fn verify_for(
    config: &Config,
    handled: CommandSet,
    query: &str,
) -> Result<CallbackMeta, Rejection> {
    let scan = Scan::new(Some(query));
    let command = match scan.route() {
        Routing::Callback(name) => CallbackCommand::new(name),
        Routing::Conflict => return Err(conflicting_command()),
        Routing::Pass => return Err(Rejection::new(RejectionKind::UnknownCommand)),
    };
    match command.typed() {
        Some(typed) if handled.contains(typed) => verify(config, &command, scan),
        _ => Err(Rejection::new(RejectionKind::UnknownCommand)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;

    #[test]
    fn sans_io_decode() {
        let c = Config::new(1400000000);
        let body = br#"{"RoomId":"r","MemberList_Account":["a"],"EventTime":1}"#;
        let q = "SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave";
        let (e, m) = decode::<crate::event::MemberLeave>(&c, q, body).unwrap();
        assert_eq!(e.room_id, "r");
        assert_eq!(m.command, Command::MemberLeave);
        let err = decode::<crate::event::MemberEnter>(&c, q, body).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::UnknownCommand);
        let (any, _) = decode_any(&c, q, body).unwrap();
        assert_eq!(any.command(), Command::MemberLeave);
        assert_eq!(
            decode_any(&c, "SdkAppid=1400000000", body)
                .unwrap_err()
                .kind(),
            RejectionKind::UnknownCommand
        );
    }
}
