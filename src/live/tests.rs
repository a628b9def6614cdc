//! Tencent's documented samples of the four Live callbacks, bodies in the shapes real deployments send
//! (protocol.md §10), and the decoding rules.
//!
//! Each documented sample is the request sample of the page named above it, with the docs' `//`
//! comments removed and the commas they swallowed restored (the wire is plain JSON).

use super::*;
use crate::event::{RoomType, TakeSeatMode};
use crate::value::{AccountId, EventTime, UnixSeconds};

/// https://trtc.io/document/64424 (member state): the query table names the command
/// `Live.CallbackMemberStateChanged`, the body `Live.CallbackAfterMemberStateChanged`.
const MEMBER_STATE: &str = r#"{"CallbackCommand":"Live.CallbackAfterMemberStateChanged","RoomId":"room_id",
 "EventType":"Online","EventCause":"Enter",
 "MemberList":[{"Member_Account":"jared"},{"Member_Account":"tommy"}],"EventTime":1703589922780}"#;

/// https://cloud.tencent.com/document/product/647/110679 (create room): `EventTime` inside `RoomInfo`.
const CREATE_ROOM: &str = r#"{"CallbackCommand":"Live.CallbackAfterCreateRoom","Operator_Account":"admin",
 "RoomInfo":{"RoomId":"tandy-test-rest","RoomName":"tandy-test-rest","RoomType":"Live","Owner_Account":"user3",
  "MaxMemberCount":300,"IsMessageDisabled":true,"CustomInfo":"custom123","IsSeatEnabled":true,
  "TakeSeatMode":"ApplyToTake","MaxSeatCount":16,"CreateTime":1703589922,"IsPublicVisible":true,
  "CoverURL":"cover url","Category":[1,2],"EventTime":1703589922780}}"#;

/// https://www.tencentcloud.com/zh/document/product/647/64422 (create room, newest): no `EventTime`.
const CREATE_ROOM_NEW: &str = r#"{"CallbackCommand":"Live.CallbackAfterCreateRoom","Operator_Account":"admin",
 "RoomInfo":{"RoomId":"tandy-test-rest","RoomName":"tandy-test-rest","RoomType":"Live","Owner_Account":"user3",
  "MaxMemberCount":300,"IsMessageDisabled":true,"CustomInfo":"custom123","IsSeatEnabled":true,
  "TakeSeatMode":"ApplyToTake","MaxSeatCount":16,"CreateTime":1703589922,"IsPublicVisible":true,
  "CoverURL":"cover url","Category":[1,2]}}"#;

/// https://cloud.tencent.com/document/product/647/115659 (update room info).
const UPDATE_ROOM: &str = r#"{"CallbackCommand":"Live.CallbackAfterUpdateRoomInfo","Operator_Account":"bob",
 "RoomInfo":{"RoomId":"live-room","RoomName":"rname-123","MaxMemberCount":300,"IsMessageDisabled":false,
  "CoverURL":"https://xxxx.png","Category":[1,2,3],"ActivityStatus":1,"IsPublicVisible":false,
  "TakeSeatMode":"ApplyToTake","CustomInfo":"custom123"},
 "EventTime":1670574414123}"#;

/// https://cloud.tencent.com/document/product/647/110524 and https://trtc.io/document/64423 (destroy
/// room): `Owner_Account` a number, `RoomInfo` keys the create page does not list, the room's figures.
const DESTROY_ROOM: &str = r#"{"CallbackCommand":"Live.CallbackAfterDestroyRoom","Operator_Account":"admin",
 "RoomId":"tandy-test-rest","EventType":"DestroyByUser","EventTime":1703589922780,
 "RoomInfo":{"RoomName":"live name","RoomType":"Live","Owner_Account":144115216631667826,"IsSeatEnabled":true,
  "TakeSeatMode":"FreeToTake","MaxMemberCount":400,"MaxSeatCount":4,"Category":[1,2,3],"CustomInfo":"",
  "IsMessageDisabled":false,"CoverURL":"cover url","ActivityStatus":0,"IsPublicVisible":false,"ViewCount":0,
  "BackgroundURL":"background url","IsUnlimitedRoomEnabled":true},
 "Statistic":{"TotalViewers":0,"TotalGiftsSent":0,"TotalGiftCoins":0,"TotalUniqueGiftSenders":0,"TotalLikesReceived":0}}"#;

/// Every documented sample with the command it is sent under.
const SAMPLES: &[(&str, &str)] = &[
    ("Live.CallbackAfterMemberStateChanged", MEMBER_STATE),
    ("Live.CallbackAfterCreateRoom", CREATE_ROOM),
    ("Live.CallbackAfterCreateRoom", CREATE_ROOM_NEW),
    ("Live.CallbackAfterUpdateRoomInfo", UPDATE_ROOM),
    ("Live.CallbackAfterDestroyRoom", DESTROY_ROOM),
];

// Bodies in the shapes real deployments send.

/// A heartbeat timeout, pretty-printed, no `EventTime`, a numeric account.
const REAL_TIMEOUT: &str = "{\n  \"CallbackCommand\": \"Live.CallbackMemberStateChanged\",\n  \"RoomId\": \"live_8848\",\n  \"EventType\": \"Offline\",\n  \"EventCause\": \"HeartbeatInterrupt\",\n  \"MemberList\": [\n    {\n      \"Member_Account\": 144115212826616432\n    }\n  ]\n}";

/// A kick, compact, a string `EventTime`.
const REAL_KICKED: &str = r#"{"CallbackCommand":"Live.CallbackAfterMemberStateChanged","RoomId":"live_8848","EventType":"Offline","EventCause":"Kicked","MemberList":[{"Member_Account":"u_1"},{"Member_Account":"u_2"}],"EventTime":"1687771618457"}"#;

/// Destroyed by the system, by the system account, non-ASCII escaped, a string `Owner_Account`,
/// `RoomInfo` keys no doc lists.
const REAL_DESTROY: &str = r#"{"CallbackCommand":"Live.CallbackAfterDestroyRoom","Operator_Account":"@TIM#SYSTEM","RoomId":"live_8848","EventType":"DestroyBySystem","EventTime":1687771618457,"RoomInfo":{"RoomId":"live_8848","RoomName":"\u5468\u672b\u76f4\u64ad","RoomType":"Live","Owner_Account":"144115212826616432","SeatLayoutTemplateId":600,"KeepOwnerOnSeat":true,"IsGiftEnabled":true}}"#;

fn assert_malformed(result: Result<impl std::fmt::Debug, crate::Rejection>, what: &str) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), RejectionKind::MalformedBody, "{what}: {err}");
}

#[test]
fn member_state_sample() {
    let e = LiveMemberStateChanged::from_json(MEMBER_STATE.as_bytes()).unwrap();
    let mut want =
        LiveMemberStateChanged::new("room_id", MemberEventType::Online, ["jared", "tommy"]);
    want.event_cause = Some(MemberEventCause::Enter);
    want.event_time = Some(EventTime::from_millis(1703589922780));
    assert_eq!(e, want);
}

#[test]
fn create_room_samples() {
    let e = LiveCreateRoom::from_json(CREATE_ROOM.as_bytes()).unwrap();
    assert_eq!(e.operator.as_ref().unwrap(), "admin");
    let info = &e.room_info;
    assert_eq!(info.room_id.as_deref(), Some("tandy-test-rest"));
    assert_eq!(info.room_type, Some(RoomType::Live));
    assert_eq!(info.owner.as_ref().unwrap(), "user3");
    assert_eq!(info.max_member_count, Some(300));
    assert_eq!(info.max_seat_count, Some(16));
    assert_eq!(info.message_disabled, Some(true));
    assert_eq!(info.seat_enabled, Some(true));
    assert_eq!(info.take_seat_mode, Some(TakeSeatMode::ApplyToTake));
    assert_eq!(info.create_time, Some(UnixSeconds::from_secs(1703589922)));
    assert_eq!(info.public_visible, Some(true));
    assert_eq!(info.cover_url.as_deref(), Some("cover url"));
    assert_eq!(info.category, [1, 2]);
    // The sample's `EventTime` inside `RoomInfo` is kept there, not taken for the event's.
    assert_eq!(e.event_time, None);
    assert_eq!(info.extra["EventTime"], 1703589922780u64);
    assert_eq!(info.extra.len(), 1);

    let newer = LiveCreateRoom::from_json(CREATE_ROOM_NEW.as_bytes()).unwrap();
    assert!(newer.room_info.extra.is_empty());
    assert_eq!(newer.event_time, None);
}

#[test]
fn update_room_sample() {
    let e = LiveUpdateRoomInfo::from_json(UPDATE_ROOM.as_bytes()).unwrap();
    assert_eq!(e.operator.as_ref().unwrap(), "bob");
    assert_eq!(e.room_info.room_id.as_deref(), Some("live-room"));
    assert_eq!(e.room_info.activity_status, Some(1));
    assert_eq!(e.room_info.category, [1, 2, 3]);
    assert_eq!(e.room_info.owner, None);
    assert_eq!(e.event_time, Some(EventTime::from_millis(1670574414123)));
}

#[test]
fn destroy_room_sample() {
    let e = LiveDestroyRoom::from_json(DESTROY_ROOM.as_bytes()).unwrap();
    assert_eq!(e.room_id, "tandy-test-rest");
    assert_eq!(e.event_type, Some(DestroyType::ByUser));
    assert_eq!(e.event_time, Some(EventTime::from_millis(1703589922780)));
    let info = e.room_info.as_ref().unwrap();
    // A number in the sample: its exact digits.
    assert_eq!(info.owner.as_ref().unwrap(), "144115216631667826");
    assert_eq!(info.view_count, Some(0));
    assert_eq!(info.background_url.as_deref(), Some("background url"));
    assert_eq!(info.unlimited_room_enabled, Some(true));
    assert_eq!(info.custom_info.as_deref(), Some(""));
    assert!(info.extra.is_empty());
    let stat = e.statistic.as_ref().unwrap();
    assert_eq!(stat.total_viewers, Some(0));
    assert_eq!(stat.total_likes_received, Some(0));
    let stat = LiveDestroyRoom::from_json(
        br#"{"RoomId":"r","Statistic":{"TotalViewers":"1200","TotalGiftCoins":99,"New":true}}"#,
    )
    .unwrap()
    .statistic
    .unwrap();
    assert_eq!(
        (
            stat.total_viewers,
            stat.total_gift_coins,
            stat.total_gifts_sent
        ),
        (Some(1200), Some(99), None)
    );

    // The older shape: no `RoomInfo`.
    let e = LiveDestroyRoom::from_json(
        br#"{"CallbackCommand":"Live.CallbackAfterDestroyRoom","Operator_Account":"admin","RoomId":"r","EventType":"DestroyBySystem","EventTime":1}"#,
    )
    .unwrap();
    assert_eq!(e.room_info, None);
    assert_eq!(e.event_type, Some(DestroyType::BySystem));
    let e = LiveDestroyRoom::from_json(br#"{"RoomId":"r","RoomInfo":null}"#).unwrap();
    assert_eq!(e, LiveDestroyRoom::new("r"));
}

#[test]
fn real_bodies() {
    // The alias in the body, whichever spelling the query used.
    for command in [
        "Live.CallbackMemberStateChanged",
        "Live.CallbackAfterMemberStateChanged",
    ] {
        let LiveEvent::MemberStateChanged(e) =
            LiveEvent::from_json(command, REAL_TIMEOUT.as_bytes()).unwrap()
        else {
            panic!("not a member-state change")
        };
        assert_eq!(e.event_type, MemberEventType::Offline);
        assert_eq!(e.event_cause, Some(MemberEventCause::HeartbeatInterrupt));
        assert_eq!(e.members, [LiveMember::new("144115212826616432")]);
        assert_eq!(e.event_time, None);
    }

    let e = LiveMemberStateChanged::from_json(REAL_KICKED.as_bytes()).unwrap();
    assert_eq!(e.event_cause, Some(MemberEventCause::Kicked));
    assert_eq!(e.event_time, Some(EventTime::from_millis(1687771618457)));
    assert_eq!(e.members.len(), 2);

    let e = LiveDestroyRoom::from_json(REAL_DESTROY.as_bytes()).unwrap();
    assert_eq!(e.operator.as_ref().unwrap(), "@TIM#SYSTEM");
    assert_eq!(e.event_type, Some(DestroyType::BySystem));
    let info = e.room_info.as_ref().unwrap();
    assert_eq!(info.room_name.as_deref(), Some("周末直播"));
    assert_eq!(info.owner.as_ref().unwrap(), "144115212826616432");
    assert_eq!(info.extra["SeatLayoutTemplateId"], 600);
    assert_eq!(info.extra["KeepOwnerOnSeat"], true);
    assert_eq!(info.extra.len(), 3);
    // Unknown keys go back out, after the known ones (in serde_json's map order: sorted unless its
    // `preserve_order` is on).
    let json = serde_json::to_string(&e).unwrap();
    let unknown = &json[json
        .find(r#""Owner_Account":"144115212826616432","#)
        .unwrap()..];
    for key in [
        r#""SeatLayoutTemplateId":600"#,
        r#""KeepOwnerOnSeat":true"#,
        r#""IsGiftEnabled":true"#,
    ] {
        assert!(unknown.contains(key), "{json}");
    }
    assert_eq!(LiveDestroyRoom::from_json(json.as_bytes()).unwrap(), e);
}

#[test]
fn live_event_dispatches_every_sample_and_round_trips() {
    assert_eq!(COMMANDS.len(), 4);
    for (command, body) in SAMPLES {
        let e = LiveEvent::from_json(command, body.as_bytes()).unwrap();
        assert_eq!(e.command_name(), *command);
        let json = serde_json::to_vec(&e).unwrap();
        assert_eq!(
            LiveEvent::from_json(command, &json).unwrap(),
            e,
            "{command}"
        );
    }
    let e = LiveEvent::from_json("Live.CallbackAfterDestroyRoom", DESTROY_ROOM.as_bytes()).unwrap();
    assert_eq!(e.room_id(), Some("tandy-test-rest"));
    assert_eq!(e.event_time(), Some(EventTime::from_millis(1703589922780)));
    let e =
        LiveEvent::from_json("Live.CallbackAfterCreateRoom", CREATE_ROOM_NEW.as_bytes()).unwrap();
    assert_eq!(e.room_id(), Some("tandy-test-rest"));
    assert_eq!(e.event_time(), None);
    let e =
        LiveEvent::from_json("Live.CallbackMemberStateChanged", MEMBER_STATE.as_bytes()).unwrap();
    assert_eq!(e.room_id(), Some("room_id"));
    assert_eq!(
        LiveEvent::from(LiveDestroyRoom::new("r")).command_name(),
        LiveDestroyRoom::COMMAND
    );
    // The canonical name when serialized, whichever spelling came.
    let aliased = MEMBER_STATE.replace(
        "Live.CallbackAfterMemberStateChanged",
        "Live.CallbackMemberStateChanged",
    );
    let e = LiveMemberStateChanged::from_json(aliased.as_bytes()).unwrap();
    assert!(serde_json::to_string(&e)
        .unwrap()
        .starts_with(r#"{"CallbackCommand":"Live.CallbackAfterMemberStateChanged","#));
}

#[test]
fn serializes_with_tencent_names() {
    let e = LiveMemberStateChanged::from_json(REAL_KICKED.as_bytes()).unwrap();
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"CallbackCommand":"Live.CallbackAfterMemberStateChanged","RoomId":"live_8848","EventType":"Offline","EventCause":"Kicked","MemberList":[{"Member_Account":"u_1"},{"Member_Account":"u_2"}],"EventTime":1687771618457}"#
    );
    let e = LiveDestroyRoom::new("r");
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"CallbackCommand":"Live.CallbackAfterDestroyRoom","RoomId":"r"}"#
    );
}

#[test]
fn unknown_values_are_kept_and_quirks_tolerated() {
    let e = LiveMemberStateChanged::from_json(
        br#"{"RoomId":"r","EventType":"Suspended","EventCause":"Banned","MemberList":[],"Extra":{"x":[1]}}"#,
    )
    .unwrap();
    assert_eq!(e.event_type, MemberEventType::Other("Suspended".into()));
    assert_eq!(
        e.event_cause,
        Some(MemberEventCause::Other("Banned".into()))
    );
    assert!(serde_json::to_string(&e)
        .unwrap()
        .contains(r#""EventType":"Suspended","EventCause":"Banned""#));
    // ASCII case is ignored; the documented spelling goes back out.
    let e = LiveMemberStateChanged::from_json(
        br#"{"RoomId":"r","EventType":"offline","EventCause":"heartbeatinterrupt","MemberList":[]}"#,
    )
    .unwrap();
    assert_eq!(e.event_type, MemberEventType::Offline);
    assert_eq!(e.event_cause, Some(MemberEventCause::HeartbeatInterrupt));
    for (wire, want) in [
        ("Enter", MemberEventCause::Enter),
        ("Leave", MemberEventCause::Leave),
        ("HeartbeatInterrupt", MemberEventCause::HeartbeatInterrupt),
        ("HeartbeatRecover", MemberEventCause::HeartbeatRecover),
        ("Kicked", MemberEventCause::Kicked),
    ] {
        assert_eq!(MemberEventCause::parse(wire), want);
        assert_eq!(want.as_str(), wire);
    }
    assert_eq!(DestroyType::ByUser.as_str(), "DestroyByUser");
    assert_eq!(DestroyType::parse("destroybysystem"), DestroyType::BySystem);

    // Numbers as strings, booleans as strings.
    let e = LiveUpdateRoomInfo::from_json(
        br#"{"RoomInfo":{"MaxMemberCount":"300","IsPublicVisible":"false","Category":["1",2],"ViewCount":"12","ActivityStatus":"3"},"EventTime":"1670574414123"}"#,
    )
    .unwrap();
    assert_eq!(e.room_info.max_member_count, Some(300));
    assert_eq!(e.room_info.public_visible, Some(false));
    assert_eq!(e.room_info.category, [1, 2]);
    assert_eq!(e.room_info.view_count, Some(12));
    assert_eq!(e.room_info.activity_status, Some(3));
    assert_eq!(e.event_time, Some(EventTime::from_millis(1670574414123)));
}

#[test]
fn refusals() {
    for bad in [
        &br#"{"EventType":"Online","MemberList":[]}"#[..],
        br#"{"RoomId":5,"EventType":"Online","MemberList":[]}"#,
        br#"{"RoomId":"r","MemberList":[]}"#,
        br#"{"RoomId":"r","EventType":"Online"}"#,
        br#"{"RoomId":"r","EventType":1,"MemberList":[]}"#,
        br#"{"RoomId":"r","EventType":"Online","MemberList":["a"]}"#,
        br#"{"RoomId":"r","EventType":"Online","MemberList":[{"Member_Account":1.5}]}"#,
        br#"{"RoomId":"r","EventType":"Online","MemberList":[{}]}"#,
        br#"{"RoomId":"r","EventType":"Online","MemberList":[],"EventTime":"soon"}"#,
        br#"{"CallbackCommand":"Live.CallbackAfterDestroyRoom","RoomId":"r","EventType":"Online","MemberList":[]}"#,
        br#"{"CallbackCommand":"live.callbackaftermemberstatechanged","RoomId":"r","EventType":"Online","MemberList":[]}"#,
        br#"["Live.CallbackAfterMemberStateChanged","r","Online",null,[]]"#,
        b"",
        b"null",
        b"{",
    ] {
        assert_malformed(
            LiveEvent::from_json("Live.CallbackMemberStateChanged", bad),
            &String::from_utf8_lossy(bad),
        );
    }
    for bad in [
        &br#"{"Operator_Account":"admin"}"#[..],
        br#"{"RoomInfo":null}"#,
        br#"{"RoomInfo":"r"}"#,
        br#"{"RoomInfo":{"RoomId":5}}"#,
        br#"{"RoomInfo":{"Category":"1,2"}}"#,
        br#"{"RoomInfo":{"Category":[1.5]}}"#,
        br#"{"RoomInfo":{"Owner_Account":true}}"#,
    ] {
        assert_malformed(
            LiveCreateRoom::from_json(bad),
            &String::from_utf8_lossy(bad),
        );
    }
    assert_malformed(
        LiveDestroyRoom::from_json(br#"{"RoomId":"r","RoomInfo":"x"}"#),
        "RoomInfo a string",
    );
    assert_malformed(
        LiveDestroyRoom::from_json(br#"{"RoomId":"r","Statistic":{"TotalViewers":-1}}"#),
        "a negative count",
    );
    let err = LiveEvent::from_json("Live.CallbackBeforeSendGift", b"{}").unwrap_err();
    assert_eq!(err.kind(), RejectionKind::UnknownCommand);
    let err =
        LiveEvent::from_json("Room.CallbackAfterDestroyRoom", DESTROY_ROOM.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), RejectionKind::UnknownCommand);
    // A mismatch is explained.
    let err = LiveCreateRoom::from_json(DESTROY_ROOM.as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("CallbackCommand in the body is \"Live.CallbackAfterDestroyRoom\""),
        "{err}"
    );
}

#[test]
fn member_lists_are_bounded() {
    let body = |n: usize| {
        format!(
            r#"{{"RoomId":"r","EventType":"Offline","MemberList":[{}]}}"#,
            vec![r#"{"Member_Account":"a"}"#; n].join(",")
        )
    };
    let max = crate::Config::DEFAULT_MAX_MEMBERS;
    assert_eq!(
        LiveMemberStateChanged::from_json(body(max).as_bytes())
            .unwrap()
            .members
            .len(),
        max
    );
    let err = LiveMemberStateChanged::from_json(body(max + 1).as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("MemberList: the list is longer than 10000 entries"),
        "{err}"
    );
    let narrow = crate::event::decode_json::<LiveMemberStateChanged>(body(2).as_bytes(), 1);
    assert_malformed(narrow, "2 members under a bound of 1");
    let account = AccountId::from("a");
    assert_eq!(LiveMember::new(account.clone()).account, account);
}
