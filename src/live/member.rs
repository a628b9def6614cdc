//! `Live.CallbackAfterMemberStateChanged` (also spelled `Live.CallbackMemberStateChanged`).

use serde::{Deserialize, Serialize};

use super::Tag;
use crate::value::{string_enum, AccountId, EventTime};

/// `MemberList`, bounded like a Room event's member list.
fn member_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<LiveMember>, D::Error> {
    crate::value::object_members("MemberList", d)
}

string_enum!(
    /// Whether members came on line or went off line (`EventType` of [`LiveMemberStateChanged`]).
    MemberEventType, "member event type" {
        /// `Online`: the members are in the room (entered, or back after a heartbeat gap).
        Online => ["Online"],
        /// `Offline`: the members are out of the room (left, kicked, or silent too long).
        Offline => ["Offline"],
    }
);

string_enum!(
    /// Why members' state changed (`EventCause` of [`LiveMemberStateChanged`]).
    MemberEventCause, "member event cause" {
        /// `Enter`: the member entered the room (`Online`).
        Enter => ["Enter"],
        /// `Leave`: the member left the room by itself (`Offline`).
        Leave => ["Leave"],
        /// `HeartbeatInterrupt`: the member's heartbeat stopped (`Offline`). Tencent reports it 90 to
        /// 110 s after the last heartbeat: the member was gone well before this callback.
        HeartbeatInterrupt => ["HeartbeatInterrupt"],
        /// `HeartbeatRecover`: the member's heartbeat came back (`Online`).
        HeartbeatRecover => ["HeartbeatRecover"],
        /// `Kicked`: the member was removed (kicked or banned) by the owner or an administrator
        /// (`Offline`).
        Kicked => ["Kicked"],
    }
);

/// A member of a member list (`MemberList` entry: `{"Member_Account": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveMember {
    /// `Member_Account`: the member (a string or an integer on the wire, exact digits kept).
    #[serde(rename = "Member_Account")]
    pub account: AccountId,
}

impl LiveMember {
    /// The entry for `account`.
    pub fn new(account: impl Into<AccountId>) -> Self {
        LiveMember {
            account: account.into(),
        }
    }
}

/// `Live.CallbackAfterMemberStateChanged` (the docs also name it `Live.CallbackMemberStateChanged`: one
/// command): members of a live room came on line or went off line.
///
/// Tencent stops sending it for a room as soon as the room is destroyed
/// ([`LiveDestroyRoom`](super::LiveDestroyRoom)).
///
/// Required on the wire: `RoomId` (a string), `EventType`, `MemberList` (entries with
/// `Member_Account`). `EventCause` and `EventTime` are optional. Unknown fields are ignored, unknown
/// values of `EventType` and `EventCause` kept. A `CallbackCommand` in the body, when present, must
/// name this command (either spelling).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveMemberStateChanged {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<LiveMemberStateChanged>,
    /// `RoomId`: the room.
    #[serde(rename = "RoomId")]
    pub room_id: String,
    /// `EventType`: on line or off line.
    #[serde(rename = "EventType")]
    pub event_type: MemberEventType,
    /// `EventCause`: why.
    #[serde(
        rename = "EventCause",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_cause: Option<MemberEventCause>,
    /// `MemberList`: the members concerned (at most the configured bound of a member list, 10,000 by
    /// default: a longer list is refused while it is decoded).
    #[serde(rename = "MemberList", deserialize_with = "member_list")]
    pub members: Vec<LiveMember>,
    /// `EventTime`: when it happened (milliseconds; an integer or a numeric string on the wire).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
}

impl LiveMemberStateChanged {
    /// An event with its required fields; the optional ones are `None`.
    pub fn new(
        room_id: impl Into<String>,
        event_type: MemberEventType,
        members: impl IntoIterator<Item = impl Into<AccountId>>,
    ) -> Self {
        LiveMemberStateChanged {
            command: Tag::default(),
            room_id: room_id.into(),
            event_type,
            event_cause: None,
            members: members.into_iter().map(LiveMember::new).collect(),
            event_time: None,
        }
    }
}
