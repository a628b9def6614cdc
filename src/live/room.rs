//! `Live.CallbackAfterCreateRoom`, `Live.CallbackAfterUpdateRoomInfo`, `Live.CallbackAfterDestroyRoom`.

use serde::{Deserialize, Serialize};

use super::Tag;
use crate::event::{RoomType, TakeSeatMode};
use crate::value::{flex, object, string_enum, AccountId, EventTime, FlexU64, UnixSeconds};

/// `Category`: a list of integers (or numeric strings), bounded like a member list.
fn category<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    let list: Vec<FlexU64> = crate::value::members("Category", d)?;
    Ok(list.into_iter().map(|c| c.0).collect())
}

/// An optional unsigned integer sent as an integer or a string of digits.
fn opt_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<FlexU64>::deserialize(d)?.map(|v| v.0))
}

/// `deserialize_with` for an optional `RoomInfo` object.
fn opt_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<LiveRoomInfo>, D::Error> {
    struct Info(LiveRoomInfo);
    impl<'de> Deserialize<'de> for Info {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            object(d).map(Info)
        }
    }
    Ok(Option::<Info>::deserialize(d)?.map(|i| i.0))
}

string_enum!(
    /// Who destroyed a live room (`EventType` of [`LiveDestroyRoom`]).
    DestroyType, "destroy type" {
        /// `DestroyByUser`: a user (the owner, or an administrator through the REST API) destroyed it.
        ByUser => ["DestroyByUser"],
        /// `DestroyBySystem`: Tencent destroyed it once it was left empty.
        BySystem => ["DestroyBySystem"],
    }
);

/// A live room's information (`RoomInfo`), as sent with the create, update and destroy events.
///
/// Every field is optional (an update sends only some, and each version of the docs lists others).
/// Keys this version does not know are kept in [`extra`](Self::extra) and serialized back. Times are in
/// **seconds**.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveRoomInfo {
    /// `RoomId`.
    #[serde(rename = "RoomId", default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    /// `RoomName`.
    #[serde(rename = "RoomName", default, skip_serializing_if = "Option::is_none")]
    pub room_name: Option<String>,
    /// `RoomType`: `Live` for a live room.
    #[serde(rename = "RoomType", default, skip_serializing_if = "Option::is_none")]
    pub room_type: Option<RoomType>,
    /// `Owner_Account`: the room's owner (a string, or an integer as one sample sends it: exact digits
    /// kept either way).
    #[serde(
        rename = "Owner_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub owner: Option<AccountId>,
    /// `MaxMemberCount`.
    #[serde(
        rename = "MaxMemberCount",
        default,
        deserialize_with = "flex::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_member_count: Option<u32>,
    /// `MaxSeatCount`.
    #[serde(
        rename = "MaxSeatCount",
        default,
        deserialize_with = "flex::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_seat_count: Option<u32>,
    /// `IsSeatEnabled`: seats are used in this room.
    #[serde(
        rename = "IsSeatEnabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub seat_enabled: Option<bool>,
    /// `TakeSeatMode`: how members take seats.
    #[serde(
        rename = "TakeSeatMode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub take_seat_mode: Option<TakeSeatMode>,
    /// `IsMessageDisabled`: text messages are disabled for everyone.
    #[serde(
        rename = "IsMessageDisabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_disabled: Option<bool>,
    /// `CustomInfo`: the app's own data.
    #[serde(
        rename = "CustomInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_info: Option<String>,
    /// `CreateTime` (seconds).
    #[serde(
        rename = "CreateTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<UnixSeconds>,
    /// `IsPublicVisible`: the room is listed publicly.
    #[serde(
        rename = "IsPublicVisible",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_visible: Option<bool>,
    /// `CoverURL`: the room's cover image.
    #[serde(rename = "CoverURL", default, skip_serializing_if = "Option::is_none")]
    pub cover_url: Option<String>,
    /// `BackgroundURL`: the room's background image.
    #[serde(
        rename = "BackgroundURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub background_url: Option<String>,
    /// `Category`: the room's categories, the app's own numbers (empty when absent; bounded like a
    /// member list).
    #[serde(
        rename = "Category",
        default,
        deserialize_with = "category",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub category: Vec<u64>,
    /// `ActivityStatus`: the app's own activity status number.
    #[serde(
        rename = "ActivityStatus",
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub activity_status: Option<u64>,
    /// `ViewCount`: how many have watched.
    #[serde(
        rename = "ViewCount",
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub view_count: Option<u64>,
    /// `IsUnlimitedRoomEnabled`: the room has no member limit.
    #[serde(
        rename = "IsUnlimitedRoomEnabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub unlimited_room_enabled: Option<bool>,
    /// Every other key, as sent (Tencent adds keys over time; an older create-room sample even puts
    /// `EventTime` here). Serialized back after the known fields.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A live room's figures at its end (`Statistic` of [`LiveDestroyRoom`], newer deployments only).
///
/// Every field is optional; unknown keys are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveStatistic {
    /// `TotalViewers`: how many watched.
    #[serde(
        rename = "TotalViewers",
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_viewers: Option<u64>,
    /// `TotalGiftsSent`: how many gifts were sent.
    #[serde(
        rename = "TotalGiftsSent",
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_gifts_sent: Option<u64>,
    /// `TotalGiftCoins`: what the gifts were worth, in the app's coins.
    #[serde(
        rename = "TotalGiftCoins",
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_gift_coins: Option<u64>,
    /// `TotalUniqueGiftSenders`: how many members sent a gift.
    #[serde(
        rename = "TotalUniqueGiftSenders",
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_unique_gift_senders: Option<u64>,
    /// `TotalLikesReceived`: how many likes the room received.
    #[serde(
        rename = "TotalLikesReceived",
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_likes_received: Option<u64>,
}

/// `deserialize_with` for an optional `Statistic` object.
fn opt_statistic<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<LiveStatistic>, D::Error> {
    struct Stat(LiveStatistic);
    impl<'de> Deserialize<'de> for Stat {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            object(d).map(Stat)
        }
    }
    Ok(Option::<Stat>::deserialize(d)?.map(|s| s.0))
}

/// `Live.CallbackAfterCreateRoom`: a live room was created (by a client, or through the REST API).
///
/// Required on the wire: `RoomInfo` (an object). `Operator_Account` and `EventTime` are optional.
/// Unknown top-level fields are ignored. A `CallbackCommand` in the body, when present, must name this
/// command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveCreateRoom {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<LiveCreateRoom>,
    /// `Operator_Account`: who created the room (an administrator, or the system account
    /// `@TIM#SYSTEM`).
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `RoomInfo`: the new room.
    #[serde(rename = "RoomInfo", deserialize_with = "object")]
    pub room_info: LiveRoomInfo,
    /// `EventTime`: when it happened (milliseconds; an integer or a numeric string on the wire).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
}

impl LiveCreateRoom {
    /// An event with its required field; the optional ones are `None`.
    pub fn new(room_info: LiveRoomInfo) -> Self {
        LiveCreateRoom {
            command: Tag::default(),
            operator: None,
            room_info,
            event_time: None,
        }
    }
}

/// `Live.CallbackAfterUpdateRoomInfo`: a live room's information changed.
///
/// Required on the wire: `RoomInfo` (an object; the docs' sample sends only some fields). Unknown
/// top-level fields are ignored. A `CallbackCommand` in the body, when present, must name this command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveUpdateRoomInfo {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<LiveUpdateRoomInfo>,
    /// `Operator_Account`: who made the change.
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `RoomInfo`: the room's information after the change.
    #[serde(rename = "RoomInfo", deserialize_with = "object")]
    pub room_info: LiveRoomInfo,
    /// `EventTime`: when it happened (milliseconds; an integer or a numeric string on the wire).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
}

impl LiveUpdateRoomInfo {
    /// An event with its required field; the optional ones are `None`.
    pub fn new(room_info: LiveRoomInfo) -> Self {
        LiveUpdateRoomInfo {
            command: Tag::default(),
            operator: None,
            room_info,
            event_time: None,
        }
    }
}

/// `Live.CallbackAfterDestroyRoom`: a live room was destroyed, by a user or by Tencent once it was
/// empty. No member-state callback follows for that room.
///
/// Required on the wire: `RoomId` (a string). `Operator_Account`, `EventType`, `EventTime`, and
/// `RoomInfo` (the room as it was) and `Statistic` (its figures), which newer deployments add, are
/// optional. Unknown fields are ignored. A
/// `CallbackCommand` in the body, when present, must name this command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveDestroyRoom {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<LiveDestroyRoom>,
    /// `Operator_Account`: who destroyed the room (the system account `@TIM#SYSTEM` when Tencent did).
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `RoomId`: the room.
    #[serde(rename = "RoomId")]
    pub room_id: String,
    /// `EventType`: who destroyed it.
    #[serde(rename = "EventType", default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<DestroyType>,
    /// `EventTime`: when it happened (milliseconds; an integer or a numeric string on the wire).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
    /// `RoomInfo`: the room as it was (newer deployments only).
    #[serde(
        rename = "RoomInfo",
        default,
        deserialize_with = "opt_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub room_info: Option<LiveRoomInfo>,
    /// `Statistic`: the room's figures at its end (newer deployments only).
    #[serde(
        rename = "Statistic",
        default,
        deserialize_with = "opt_statistic",
        skip_serializing_if = "Option::is_none"
    )]
    pub statistic: Option<LiveStatistic>,
}

impl LiveDestroyRoom {
    /// An event with its required field; the optional ones are `None`.
    pub fn new(room_id: impl Into<String>) -> Self {
        LiveDestroyRoom {
            command: Tag::default(),
            operator: None,
            room_id: room_id.into(),
            event_type: None,
            event_time: None,
            room_info: None,
            statistic: None,
        }
    }
}
