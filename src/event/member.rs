//! `Room.CallbackAfterMemberLeave` and `Room.CallbackAfterMemberEnter`.

use serde::{Deserialize, Serialize};

use super::CommandTag;
use crate::value::{flex, string_enum, AccountId, EventTime};

/// `MemberList_Account`, bounded ([`crate::Config::max_members`]).
fn member_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<AccountId>, D::Error> {
    crate::value::members("MemberList_Account", d)
}

string_enum!(
    /// How members left a room (`Type` of [`MemberLeave`]).
    LeaveType, "leave type" {
        /// `Leave`: the member left by itself.
        Leave => ["Leave"],
        /// `Kicked`: the member was kicked out.
        Kicked => ["Kicked"],
        /// `Expired`: the member's heartbeat expired.
        Expired => ["Expired"],
    }
);

string_enum!(
    /// How members entered a room (`Type` of [`MemberEnter`]; documented only as `Enter`).
    EnterType, "enter type" {
        /// `Enter`: the member entered.
        Enter => ["Enter"],
    }
);

/// `Room.CallbackAfterMemberLeave`: one or more members left a room (by themselves, kicked out, or
/// dropped when their heartbeat expired).
///
/// Required on the wire: `RoomId` (a string), `MemberList_Account`, `EventTime`. Everything else is
/// optional. Unknown fields are ignored. A `CallbackCommand` in the body, when present, must name this
/// command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemberLeave {
    #[serde(rename = "CallbackCommand", default)]
    command: CommandTag<MemberLeave>,
    /// `Operator_Account`: who made the request.
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `RoomId`: the room.
    #[serde(rename = "RoomId")]
    pub room_id: String,
    /// `MemberCount`: how many people are in the room now.
    #[serde(
        rename = "MemberCount",
        default,
        deserialize_with = "flex::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub member_count: Option<u32>,
    /// `Type`: how the members left.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<LeaveType>,
    /// `MemberList_Account`: the members who left (one callback may carry several; at most
    /// [`Config::max_members`](crate::Config::max_members)).
    #[serde(rename = "MemberList_Account", deserialize_with = "member_list")]
    pub members: Vec<AccountId>,
    /// `Reason`: free-text reason.
    #[serde(rename = "Reason", default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `EventTime`: when it happened (milliseconds).
    #[serde(rename = "EventTime")]
    pub event_time: EventTime,
}

impl MemberLeave {
    /// A leave event with its required fields; the optional ones are `None`.
    pub fn new(
        room_id: impl Into<String>,
        members: impl IntoIterator<Item = impl Into<AccountId>>,
        event_time: EventTime,
    ) -> Self {
        MemberLeave {
            command: CommandTag::default(),
            operator: None,
            room_id: room_id.into(),
            member_count: None,
            kind: None,
            members: members.into_iter().map(Into::into).collect(),
            reason: None,
            event_time,
        }
    }
}

/// `Room.CallbackAfterMemberEnter`: one or more members entered a room.
///
/// Required on the wire: `RoomId` (a string), `MemberList_Account`, `EventTime`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemberEnter {
    #[serde(rename = "CallbackCommand", default)]
    command: CommandTag<MemberEnter>,
    /// `Operator_Account`: who made the request.
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `RoomId`: the room.
    #[serde(rename = "RoomId")]
    pub room_id: String,
    /// `MemberCount`: how many people are in the room now.
    #[serde(
        rename = "MemberCount",
        default,
        deserialize_with = "flex::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub member_count: Option<u32>,
    /// `Type`: how the members entered.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EnterType>,
    /// `MemberList_Account`: the members who entered (at most
    /// [`Config::max_members`](crate::Config::max_members)).
    #[serde(rename = "MemberList_Account", deserialize_with = "member_list")]
    pub members: Vec<AccountId>,
    /// `EventTime`: when it happened (milliseconds).
    #[serde(rename = "EventTime")]
    pub event_time: EventTime,
}

impl MemberEnter {
    /// An enter event with its required fields; the optional ones are `None`.
    pub fn new(
        room_id: impl Into<String>,
        members: impl IntoIterator<Item = impl Into<AccountId>>,
        event_time: EventTime,
    ) -> Self {
        MemberEnter {
            command: CommandTag::default(),
            operator: None,
            room_id: room_id.into(),
            member_count: None,
            kind: None,
            members: members.into_iter().map(Into::into).collect(),
            event_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::reject::RejectionKind;

    const LEAVE: &str = r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123",
 "MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}"#;

    #[test]
    fn documented_leave_sample() {
        let e = MemberLeave::from_json(LEAVE.as_bytes()).unwrap();
        assert_eq!(e.operator.as_ref().unwrap(), "user1");
        assert_eq!(e.room_id, "rid-123");
        assert_eq!(e.member_count, Some(20));
        assert_eq!(e.kind, Some(LeaveType::Leave));
        assert_eq!(e.members, vec![AccountId::from("user1")]);
        assert_eq!(e.reason.as_deref(), Some("xxxx"));
        assert_eq!(e.event_time.as_millis(), 1670574414123);
        assert_eq!(e.room_id(), Some("rid-123"));
    }

    #[test]
    fn leave_serializes_with_tencent_names_and_round_trips() {
        let e = MemberLeave::from_json(LEAVE.as_bytes()).unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}"#
        );
        assert_eq!(MemberLeave::from_json(json.as_bytes()).unwrap(), e);
    }

    #[test]
    fn leave_quirks() {
        let e = MemberLeave::from_json(
            br#"{"RoomId":"r","MemberList_Account":[144115233775727695,"b"],"EventTime":"1670574414123",
                "MemberCount":"7","Type":"kicked","Extra":{"nested":[1,2,3]},"Operator_Account":42}"#,
        )
        .unwrap();
        assert_eq!(e.members[0], "144115233775727695");
        assert_eq!(e.event_time.as_millis(), 1670574414123);
        assert_eq!(e.member_count, Some(7));
        assert_eq!(e.kind, Some(LeaveType::Kicked));
        assert_eq!(e.operator.unwrap(), "42");
        let e = MemberLeave::from_json(
            br#"{"RoomId":"r","MemberList_Account":[],"EventTime":1,"Type":"Banished"}"#,
        )
        .unwrap();
        assert_eq!(e.kind, Some(LeaveType::Other("Banished".into())));
        assert_eq!(e.kind.as_ref().unwrap().as_str(), "Banished");
        assert_eq!(e.reason, None);
        assert_eq!(e.member_count, None);
    }

    #[test]
    fn leave_refusals() {
        for bad in [
            &br#"{"MemberList_Account":["a"],"EventTime":1}"#[..],
            br#"{"RoomId":5,"MemberList_Account":["a"],"EventTime":1}"#,
            br#"{"RoomId":"r","EventTime":1}"#,
            br#"{"RoomId":"r","MemberList_Account":["a"]}"#,
            br#"{"RoomId":"r","MemberList_Account":"a","EventTime":1}"#,
            br#"{"RoomId":"r","MemberList_Account":["a"],"EventTime":1.5}"#,
            br#"{"RoomId":"r","MemberList_Account":["a"],"EventTime":-1}"#,
            br#"{"RoomId":"r","MemberList_Account":["a"],"EventTime":1,"MemberCount":4294967296}"#,
            br#"{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"r","MemberList_Account":["a"],"EventTime":1}"#,
            br#"{"RoomId":"r","RoomId":"s","MemberList_Account":["a"],"EventTime":1}"#,
            br#"["Room.CallbackAfterMemberLeave",null,"r",1,null,["a"],null,1]"#,
            b"",
            b"  ",
            b"null",
            b"{",
            b"\xef\xbb\xbf{\"RoomId\":\"r\",\"MemberList_Account\":[],\"EventTime\":1}",
            b"{\"RoomId\":\"\xff\",\"MemberList_Account\":[],\"EventTime\":1}",
        ] {
            let err = MemberLeave::from_json(bad).unwrap_err();
            assert_eq!(err.kind(), RejectionKind::MalformedBody, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn command_mismatch_is_explained() {
        let err = MemberLeave::from_json(
            br#"{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"r","MemberList_Account":[],"EventTime":1}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("CallbackCommand"), "{err}");
    }

    #[test]
    fn enter_sample() {
        let e = MemberEnter::from_json(br#"{"CallbackCommand":"Room.CallbackAfterMemberEnter","Operator_Account":"user1","RoomId":"rid-123",
 "MemberCount":20,"Type":"Enter","MemberList_Account":["user1"],"EventTime":1670574414123}"#).unwrap();
        assert_eq!(e.kind, Some(EnterType::Enter));
        assert_eq!(e.member_count, Some(20));
        let back = serde_json::to_vec(&e).unwrap();
        assert_eq!(MemberEnter::from_json(&back).unwrap(), e);
    }

    #[test]
    fn event_key_is_stable_and_distinct() {
        let a = MemberLeave::from_json(LEAVE.as_bytes()).unwrap();
        // Same event, fields reordered, an account as a number, an unknown field, time as a string.
        let b = MemberLeave::from_json(br#"{"EventTime":"1670574414123","Reason":"xxxx","MemberList_Account":["user1"],"Type":"Leave",
            "MemberCount":20,"RoomId":"rid-123","Operator_Account":"user1","New":1}"#).unwrap();
        assert_eq!(a.event_key(), b.event_key());
        let mut c = a.clone();
        c.members.push("user2".into());
        assert_ne!(a.event_key(), c.event_key());
        let mut d = a.clone();
        d.event_time = EventTime::from_millis(1670574414124);
        assert_ne!(a.event_key(), d.event_key());
        assert_eq!(a.event_key().to_string().len(), 32);
    }
}
