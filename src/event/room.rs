//! `Room.CallbackAfterCreateRoom`, `Room.CallbackAfterDestroyRoom`, `Room.CallbackAfterUpdateRoomInfo`.

use serde::{Deserialize, Serialize};

use super::CommandTag;
use crate::value::{flex, object, string_enum, AccountId, EventTime, UnixSeconds};

/// `ScheduleInviteeList_Account`, bounded ([`crate::Config::max_members`]).
fn invitee_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<AccountId>, D::Error> {
    crate::value::members("ScheduleInviteeList_Account", d)
}

string_enum!(
    /// The kind of room (`RoomType`).
    RoomType, "room type" {
        /// `Meeting`.
        Meeting => ["Meeting"],
        /// `Live`.
        Live => ["Live"],
    }
);

string_enum!(
    /// The state of a room (`RoomStatus`).
    RoomStatus, "room status" {
        /// `None`.
        None => ["None"],
        /// `NotStarted`: scheduled, not started.
        NotStarted => ["NotStarted"],
        /// `Running`.
        Running => ["Running"],
    }
);

string_enum!(
    /// How members take seats (`TakeSeatMode`).
    TakeSeatMode, "take-seat mode" {
        /// `None`: seats are not used.
        None => ["None"],
        /// `FreeToTake`: members take seats freely.
        FreeToTake => ["FreeToTake"],
        /// `ApplyToTake`: members apply, the owner approves.
        ApplyToTake => ["ApplyToTake"],
    }
);

/// A room's information (`RoomInfo`), as sent with create and update events.
///
/// Every field is optional: the update event may send only some (the docs do not say), and a field this
/// version does not know is ignored. Times are in **seconds**.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RoomInfo {
    /// `RoomId`.
    #[serde(rename = "RoomId", default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    /// `RoomName`.
    #[serde(rename = "RoomName", default, skip_serializing_if = "Option::is_none")]
    pub room_name: Option<String>,
    /// `RoomType`, e.g. `Meeting`.
    #[serde(rename = "RoomType", default, skip_serializing_if = "Option::is_none")]
    pub room_type: Option<RoomType>,
    /// `Owner_Account`: the room's owner.
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
    /// `IsVideoDisabled`: video is disabled for everyone.
    #[serde(
        rename = "IsVideoDisabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub video_disabled: Option<bool>,
    /// `IsAudioDisabled`: audio is disabled for everyone.
    #[serde(
        rename = "IsAudioDisabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub audio_disabled: Option<bool>,
    /// `IsMessageDisabled`: messages are disabled for everyone.
    #[serde(
        rename = "IsMessageDisabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_disabled: Option<bool>,
    /// `IsScreenSharingDisabled`: screen sharing is disabled.
    #[serde(
        rename = "IsScreenSharingDisabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub screen_sharing_disabled: Option<bool>,
    /// `IsCloudRecordingDisabled`: cloud recording is disabled (sent as `"false"` in Tencent's sample).
    #[serde(
        rename = "IsCloudRecordingDisabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_recording_disabled: Option<bool>,
    /// `CustomInfo`: the app's own data.
    #[serde(
        rename = "CustomInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_info: Option<String>,
    /// `ScheduleStartTime` (seconds).
    #[serde(
        rename = "ScheduleStartTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule_start_time: Option<UnixSeconds>,
    /// `ScheduleEndTime` (seconds).
    #[serde(
        rename = "ScheduleEndTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule_end_time: Option<UnixSeconds>,
    /// `RoomStatus`.
    #[serde(
        rename = "RoomStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub room_status: Option<RoomStatus>,
    /// `IsSeatEnabled`: seats are used in this room.
    #[serde(
        rename = "IsSeatEnabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub seat_enabled: Option<bool>,
    /// `TakeSeatMode`.
    #[serde(
        rename = "TakeSeatMode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub take_seat_mode: Option<TakeSeatMode>,
    /// `CreateTime` (seconds).
    #[serde(
        rename = "CreateTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<UnixSeconds>,
}

/// `Room.CallbackAfterCreateRoom`: a room was created.
///
/// Required on the wire: `RoomInfo` (an object) and `EventTime`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateRoom {
    #[serde(rename = "CallbackCommand", default)]
    command: CommandTag<CreateRoom>,
    /// `Operator_Account`: who created the room.
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `RoomInfo`: the new room.
    #[serde(rename = "RoomInfo", deserialize_with = "object")]
    pub room_info: RoomInfo,
    /// `ScheduleInviteeList_Account`: invitees of a scheduled room (empty when absent; at most
    /// [`Config::max_members`](crate::Config::max_members)).
    #[serde(
        rename = "ScheduleInviteeList_Account",
        default,
        deserialize_with = "invitee_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub schedule_invitees: Vec<AccountId>,
    /// `EventTime`: when it happened (milliseconds).
    #[serde(rename = "EventTime")]
    pub event_time: EventTime,
}

impl CreateRoom {
    /// A create event with its required fields.
    pub fn new(room_info: RoomInfo, event_time: EventTime) -> Self {
        CreateRoom {
            command: CommandTag::default(),
            operator: None,
            room_info,
            schedule_invitees: Vec::new(),
            event_time,
        }
    }
}

/// `Room.CallbackAfterDestroyRoom`: a room was destroyed (by a client, the REST API, or reclaimed).
///
/// Required on the wire: `RoomId` (a string) and `EventTime`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DestroyRoom {
    #[serde(rename = "CallbackCommand", default)]
    command: CommandTag<DestroyRoom>,
    /// `Operator_Account`: who destroyed the room.
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `RoomId`: the room.
    #[serde(rename = "RoomId")]
    pub room_id: String,
    /// `EventTime`: when it happened (milliseconds).
    #[serde(rename = "EventTime")]
    pub event_time: EventTime,
}

impl DestroyRoom {
    /// A destroy event.
    pub fn new(room_id: impl Into<String>, event_time: EventTime) -> Self {
        DestroyRoom {
            command: CommandTag::default(),
            operator: None,
            room_id: room_id.into(),
            event_time,
        }
    }
}

/// `Room.CallbackAfterUpdateRoomInfo` (older name `Room.CallbackUpdateRoomInfo`, accepted too): a room's
/// information changed.
///
/// Required on the wire: `RoomInfo` (an object, every field optional) and `EventTime`. Serializes with the
/// current command name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UpdateRoomInfo {
    #[serde(rename = "CallbackCommand", default)]
    command: CommandTag<UpdateRoomInfo>,
    /// `Operator_Account`: who changed the room.
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `RoomInfo`: the room's information as sent.
    #[serde(rename = "RoomInfo", deserialize_with = "object")]
    pub room_info: RoomInfo,
    /// `EventTime`: when it happened (milliseconds).
    #[serde(rename = "EventTime")]
    pub event_time: EventTime,
}

impl UpdateRoomInfo {
    /// An update event.
    pub fn new(room_info: RoomInfo, event_time: EventTime) -> Self {
        UpdateRoomInfo {
            command: CommandTag::default(),
            operator: None,
            room_info,
            event_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    #[test]
    fn create_sample() {
        let e = CreateRoom::from_json(br#"{"CallbackCommand":"Room.CallbackAfterCreateRoom","Operator_Account":"admin",
 "RoomInfo":{"RoomId":"tandy-test-rest","RoomName":"tandy-test-rest","RoomType":"Meeting","Owner_Account":"user3",
  "MaxMemberCount":300,"MaxSeatCount":16,"IsVideoDisabled":true,"IsAudioDisabled":true,"IsMessageDisabled":true,
  "IsScreenSharingDisabled":true,"IsCloudRecordingDisabled":true,"CustomInfo":"custom123",
  "ScheduleStartTime":1703589922,"ScheduleEndTime":1703593522,"RoomStatus":"Running","IsSeatEnabled":true,
  "TakeSeatMode":"ApplyToTake","CreateTime":1703589922},
 "ScheduleInviteeList_Account":["user2","user3","user3"],"EventTime":1703589922780}"#).unwrap();
        let i = &e.room_info;
        assert_eq!(e.room_id(), Some("tandy-test-rest"));
        assert_eq!(i.room_type, Some(RoomType::Meeting));
        assert_eq!(i.owner.as_ref().unwrap(), "user3");
        assert_eq!(
            (i.max_member_count, i.max_seat_count),
            (Some(300), Some(16))
        );
        assert_eq!(i.cloud_recording_disabled, Some(true));
        assert_eq!(i.room_status, Some(RoomStatus::Running));
        assert_eq!(i.take_seat_mode, Some(TakeSeatMode::ApplyToTake));
        assert_eq!(i.seat_enabled, Some(true));
        assert_eq!(i.create_time.unwrap().as_secs(), 1703589922);
        assert_eq!(i.schedule_end_time.unwrap().as_secs(), 1703593522);
        assert_eq!(e.schedule_invitees.len(), 3);
        assert_eq!(e.event_time.as_millis(), 1703589922780);
        let back = serde_json::to_vec(&e).unwrap();
        assert_eq!(CreateRoom::from_json(&back).unwrap(), e);
    }

    #[test]
    fn update_sample_with_string_boolean_and_old_name() {
        let body = br#"{"CallbackCommand":"Room.CallbackAfterUpdateRoomInfo","Operator_Account":"bob",
 "RoomInfo":{"RoomId":"rid-123","RoomName":"rname-123","Owner_Account":"jack","TakeSeatMode":"FreeToTake",
  "MaxMemberCount":300,"IsVideoDisabled":false,"IsAudioDisabled":false,"IsMessageDisabled":false,
  "IsScreenSharingDisabled":false,"IsCloudRecordingDisabled":"false","CustomInfo":"123"},
 "EventTime":1670574414123}"#;
        let e = UpdateRoomInfo::from_json(body).unwrap();
        assert_eq!(e.room_info.cloud_recording_disabled, Some(false));
        assert_eq!(e.room_info.take_seat_mode, Some(TakeSeatMode::FreeToTake));
        assert_eq!(e.room_info.room_type, None);
        let old = String::from_utf8_lossy(body)
            .replace("CallbackAfterUpdateRoomInfo", "CallbackUpdateRoomInfo");
        assert_eq!(UpdateRoomInfo::from_json(old.as_bytes()).unwrap(), e);
        let only_name = UpdateRoomInfo::from_json(br#"{"RoomInfo":{"RoomName":"n","RoomType":"Webinar","RoomStatus":"Paused"},"EventTime":1}"#).unwrap();
        assert_eq!(
            only_name.room_info.room_type,
            Some(RoomType::Other("Webinar".into()))
        );
        assert_eq!(
            only_name.room_info.room_status,
            Some(RoomStatus::Other("Paused".into()))
        );
        assert_eq!(only_name.room_id(), None);
        let back = serde_json::to_vec(&e).unwrap();
        assert!(String::from_utf8_lossy(&back)
            .starts_with(r#"{"CallbackCommand":"Room.CallbackAfterUpdateRoomInfo""#));
        assert_eq!(UpdateRoomInfo::from_json(&back).unwrap(), e);
    }

    #[test]
    fn destroy_sample() {
        let e = DestroyRoom::from_json(br#"{"CallbackCommand":"Room.CallbackAfterDestroyRoom","Operator_Account":"admin","RoomId":"tandy-test-rest","EventTime":1703589922780}"#).unwrap();
        assert_eq!(e.room_id, "tandy-test-rest");
        assert_eq!(e.operator.as_ref().unwrap(), "admin");
        assert!(DestroyRoom::from_json(br#"{"RoomId":"r"}"#).is_err());
    }
}
