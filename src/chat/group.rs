//! `Group.CallbackBeforeSendMsg`, `Group.CallbackAfterSendMsg`, `Group.CallbackAfterNewMemberJoin`,
//! `Group.CallbackAfterMemberExit`.

use serde::{Deserialize, Serialize};

use super::{flex, MsgElement, Tag};
use crate::value::{string_enum, AccountId, EventTime, UnixSeconds};

/// `NewMemberList`, bounded like a Room event's member list.
fn new_member_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<GroupMember>, D::Error> {
    crate::value::object_members("NewMemberList", d)
}

/// `ExitMemberList`, bounded like a Room event's member list.
fn exit_member_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<GroupMember>, D::Error> {
    crate::value::object_members("ExitMemberList", d)
}

string_enum!(
    /// The kind of group (`Type`).
    GroupType, "group type" {
        /// `Public`: a public group (join on application).
        Public => ["Public"],
        /// `Private`: a private group, the older name of `Work`.
        Private => ["Private"],
        /// `ChatRoom`: a meeting group, the older name of `Meeting`.
        ChatRoom => ["ChatRoom"],
        /// `AVChatRoom`: an audio-video (live streaming) group.
        AvChatRoom => ["AVChatRoom"],
        /// `Community`: a community (may have topics).
        Community => ["Community"],
        /// `Work`: a work group (join by invitation).
        Work => ["Work"],
        /// `Meeting`: a meeting group.
        Meeting => ["Meeting"],
    }
);

string_enum!(
    /// How new members joined a group (`JoinType` of [`GroupAfterNewMemberJoin`]).
    JoinType, "join type" {
        /// `Apply`: they applied and were accepted.
        Apply => ["Apply"],
        /// `Invited`: they were invited (or added by an admin).
        Invited => ["Invited"],
    }
);

string_enum!(
    /// How members left a group (`ExitType` of [`GroupAfterMemberExit`]).
    ExitType, "exit type" {
        /// `Quit`: they left by themselves.
        Quit => ["Quit"],
        /// `Kicked`: they were removed.
        Kicked => ["Kicked"],
    }
);

/// A member of a member list (`NewMemberList` / `ExitMemberList` entry: `{"Member_Account": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupMember {
    /// `Member_Account`: the member.
    #[serde(rename = "Member_Account")]
    pub account: AccountId,
}

impl GroupMember {
    /// The entry for `account`.
    pub fn new(account: impl Into<AccountId>) -> Self {
        GroupMember {
            account: account.into(),
        }
    }
}

/// `Group.CallbackBeforeSendMsg`: a user is sending a group message, not yet delivered.
///
/// The answer decides the message's fate: answer with a [`SendMsgAnswer`](super::SendMsgAnswer) (allow,
/// refuse, drop silently, or refuse with a code from [`RefusalCode::group`](super::RefusalCode::group),
/// and optionally replace the body). A failed or late answer lets the message through.
///
/// Required on the wire: `GroupId`, `From_Account`, `Random`, `MsgBody`. `EventTime` is optional and
/// accepted as an integer or a numeric string (Tencent's sample sends `"1670574414123"`). Unknown fields
/// are ignored. A `CallbackCommand` in the body, when present, must name this command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupBeforeSendMsg {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<GroupBeforeSendMsg>,
    /// `GroupId`: the group.
    #[serde(rename = "GroupId")]
    pub group_id: String,
    /// `Type`: the kind of group.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<GroupType>,
    /// `From_Account`: the sender.
    #[serde(rename = "From_Account")]
    pub from: AccountId,
    /// `Operator_Account`: who made the request (an admin sending through the REST API, for example).
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `Random`: the request's random number (32-bit).
    #[serde(rename = "Random", deserialize_with = "flex::u64")]
    pub random: u64,
    /// `OnlineOnlyFlag`: an online-only message (`1`); `false` when absent (always `0` in audio-video
    /// groups).
    #[serde(
        rename = "OnlineOnlyFlag",
        default,
        deserialize_with = "flex::online_flag",
        serialize_with = "flex::ser_online_flag"
    )]
    pub online_only: bool,
    /// `MsgBody`: the message's elements.
    #[serde(rename = "MsgBody")]
    pub msg_body: Vec<MsgElement>,
    /// `CloudCustomData`: the message's custom data, stored in the cloud.
    #[serde(
        rename = "CloudCustomData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_custom_data: Option<String>,
    /// `TopicId`: the topic, for a message in a community topic.
    #[serde(rename = "TopicId", default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<String>,
    /// `EventTime`: when it happened (milliseconds; an integer or a numeric string on the wire).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
}

impl GroupBeforeSendMsg {
    /// An event with its required fields; `online_only` is `false` and the optional fields `None`.
    pub fn new(
        group_id: impl Into<String>,
        from: impl Into<AccountId>,
        random: u64,
        msg_body: Vec<MsgElement>,
    ) -> Self {
        GroupBeforeSendMsg {
            command: Tag::default(),
            group_id: group_id.into(),
            group_type: None,
            from: from.into(),
            operator: None,
            random,
            online_only: false,
            msg_body,
            cloud_custom_data: None,
            topic_id: None,
            event_time: None,
        }
    }
}

/// `Group.CallbackAfterSendMsg`: a group message was sent.
///
/// Required on the wire: `GroupId`, `From_Account`, `Random`, `MsgSeq`, `MsgTime`, `MsgBody`. Unknown
/// fields are ignored. A `CallbackCommand` in the body, when present, must name this command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupAfterSendMsg {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<GroupAfterSendMsg>,
    /// `GroupId`: the group.
    #[serde(rename = "GroupId")]
    pub group_id: String,
    /// `Type`: the kind of group.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<GroupType>,
    /// `From_Account`: the sender.
    #[serde(rename = "From_Account")]
    pub from: AccountId,
    /// `Operator_Account`: who made the request (an admin sending through the REST API, for example).
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `Random`: the request's random number (32-bit).
    #[serde(rename = "Random", deserialize_with = "flex::u64")]
    pub random: u64,
    /// `MsgId`: the message's client-side ID (documented for live-streaming groups).
    #[serde(rename = "MsgId", default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// `MsgSeq`: the message's sequence number in the group.
    #[serde(rename = "MsgSeq", deserialize_with = "flex::u64")]
    pub msg_seq: u64,
    /// `MsgTime`: when the message was sent (**seconds**).
    #[serde(rename = "MsgTime")]
    pub msg_time: UnixSeconds,
    /// `OnlineOnlyFlag`: an online-only message (`1`); `false` when absent (always `0` in audio-video
    /// groups).
    #[serde(
        rename = "OnlineOnlyFlag",
        default,
        deserialize_with = "flex::online_flag",
        serialize_with = "flex::ser_online_flag"
    )]
    pub online_only: bool,
    /// `MsgBody`: the message's elements (as modified by the before-send answer, if it replaced them).
    #[serde(rename = "MsgBody")]
    pub msg_body: Vec<MsgElement>,
    /// `CloudCustomData`: the message's custom data, stored in the cloud.
    #[serde(
        rename = "CloudCustomData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_custom_data: Option<String>,
    /// `TopicId`: the topic, for a message in a community topic.
    #[serde(rename = "TopicId", default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<String>,
    /// `EventTime`: when it happened (milliseconds; an integer or a numeric string on the wire).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
}

impl GroupAfterSendMsg {
    /// An event with its required fields; `online_only` is `false` and the optional fields `None`.
    pub fn new(
        group_id: impl Into<String>,
        from: impl Into<AccountId>,
        random: u64,
        msg_seq: u64,
        msg_time: UnixSeconds,
        msg_body: Vec<MsgElement>,
    ) -> Self {
        GroupAfterSendMsg {
            command: Tag::default(),
            group_id: group_id.into(),
            group_type: None,
            from: from.into(),
            operator: None,
            random,
            msg_id: None,
            msg_seq,
            msg_time,
            online_only: false,
            msg_body,
            cloud_custom_data: None,
            topic_id: None,
            event_time: None,
        }
    }
}

/// `Group.CallbackAfterNewMemberJoin`: members joined a group (applied and accepted, invited, or added
/// by an admin through the REST API).
///
/// Required on the wire: `GroupId`, `NewMemberList`. `EventTime` is optional (an integer or a numeric
/// string; older deployments send none). Unknown fields are ignored. A `CallbackCommand` in the body, when present, must name this command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupAfterNewMemberJoin {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<GroupAfterNewMemberJoin>,
    /// `GroupId`: the group.
    #[serde(rename = "GroupId")]
    pub group_id: String,
    /// `Type`: the kind of group.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<GroupType>,
    /// `JoinType`: how they joined.
    #[serde(rename = "JoinType", default, skip_serializing_if = "Option::is_none")]
    pub join_type: Option<JoinType>,
    /// `Operator_Account`: who made the request.
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `NewMemberList`: the members who joined (at most
    /// [`DEFAULT_MAX_MEMBERS`](crate::Config::DEFAULT_MAX_MEMBERS) entries: a longer list is refused while it is
    /// decoded).
    #[serde(rename = "NewMemberList", deserialize_with = "new_member_list")]
    pub new_members: Vec<GroupMember>,
    /// `EventTime`: when it happened (milliseconds; absent from older deployments' callbacks).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
}

impl GroupAfterNewMemberJoin {
    /// A join event with its required fields; the optional ones (the time too) are `None`.
    pub fn new(
        group_id: impl Into<String>,
        new_members: impl IntoIterator<Item = impl Into<AccountId>>,
    ) -> Self {
        GroupAfterNewMemberJoin {
            command: Tag::default(),
            group_id: group_id.into(),
            group_type: None,
            join_type: None,
            operator: None,
            new_members: new_members.into_iter().map(GroupMember::new).collect(),
            event_time: None,
        }
    }
}

/// `Group.CallbackAfterMemberExit`: members left a group (by themselves, or removed by the owner, an
/// admin or the REST API).
///
/// Required on the wire: `GroupId`, `ExitMemberList`. `EventTime` is optional (an integer or a numeric
/// string; older deployments send none). Unknown fields are ignored. A `CallbackCommand` in the body, when present, must name this command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupAfterMemberExit {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<GroupAfterMemberExit>,
    /// `GroupId`: the group.
    #[serde(rename = "GroupId")]
    pub group_id: String,
    /// `Type`: the kind of group.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<GroupType>,
    /// `ExitType`: how they left.
    #[serde(rename = "ExitType", default, skip_serializing_if = "Option::is_none")]
    pub exit_type: Option<ExitType>,
    /// `Operator_Account`: who made the request (the member itself when it quit).
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `ExitMemberList`: the members who left (at most
    /// [`DEFAULT_MAX_MEMBERS`](crate::Config::DEFAULT_MAX_MEMBERS) entries: a longer list is refused while it is
    /// decoded).
    #[serde(rename = "ExitMemberList", deserialize_with = "exit_member_list")]
    pub exit_members: Vec<GroupMember>,
    /// `EventTime`: when it happened (milliseconds; absent from older deployments' callbacks).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
}

impl GroupAfterMemberExit {
    /// An exit event with its required fields; the optional ones (the time too) are `None`.
    pub fn new(
        group_id: impl Into<String>,
        exit_members: impl IntoIterator<Item = impl Into<AccountId>>,
    ) -> Self {
        GroupAfterMemberExit {
            command: Tag::default(),
            group_id: group_id.into(),
            group_type: None,
            exit_type: None,
            operator: None,
            exit_members: exit_members.into_iter().map(GroupMember::new).collect(),
            event_time: None,
        }
    }
}
