//! Verification and decoding without HTTP: a query string and body bytes in, an event out.

use crate::command::CallbackCommand;
use crate::config::Config;
use crate::event::{Event, RoomEvent};
use crate::meta::CallbackMeta;
use crate::query::{Routing, Scan};
use crate::reject::{Rejection, RejectionKind};
use crate::verify::{conflicting_command, verify};

impl Config {
    /// Verifies and decodes a callback without HTTP: the query string (without `?`) and the body bytes.
    ///
    /// Checks what the layer checks on the query (the command, `SdkAppid`, and with a token `Sign` and
    /// `RequestTime`), then decodes the body as `E`, with this configuration's bound on lists
    /// ([`Config::max_members`]). The method and body-size checks belong to the transport and are the
    /// layer's.
    ///
    /// ```
    /// use tencent_room_callback::{Config, MemberLeave};
    ///
    /// let config = Config::new(1400000000);
    /// let query = "SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json";
    /// let body = br#"{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123}"#;
    /// let (event, meta) = config.decode::<MemberLeave>(query, body)?;
    /// assert_eq!(event.room_id, "rid-123");
    /// assert_eq!(meta.sdk_app_id, 1400000000);
    /// # Ok::<(), tencent_room_callback::Rejection>(())
    /// ```
    ///
    /// # Errors
    /// The [`Rejection`] the layer would answer with; [`RejectionKind::UnknownCommand`] for a command
    /// `E` does not take.
    pub fn decode<E: Event>(
        &self,
        query: &str,
        body: &[u8],
    ) -> Result<(E, CallbackMeta), Rejection> {
        let meta = verify_for(self, E::COMMANDS, query)?;
        let event = E::decode(&meta, body, self.max_members)?;
        Ok((event, meta))
    }

    /// Like [`decode`](Config::decode) for any Room command, as a [`RoomEvent`]: the query's command
    /// picks the event type (the same as `decode::<RoomEvent>`).
    ///
    /// # Errors
    /// The [`Rejection`] the layer would answer with.
    pub fn decode_any(
        &self,
        query: &str,
        body: &[u8],
    ) -> Result<(RoomEvent, CallbackMeta), Rejection> {
        self.decode::<RoomEvent>(query, body)
    }
}

/// Verifies the query of a callback whose command is one of `handled` (any of their spellings).
fn verify_for(config: &Config, handled: &[&str], query: &str) -> Result<CallbackMeta, Rejection> {
    let scan = Scan::new(Some(query));
    let command = match scan.route() {
        Routing::Callback(name) => CallbackCommand::new(name),
        Routing::Conflict => return Err(conflicting_command()),
        Routing::Pass => return Err(Rejection::new(RejectionKind::UnknownCommand)),
    };
    if handled
        .iter()
        .any(|name| CallbackCommand::new(name) == command)
    {
        verify(config, &command, scan)
    } else {
        Err(Rejection::new(RejectionKind::UnknownCommand))
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
        let (e, m) = c.decode::<crate::event::MemberLeave>(q, body).unwrap();
        assert_eq!(e.room_id, "r");
        assert_eq!(m.command, Command::MemberLeave);
        let err = c.decode::<crate::event::MemberEnter>(q, body).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::UnknownCommand);
        let (any, _) = c.decode_any(q, body).unwrap();
        assert_eq!(any.command(), Command::MemberLeave);
        assert_eq!(
            c.decode_any("SdkAppid=1400000000", body)
                .unwrap_err()
                .kind(),
            RejectionKind::UnknownCommand
        );
    }

    /// Every list of members of the Room events, under a configured bound of 2: 2 entries pass, 3 are
    /// refused with the list named.
    #[test]
    fn the_configured_bound_applies_to_every_list() {
        let c = Config::new(1400000000).max_members(2);
        let query = |command: &str| {
            format!("SdkAppid=1400000000&CallbackCommand={command}&contenttype=json")
        };
        let cases = [
            (
                "Room.CallbackAfterMemberLeave",
                "MemberList_Account",
                r#"{"RoomId":"r","EventTime":1,"MemberList_Account":LIST}"#,
                r#""a""#,
            ),
            (
                "Room.CallbackAfterMemberEnter",
                "MemberList_Account",
                r#"{"RoomId":"r","EventTime":1,"MemberList_Account":LIST}"#,
                "7",
            ),
            (
                "Room.CallbackAfterCreateRoom",
                "ScheduleInviteeList_Account",
                r#"{"RoomInfo":{},"EventTime":1,"ScheduleInviteeList_Account":LIST}"#,
                r#""a""#,
            ),
            (
                "Mic.CallbackAfterSeatInfoChanged",
                "SeatList",
                r#"{"RoomId":"r","EventTime":1,"SeatList":LIST}"#,
                r#"{"Index":1}"#,
            ),
        ];
        for (command, field, template, item) in cases {
            let q = query(command);
            let body =
                |n: usize| template.replace("LIST", &format!("[{}]", vec![item; n].join(",")));
            assert!(c.decode_any(&q, body(2).as_bytes()).is_ok(), "{command}");
            let err = c.decode_any(&q, body(3).as_bytes()).unwrap_err();
            assert_eq!(err.kind(), RejectionKind::MalformedBody, "{command}");
            let text = err.to_string();
            assert!(
                text.contains(&format!("{field}: the list is longer than 2 entries")),
                "{text}"
            );
            // Without the layer's configuration, the default bound.
            assert!(RoomEvent::from_json(typed(command), body(3).as_bytes()).is_ok());
        }
        let leave = |n: usize| {
            format!(
                r#"{{"RoomId":"r","EventTime":1,"MemberList_Account":[{}]}}"#,
                vec![r#""a""#; n].join(",")
            )
        };
        let q = query("Room.CallbackAfterMemberLeave");
        assert!(c
            .decode::<crate::event::MemberLeave>(&q, leave(2).as_bytes())
            .is_ok());
        let err = c
            .decode::<crate::event::MemberLeave>(&q, leave(3).as_bytes())
            .unwrap_err();
        assert_eq!(err.kind(), RejectionKind::MalformedBody);
        // The default configuration: 10,000.
        let d = Config::new(1400000000);
        assert!(d
            .decode::<crate::event::MemberLeave>(&q, leave(10_000).as_bytes())
            .is_ok());
        let err = d
            .decode::<crate::event::MemberLeave>(&q, leave(10_001).as_bytes())
            .unwrap_err();
        assert!(
            err.to_string().contains("longer than 10000 entries"),
            "{err}"
        );
    }

    fn typed(name: &str) -> Command {
        CallbackCommand::new(name).typed().unwrap()
    }
}
