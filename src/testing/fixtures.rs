//! Tencent's documented sample of each Room callback, as valid JSON and as typed events.
//!
//! The samples on Tencent's pages are illustrations (some carry comments or miss commas); these are the
//! same values as JSON a receiver actually gets. The quirks of the samples are kept on purpose:
//! `"IsCloudRecordingDisabled":"false"` (a boolean as a string) in the update sample and
//! `"Member_Account":144115233775727695` (an account ID as a bare number, above 2^53) in the seat sample.
//!
//! ```
//! use tencent_room_callback::testing::fixtures;
//! use tencent_room_callback::Command;
//!
//! let leave = fixtures::member_leave();
//! assert_eq!(leave.room_id, "rid-123");
//! assert!(fixtures::MEMBER_LEAVE_JSON.contains("Room.CallbackAfterMemberLeave"));
//! assert_eq!(fixtures::event(Command::SeatInfoChanged).command(), Command::SeatInfoChanged);
//! ```

use crate::{
    Command, CreateRoom, DestroyRoom, Event, MemberEnter, MemberLeave, RoomEvent, SeatInfoChanged,
    UpdateRoomInfo,
};

/// The `Room.CallbackAfterMemberLeave` sample (<https://trtc.io/document/60734>).
pub const MEMBER_LEAVE_JSON: &str = include_str!("fixtures/member_leave.json");
/// The `Room.CallbackAfterMemberEnter` sample (<https://trtc.io/document/60735>).
pub const MEMBER_ENTER_JSON: &str = include_str!("fixtures/member_enter.json");
/// The `Room.CallbackAfterCreateRoom` sample (<https://trtc.io/document/60733>).
pub const CREATE_ROOM_JSON: &str = include_str!("fixtures/create_room.json");
/// The `Room.CallbackAfterDestroyRoom` sample (<https://trtc.io/document/60732>).
pub const DESTROY_ROOM_JSON: &str = include_str!("fixtures/destroy_room.json");
/// The `Room.CallbackAfterUpdateRoomInfo` sample (<https://trtc.io/document/60731>), with its boolean sent
/// as a string.
pub const UPDATE_ROOM_INFO_JSON: &str = include_str!("fixtures/update_room_info.json");
/// The `Mic.CallbackAfterSeatInfoChanged` sample (<https://trtc.io/document/60736>), with its account ID
/// sent as a number.
pub const SEAT_INFO_CHANGED_JSON: &str = include_str!("fixtures/seat_info_changed.json");

/// The sample of `command`, as JSON.
pub fn json(command: Command) -> &'static str {
    match command {
        Command::CreateRoom => CREATE_ROOM_JSON,
        Command::DestroyRoom => DESTROY_ROOM_JSON,
        Command::UpdateRoomInfo => UPDATE_ROOM_INFO_JSON,
        Command::MemberEnter => MEMBER_ENTER_JSON,
        Command::MemberLeave => MEMBER_LEAVE_JSON,
        Command::SeatInfoChanged => SEAT_INFO_CHANGED_JSON,
    }
}

/// The sample of `command`, decoded.
pub fn event(command: Command) -> RoomEvent {
    RoomEvent::from_json(command, json(command).as_bytes())
        .unwrap_or_else(|e| panic!("the {command} fixture does not decode: {e}"))
}

/// Every sample, decoded, in [`Command::ALL`] order.
pub fn all() -> Vec<RoomEvent> {
    Command::ALL.iter().copied().map(event).collect()
}

fn decode<E: Event>(json: &str) -> E {
    let meta = crate::CallbackMeta::new(1400000000, crate::CallbackCommand::new(E::COMMANDS[0]));
    E::decode(&meta, json.as_bytes(), crate::Config::DEFAULT_MAX_MEMBERS)
        .unwrap_or_else(|e| panic!("the {} fixture does not decode: {e}", meta.command))
}

/// The `Room.CallbackAfterMemberLeave` sample: `user1` left room `rid-123` by itself.
pub fn member_leave() -> MemberLeave {
    decode(MEMBER_LEAVE_JSON)
}

/// The `Room.CallbackAfterMemberEnter` sample: `user1` entered room `rid-123`.
pub fn member_enter() -> MemberEnter {
    decode(MEMBER_ENTER_JSON)
}

/// The `Room.CallbackAfterCreateRoom` sample: `admin` created room `tandy-test-rest`.
pub fn create_room() -> CreateRoom {
    decode(CREATE_ROOM_JSON)
}

/// The `Room.CallbackAfterDestroyRoom` sample: `admin` destroyed room `tandy-test-rest`.
pub fn destroy_room() -> DestroyRoom {
    decode(DESTROY_ROOM_JSON)
}

/// The `Room.CallbackAfterUpdateRoomInfo` sample: `bob` changed room `rid-123`.
pub fn update_room_info() -> UpdateRoomInfo {
    decode(UPDATE_ROOM_INFO_JSON)
}

/// The `Mic.CallbackAfterSeatInfoChanged` sample: account `144115233775727695` sits on seat 1 of room
/// `rid-123`.
pub fn seat_info_changed() -> SeatInfoChanged {
    decode(SEAT_INFO_CHANGED_JSON)
}
