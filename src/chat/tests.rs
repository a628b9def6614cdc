//! Tencent's documented samples of the seven Chat callbacks, and the decoding and answer rules.
//!
//! Each fixture is the request sample of the page named above it, with the docs' `//` comments removed
//! (the wire is plain JSON) and nothing else changed unless said.

use serde_json::json;

use super::*;
use crate::meta::OptPlatform;
use crate::value::{AccountId, EventTime, UnixSeconds};

/// https://www.tencentcloud.com/zh/document/product/1047/34357 (State.StateChange).
const STATE_CHANGE: &str = r#"{"CallbackCommand":"State.StateChange","EventTime":1629883332497,
 "Info":{"Action":"Login","To_Account":"testuser316","Reason":"Register"},
 "KickedDevice":[{"Platform":"Windows"},{"Platform":"Android"}]}"#;

/// https://intl.cloud.tencent.com/document/product/1047/34364 (C2C.CallbackBeforeSendMsg).
const C2C_BEFORE: &str = r#"{"CallbackCommand":"C2C.CallbackBeforeSendMsg","From_Account":"jared",
 "To_Account":"Jonh","MsgSeq":48374,"MsgRandom":2837546,"MsgTime":1557481126,
 "MsgKey":"48374_2837546_1557481126","OnlineOnlyFlag":1,
 "MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}],
 "CloudCustomData":"your cloud custom data"}"#;

/// https://www.tencentcloud.com/document/product/1047/34365 (C2C.CallbackAfterSendMsg).
const C2C_AFTER: &str = r#"{"CallbackCommand":"C2C.CallbackAfterSendMsg","From_Account":"jared",
 "To_Account":"Jonh","MsgSeq":48374,"MsgRandom":2837546,"MsgTime":1557481126,
 "MsgKey":"48374_2837546_1557481126","OnlineOnlyFlag":1,"SendMsgResult":0,
 "ErrorInfo":"send msg succeed","UnreadMsgNum":7,
 "MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}],
 "CloudCustomData":"your cloud custom data"}"#;

/// https://www.tencentcloud.com/ko/document/product/1047/34374 (Group.CallbackBeforeSendMsg): note the
/// `EventTime` sent as a string.
const GROUP_BEFORE: &str = r#"{"CallbackCommand":"Group.CallbackBeforeSendMsg","GroupId":"@TGS#2J4SZEAEL",
 "Type":"Community","From_Account":"jared","Operator_Account":"admin","Random":123456,
 "OnlineOnlyFlag":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}],
 "CloudCustomData":"your cloud custom data","TopicId":"@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_TestTopic",
 "EventTime":"1670574414123"}"#;

/// https://intl.cloud.tencent.com/document/product/1047/34375 (Group.CallbackAfterSendMsg).
const GROUP_AFTER: &str = r#"{"CallbackCommand":"Group.CallbackAfterSendMsg","GroupId":"@TGS#2J4SZEAEL",
 "Type":"Public","From_Account":"jared","Operator_Account":"admin","Random":123456,"MsgSeq":123,
 "MsgTime":1490686222,"OnlineOnlyFlag":1,
 "MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}],
 "CloudCustomData":"your cloud custom data"}"#;

/// https://www.tencentcloud.com/document/product/647/74348 (Group.CallbackAfterSendMsg as Live sends it:
/// group type `Live`, a `MsgId`, and a string `EventTime`).
const GROUP_AFTER_LIVE: &str = r#"{"CallbackCommand":"Group.CallbackAfterSendMsg",
 "GroupId":"@TGS#2J4SZEAEL","Type":"Live","From_Account":"jared","Operator_Account":"admin",
 "Random":123456,"MsgId":"144115233406643804-1727580296-4026038328","MsgSeq":123,
 "MsgTime":1490686222,"OnlineOnlyFlag":1,
 "MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}],
 "CloudCustomData":"your cloud custom data","EventTime":"1670574414123"}"#;

/// https://www.tencentcloud.com/jp/document/product/1047/34372 (Group.CallbackAfterNewMemberJoin); the
/// page's sample lost the quote before `GroupId` to a comment, restored here.
const GROUP_JOIN: &str = r#"{"CallbackCommand":"Group.CallbackAfterNewMemberJoin",
 "GroupId":"@TGS#2J4SZEAEL","Type":"Public","JoinType":"Apply","Operator_Account":"leckie",
 "NewMemberList":[{"Member_Account":"jared"},{"Member_Account":"tommy"}],"EventTime":"1670574414123"}"#;

/// https://www.tencentcloud.com/ko/document/product/1047/34373 (Group.CallbackAfterMemberExit).
const GROUP_EXIT: &str = r#"{"CallbackCommand":"Group.CallbackAfterMemberExit",
 "GroupId":"@TGS#2J4SZEAEL","Type":"Public","ExitType":"Kicked","Operator_Account":"leckie",
 "ExitMemberList":[{"Member_Account":"jared"},{"Member_Account":"tommy"}],"EventTime":"1670574414123"}"#;

/// Every fixture with the command it is sent under.
const SAMPLES: &[(&str, &str)] = &[
    ("State.StateChange", STATE_CHANGE),
    ("C2C.CallbackBeforeSendMsg", C2C_BEFORE),
    ("C2C.CallbackAfterSendMsg", C2C_AFTER),
    ("Group.CallbackBeforeSendMsg", GROUP_BEFORE),
    ("Group.CallbackAfterSendMsg", GROUP_AFTER),
    ("Group.CallbackAfterSendMsg", GROUP_AFTER_LIVE),
    ("Group.CallbackAfterNewMemberJoin", GROUP_JOIN),
    ("Group.CallbackAfterMemberExit", GROUP_EXIT),
];

fn red_packet() -> Vec<MsgElement> {
    vec![MsgElement::from_text("red packet")]
}

fn assert_malformed(result: Result<impl std::fmt::Debug, crate::Rejection>, what: &str) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), RejectionKind::MalformedBody, "{what}: {err}");
}

// ---- each documented sample decodes to the expected value ----

#[test]
fn state_change_sample() {
    let e = StateChange::from_json(STATE_CHANGE.as_bytes()).unwrap();
    let mut info = StateChangeInfo::new(StateAction::Login, "testuser316");
    info.reason = Some(StateReason::Register);
    let mut want = StateChange::new(info);
    want.event_time = Some(EventTime::from_millis(1629883332497));
    want.kicked_devices = vec![
        KickedDevice::new(OptPlatform::Windows),
        KickedDevice::new(OptPlatform::Android),
    ];
    assert_eq!(e, want);
    assert!(!e.info.is_heartbeat_timeout());
}

#[test]
fn state_change_protocol_sample_and_kinds() {
    // The body quoted in protocol.md §8; then a logout, a heartbeat timeout, a custom status.
    let e = StateChange::from_json(br#"{"CallbackCommand":"State.StateChange","EventTime":1629883332497,"Info":{"Action":"Login","To_Account":"u1","Reason":"Register"},"KickedDevice":[{"Platform":"Android"}]}"#).unwrap();
    assert_eq!(e.info.user, "u1");
    assert_eq!(
        e.kicked_devices,
        vec![KickedDevice::new(OptPlatform::Android)]
    );

    let e = StateChange::from_json(
        br#"{"EventTime":1,"Info":{"Action":"Logout","To_Account":"u","Reason":"Unregister"}}"#,
    )
    .unwrap();
    assert_eq!(e.info.action, StateAction::Logout);
    assert!(e.kicked_devices.is_empty());

    let e = StateChange::from_json(
        br#"{"EventTime":1,"Info":{"Action":"Disconnect","To_Account":"u","Reason":"TimeOut"}}"#,
    )
    .unwrap();
    assert!(e.info.is_heartbeat_timeout());

    let e = StateChange::from_json(br#"{"EventTime":1,"Info":{"Action":"CustomStatusChange","To_Account":"u","Reason":"SetCustomStatus","CustomStatus":"busy"}}"#).unwrap();
    assert_eq!(e.info.action, StateAction::CustomStatusChange);
    assert_eq!(e.info.reason, Some(StateReason::SetCustomStatus));
    assert_eq!(e.info.custom_status.as_deref(), Some("busy"));
}

#[test]
fn c2c_before_sample() {
    let e = C2cBeforeSendMsg::from_json(C2C_BEFORE.as_bytes()).unwrap();
    let mut want = C2cBeforeSendMsg::new(
        "jared",
        "Jonh",
        48374,
        2837546,
        UnixSeconds::from_secs(1557481126),
        "48374_2837546_1557481126",
        red_packet(),
    );
    want.online_only = true;
    want.cloud_custom_data = Some("your cloud custom data".into());
    assert_eq!(e, want);
    assert_eq!(e.msg_body[0].as_text(), Some("red packet"));
    assert_eq!(e.event_time, None);
}

#[test]
fn c2c_after_sample() {
    let e = C2cAfterSendMsg::from_json(C2C_AFTER.as_bytes()).unwrap();
    let mut want = C2cAfterSendMsg::new(
        "jared",
        "Jonh",
        48374,
        2837546,
        UnixSeconds::from_secs(1557481126),
        "48374_2837546_1557481126",
        red_packet(),
    );
    want.online_only = true;
    want.send_msg_result = Some(0);
    want.error_info = Some("send msg succeed".into());
    want.unread_msg_num = Some(7);
    want.cloud_custom_data = Some("your cloud custom data".into());
    assert_eq!(e, want);
    assert!(e.is_sent());
}

#[test]
fn group_before_sample_with_string_event_time() {
    let e = GroupBeforeSendMsg::from_json(GROUP_BEFORE.as_bytes()).unwrap();
    let mut want = GroupBeforeSendMsg::new("@TGS#2J4SZEAEL", "jared", 123456, red_packet());
    want.group_type = Some(GroupType::Community);
    want.operator = Some("admin".into());
    want.online_only = true;
    want.cloud_custom_data = Some("your cloud custom data".into());
    want.topic_id = Some("@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_TestTopic".into());
    want.event_time = Some(EventTime::from_millis(1670574414123));
    assert_eq!(e, want);
}

#[test]
fn group_after_samples() {
    let e = GroupAfterSendMsg::from_json(GROUP_AFTER.as_bytes()).unwrap();
    let mut want = GroupAfterSendMsg::new(
        "@TGS#2J4SZEAEL",
        "jared",
        123456,
        123,
        UnixSeconds::from_secs(1490686222),
        red_packet(),
    );
    want.group_type = Some(GroupType::Public);
    want.operator = Some("admin".into());
    want.online_only = true;
    want.cloud_custom_data = Some("your cloud custom data".into());
    assert_eq!(e, want);

    // The Live variant: an unknown group type kept, MsgId, a string EventTime.
    let e = GroupAfterSendMsg::from_json(GROUP_AFTER_LIVE.as_bytes()).unwrap();
    want.group_type = Some(GroupType::Other("Live".into()));
    want.msg_id = Some("144115233406643804-1727580296-4026038328".into());
    want.event_time = Some(EventTime::from_millis(1670574414123));
    assert_eq!(e, want);
    assert_eq!(e.group_type.as_ref().unwrap().as_str(), "Live");
}

#[test]
fn group_join_sample() {
    let e = GroupAfterNewMemberJoin::from_json(GROUP_JOIN.as_bytes()).unwrap();
    let mut want = GroupAfterNewMemberJoin::new("@TGS#2J4SZEAEL", ["jared", "tommy"]);
    want.event_time = Some(EventTime::from_millis(1670574414123));
    want.group_type = Some(GroupType::Public);
    want.join_type = Some(JoinType::Apply);
    want.operator = Some("leckie".into());
    assert_eq!(e, want);
}

#[test]
fn group_exit_sample() {
    let e = GroupAfterMemberExit::from_json(GROUP_EXIT.as_bytes()).unwrap();
    let mut want = GroupAfterMemberExit::new("@TGS#2J4SZEAEL", ["jared", "tommy"]);
    want.event_time = Some(EventTime::from_millis(1670574414123));
    want.group_type = Some(GroupType::Public);
    want.exit_type = Some(ExitType::Kicked);
    want.operator = Some("leckie".into());
    assert_eq!(e, want);
}

#[test]
fn group_member_lists_are_bounded() {
    let body = |field: &str, n: usize| {
        format!(
            r#"{{"GroupId":"g","EventTime":1,"{field}":[{}]}}"#,
            vec![r#"{"Member_Account":"a"}"#; n].join(",")
        )
    };
    let max = crate::Config::DEFAULT_MAX_MEMBERS;
    let join = GroupAfterNewMemberJoin::from_json(body("NewMemberList", max).as_bytes()).unwrap();
    assert_eq!(join.new_members.len(), max);
    let exit = GroupAfterMemberExit::from_json(body("ExitMemberList", max).as_bytes()).unwrap();
    assert_eq!(exit.exit_members.len(), max);
    let err =
        GroupAfterNewMemberJoin::from_json(body("NewMemberList", max + 1).as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("NewMemberList: the list is longer than 10000 entries"),
        "{err}"
    );
    let err =
        GroupAfterMemberExit::from_json(body("ExitMemberList", max + 1).as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("ExitMemberList: the list is longer than 10000 entries"),
        "{err}"
    );
    // Under a narrower bound, passed explicitly (as a layer passes its configuration's).
    let narrow =
        crate::event::decode_json::<GroupAfterMemberExit>(body("ExitMemberList", 2).as_bytes(), 1);
    assert_malformed(narrow, "2 members under a bound of 1");
}

// ---- ChatEvent ----

#[test]
fn chat_event_dispatches_every_sample() {
    assert_eq!(COMMANDS.len(), 7);
    for (command, body) in SAMPLES {
        let e = ChatEvent::from_json(command, body.as_bytes()).unwrap();
        assert_eq!(e.command_name(), *command);
        assert!(COMMANDS.contains(command));
        assert_eq!(
            e.wants_send_decision(),
            command.contains("BeforeSendMsg"),
            "{command}"
        );
    }
    assert_eq!(StateChange::COMMAND, COMMANDS[0]);
    assert_eq!(C2cBeforeSendMsg::COMMAND, "C2C.CallbackBeforeSendMsg");
    assert_eq!(C2cAfterSendMsg::COMMAND, "C2C.CallbackAfterSendMsg");
    assert_eq!(GroupBeforeSendMsg::COMMAND, "Group.CallbackBeforeSendMsg");
    assert_eq!(GroupAfterSendMsg::COMMAND, "Group.CallbackAfterSendMsg");
    assert_eq!(
        GroupAfterNewMemberJoin::COMMAND,
        "Group.CallbackAfterNewMemberJoin"
    );
    assert_eq!(
        GroupAfterMemberExit::COMMAND,
        "Group.CallbackAfterMemberExit"
    );

    let e = ChatEvent::from_json("Group.CallbackAfterMemberExit", GROUP_EXIT.as_bytes()).unwrap();
    assert_eq!(e.event_time(), Some(EventTime::from_millis(1670574414123)));
    let e = ChatEvent::from_json("C2C.CallbackBeforeSendMsg", C2C_BEFORE.as_bytes()).unwrap();
    assert_eq!(e.event_time(), None);
    let from: ChatEvent = C2cBeforeSendMsg::from_json(C2C_BEFORE.as_bytes())
        .unwrap()
        .into();
    assert_eq!(from, e);
}

#[test]
fn chat_event_refuses_unknown_commands() {
    for command in [
        "",
        "Room.CallbackAfterMemberLeave",
        "state.statechange",
        "Group.CallbackAfterCreateGroup",
    ] {
        let err = ChatEvent::from_json(command, STATE_CHANGE.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::UnknownCommand, "{command:?}");
    }
}

#[test]
fn chat_event_serializes_as_the_inner_event() {
    for (command, body) in SAMPLES {
        let e = ChatEvent::from_json(command, body.as_bytes()).unwrap();
        let json = serde_json::to_vec(&e).unwrap();
        assert_eq!(
            ChatEvent::from_json(command, &json).unwrap(),
            e,
            "{command}"
        );
    }
}

// ---- quirks ----

#[test]
fn big_integer_accounts_keep_exact_digits() {
    let e = StateChange::from_json(
        br#"{"EventTime":1,"Info":{"Action":"Login","To_Account":144115233775727695}}"#,
    )
    .unwrap();
    assert_eq!(e.info.user, "144115233775727695");

    let e = C2cAfterSendMsg::from_json(
        br#"{"From_Account":144115233775727695,"To_Account":18446744073709551615,
        "MsgSeq":1,"MsgRandom":2,"MsgTime":3,"MsgKey":"1_2_3","MsgBody":[]}"#,
    )
    .unwrap();
    assert_eq!(e.from, "144115233775727695");
    assert_eq!(e.to, "18446744073709551615");

    let e = GroupBeforeSendMsg::from_json(
        br#"{"GroupId":"g","From_Account":144115233775727695,
        "Operator_Account":144115233775727696,"Random":1,"MsgBody":[]}"#,
    )
    .unwrap();
    assert_eq!(e.from, "144115233775727695");
    assert_eq!(e.operator.unwrap(), "144115233775727696");

    let e = GroupAfterNewMemberJoin::from_json(
        br#"{"GroupId":"g","EventTime":1,
        "NewMemberList":[{"Member_Account":144115233775727695},{"Member_Account":"b"}]}"#,
    )
    .unwrap();
    assert_eq!(e.new_members[0].account, "144115233775727695");
    // Serialized back as the documented string.
    let json = serde_json::to_string(&e).unwrap();
    assert!(
        json.contains(r#"{"Member_Account":"144115233775727695"}"#),
        "{json}"
    );

    // A float has lost digits already: refused, never rounded.
    assert_malformed(
        GroupAfterMemberExit::from_json(
            br#"{"GroupId":"g","EventTime":1,"ExitMemberList":[{"Member_Account":1.44e17}]}"#,
        ),
        "float account",
    );
}

#[test]
fn event_time_as_string_or_integer() {
    for t in ["1670574414123", r#""1670574414123""#] {
        let body = format!(
            r#"{{"GroupId":"g","EventTime":{t},"ExitMemberList":[{{"Member_Account":"a"}}]}}"#
        );
        let e = GroupAfterMemberExit::from_json(body.as_bytes()).unwrap();
        assert_eq!(e.event_time, Some(EventTime::from_millis(1670574414123)));
        let body = format!(
            r#"{{"GroupId":"g","From_Account":"a","Random":1,"MsgBody":[],"EventTime":{t}}}"#
        );
        let e = GroupBeforeSendMsg::from_json(body.as_bytes()).unwrap();
        assert_eq!(e.event_time, Some(EventTime::from_millis(1670574414123)));
    }
    for bad in [r#""""#, r#""1.5""#, "-1", "1.5", r#""abc""#] {
        let body = format!(r#"{{"EventTime":{bad},"Info":{{"Action":"Login","To_Account":"u"}}}}"#);
        assert_malformed(StateChange::from_json(body.as_bytes()), bad);
    }
}

#[test]
fn numbers_and_flags_are_tolerant_but_exact() {
    let e = C2cAfterSendMsg::from_json(
        br#"{"From_Account":"a","To_Account":"b","MsgSeq":"48374",
        "MsgRandom":"2837546","MsgTime":"1557481126","MsgKey":"k","OnlineOnlyFlag":"0",
        "SendMsgResult":"20003","UnreadMsgNum":"7","MsgBody":[]}"#,
    )
    .unwrap();
    assert_eq!((e.msg_seq, e.msg_random), (48374, 2837546));
    assert_eq!(e.msg_time.as_secs(), 1557481126);
    assert!(!e.online_only);
    assert_eq!(e.send_msg_result, Some(20003));
    assert!(!e.is_sent());
    assert_eq!(e.unread_msg_num, Some(7));

    let e = GroupBeforeSendMsg::from_json(
        br#"{"GroupId":"g","From_Account":"a","Random":1,"MsgBody":[],"OnlineOnlyFlag":true}"#,
    )
    .unwrap();
    assert!(e.online_only);
    let e = GroupBeforeSendMsg::from_json(
        br#"{"GroupId":"g","From_Account":"a","Random":1,"MsgBody":[]}"#,
    )
    .unwrap();
    assert!(!e.online_only);
    // Serialized as the documented integer.
    assert!(serde_json::to_string(&e)
        .unwrap()
        .contains(r#""OnlineOnlyFlag":0"#));

    for flag in ["2", "-1", r#""yes""#, "null", "1.0"] {
        let body = format!(
            r#"{{"GroupId":"g","From_Account":"a","Random":1,"MsgBody":[],"OnlineOnlyFlag":{flag}}}"#
        );
        assert_malformed(GroupBeforeSendMsg::from_json(body.as_bytes()), flag);
    }
    for seq in ["-1", "1.5", r#""""#, "18446744073709551616"] {
        let body = format!(r#"{{"GroupId":"g","From_Account":"a","Random":{seq},"MsgBody":[]}}"#);
        assert_malformed(GroupBeforeSendMsg::from_json(body.as_bytes()), seq);
    }
}

#[test]
fn unknown_fields_are_ignored() {
    for (command, body) in SAMPLES {
        // Add an unknown field, with nested content, at the top.
        let with_extra = body.replacen('{', r#"{"FutureField":{"nested":[1,2,{"x":null}]},"#, 1);
        let a = ChatEvent::from_json(command, body.as_bytes()).unwrap();
        let b = ChatEvent::from_json(command, with_extra.as_bytes()).unwrap();
        assert_eq!(a, b, "{command}");
    }
    let e = StateChange::from_json(
        br#"{"EventTime":1,"Info":{"Action":"Login","To_Account":"u","New":1},
        "KickedDevice":[{"Platform":"iOS","Model":"x"}]}"#,
    )
    .unwrap();
    assert_eq!(e.kicked_devices[0].platform, OptPlatform::Ios);
    let e = GroupAfterMemberExit::from_json(
        br#"{"GroupId":"g","EventTime":1,"ExitMemberList":[{"Member_Account":"a","Role":"Admin"}]}"#,
    )
    .unwrap();
    assert_eq!(e.exit_members, vec![GroupMember::new("a")]);
}

#[test]
fn unknown_enum_values_are_kept() {
    let e = StateChange::from_json(br#"{"EventTime":1,"Info":{"Action":"TimeoutDisconnect","To_Account":"u","Reason":"Kickout"},
        "KickedDevice":[{"Platform":"IOS"},{"Platform":"Linux"},{"Platform":"macOS"}]}"#)
    .unwrap();
    assert_eq!(
        e.info.action,
        StateAction::Other("TimeoutDisconnect".into())
    );
    assert_eq!(e.info.reason, Some(StateReason::Other("Kickout".into())));
    assert_eq!(
        e.kicked_devices
            .iter()
            .map(|d| d.platform.clone())
            .collect::<Vec<_>>(),
        [
            OptPlatform::Ios,
            OptPlatform::Other("Linux".into()),
            OptPlatform::Mac
        ]
    );
    // Unknown values serialize back as sent.
    let json = serde_json::to_string(&e).unwrap();
    assert!(json.contains(r#""Action":"TimeoutDisconnect""#), "{json}");
    assert!(json.contains(r#"{"Platform":"Linux"}"#), "{json}");

    let e = GroupAfterNewMemberJoin::from_json(
        br#"{"GroupId":"g","Type":"BChatRoom","JoinType":"Transferred","EventTime":1,"NewMemberList":[]}"#,
    )
    .unwrap();
    assert_eq!(e.group_type, Some(GroupType::Other("BChatRoom".into())));
    assert_eq!(e.join_type, Some(JoinType::Other("Transferred".into())));
    let e = GroupAfterMemberExit::from_json(
        br#"{"GroupId":"g","Type":"avchatroom","ExitType":"Banished","EventTime":1,"ExitMemberList":[]}"#,
    )
    .unwrap();
    assert_eq!(e.group_type, Some(GroupType::AvChatRoom));
    assert_eq!(e.exit_type, Some(ExitType::Other("Banished".into())));
    for (wire, want) in [
        ("Public", GroupType::Public),
        ("Private", GroupType::Private),
        ("ChatRoom", GroupType::ChatRoom),
        ("AVChatRoom", GroupType::AvChatRoom),
        ("Community", GroupType::Community),
        ("Work", GroupType::Work),
        ("Meeting", GroupType::Meeting),
    ] {
        assert_eq!(GroupType::parse(wire), want);
        assert_eq!(want.as_str(), wire);
    }
}

// ---- round trips and serialization ----

#[test]
fn samples_round_trip() {
    fn check<T>(body: &str, decode: fn(&[u8]) -> Result<T, crate::Rejection>)
    where
        T: serde::Serialize + PartialEq + std::fmt::Debug,
    {
        let a = decode(body.as_bytes()).unwrap();
        let json = serde_json::to_vec(&a).unwrap();
        let b = decode(&json).unwrap();
        assert_eq!(a, b, "{}", String::from_utf8_lossy(&json));
    }
    check(STATE_CHANGE, StateChange::from_json);
    check(C2C_BEFORE, C2cBeforeSendMsg::from_json);
    check(C2C_AFTER, C2cAfterSendMsg::from_json);
    check(GROUP_BEFORE, GroupBeforeSendMsg::from_json);
    check(GROUP_AFTER, GroupAfterSendMsg::from_json);
    check(GROUP_AFTER_LIVE, GroupAfterSendMsg::from_json);
    check(GROUP_JOIN, GroupAfterNewMemberJoin::from_json);
    check(GROUP_EXIT, GroupAfterMemberExit::from_json);
}

#[test]
fn serializes_with_tencent_names() {
    let e = GroupBeforeSendMsg::from_json(GROUP_BEFORE.as_bytes()).unwrap();
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"CallbackCommand":"Group.CallbackBeforeSendMsg","GroupId":"@TGS#2J4SZEAEL","Type":"Community","From_Account":"jared","Operator_Account":"admin","Random":123456,"OnlineOnlyFlag":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}],"CloudCustomData":"your cloud custom data","TopicId":"@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_TestTopic","EventTime":1670574414123}"#
    );
    let e = StateChange::from_json(STATE_CHANGE.as_bytes()).unwrap();
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"CallbackCommand":"State.StateChange","EventTime":1629883332497,"Info":{"Action":"Login","To_Account":"testuser316","Reason":"Register"},"KickedDevice":[{"Platform":"Windows"},{"Platform":"Android"}]}"#
    );
    let e = GroupAfterMemberExit::from_json(GROUP_EXIT.as_bytes()).unwrap();
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"CallbackCommand":"Group.CallbackAfterMemberExit","GroupId":"@TGS#2J4SZEAEL","Type":"Public","ExitType":"Kicked","Operator_Account":"leckie","ExitMemberList":[{"Member_Account":"jared"},{"Member_Account":"tommy"}],"EventTime":1670574414123}"#
    );
    // Without a CallbackCommand in the body, serialization still names the command.
    let e = C2cBeforeSendMsg::from_json(
        br#"{"From_Account":"a","To_Account":"b","MsgSeq":1,"MsgRandom":2,"MsgTime":3,"MsgKey":"k","MsgBody":[]}"#,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"CallbackCommand":"C2C.CallbackBeforeSendMsg","From_Account":"a","To_Account":"b","MsgSeq":1,"MsgRandom":2,"MsgTime":3,"MsgKey":"k","OnlineOnlyFlag":0,"MsgBody":[]}"#
    );
}

#[test]
fn message_elements_are_kept_whole() {
    let body = br#"{"GroupId":"g","From_Account":"a","Random":1,"MsgBody":[
        {"MsgType":"TIMCustomElem","MsgContent":{"Data":"{\"k\":1}","Desc":"d","Ext":"e","Sound":"s"}},
        {"MsgType":"TIMImageElem","MsgContent":{"UUID":"u","ImageFormat":1,
            "ImageInfoArray":[{"Type":1,"Size":1853095,"Width":2448,"Height":3264,"URL":"https://x/y"}]}},
        {"MsgType":"TIMFutureElem","MsgContent":{"Nested":{"Deep":[true,null,-3]}}},
        {"MsgType":"TIMTextElem"}]}"#;
    let e = GroupBeforeSendMsg::from_json(body).unwrap();
    assert_eq!(e.msg_body.len(), 4);
    assert_eq!(e.msg_body[0].msg_type, "TIMCustomElem");
    assert_eq!(e.msg_body[0].msg_content["Data"], "{\"k\":1}");
    assert_eq!(
        e.msg_body[1].msg_content["ImageInfoArray"][0]["Size"],
        1853095
    );
    assert_eq!(
        e.msg_body[2].msg_content,
        json!({"Nested":{"Deep":[true,null,-3]}})
    );
    assert_eq!(e.msg_body[0].as_text(), None);
    assert_eq!(e.msg_body[3].as_text(), None);
    assert_eq!(e.msg_body[3].msg_content, serde_json::Value::Null);
    let json = serde_json::to_vec(&e).unwrap();
    assert_eq!(GroupBeforeSendMsg::from_json(&json).unwrap(), e);
    assert_eq!(
        serde_json::to_string(&e.msg_body[3]).unwrap(),
        r#"{"MsgType":"TIMTextElem"}"#
    );

    assert_malformed(
        GroupBeforeSendMsg::from_json(
            br#"{"GroupId":"g","From_Account":"a","Random":1,"MsgBody":[{"MsgContent":{}}]}"#,
        ),
        "element without MsgType",
    );
    assert_malformed(
        GroupBeforeSendMsg::from_json(
            br#"{"GroupId":"g","From_Account":"a","Random":1,"MsgBody":{"MsgType":"TIMTextElem"}}"#,
        ),
        "MsgBody not an array",
    );
}

// ---- refusals ----

#[test]
fn wrong_callback_command_in_the_body_is_refused() {
    for (command, body) in SAMPLES {
        for other in COMMANDS.iter().filter(|c| *c != command) {
            let swapped = body.replacen(command, other, 1);
            assert_malformed(
                ChatEvent::from_json(command, swapped.as_bytes()),
                &format!("{command} carrying {other}"),
            );
        }
        // Case matters, and a Room command is not a Chat one.
        let lower = body.replacen(command, &command.to_lowercase(), 1);
        assert_malformed(
            ChatEvent::from_json(command, lower.as_bytes()),
            "lower case",
        );
        let room = body.replacen(command, "Room.CallbackAfterMemberLeave", 1);
        assert_malformed(
            ChatEvent::from_json(command, room.as_bytes()),
            "room command",
        );
    }
    let err = GroupAfterSendMsg::from_json(GROUP_BEFORE.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("CallbackCommand"), "{err}");
    assert!(
        err.to_string().contains("Group.CallbackBeforeSendMsg"),
        "{err}"
    );
    assert_malformed(
        StateChange::from_json(
            br#"{"CallbackCommand":5,"EventTime":1,"Info":{"Action":"Login","To_Account":"u"}}"#,
        ),
        "numeric command",
    );
    // A long command is described, not quoted whole.
    let long = format!(
        r#"{{"CallbackCommand":"{}","EventTime":1,"Info":{{"Action":"Login","To_Account":"u"}}}}"#,
        "\u{7f}".repeat(10_000)
    );
    let err = StateChange::from_json(long.as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("CallbackCommand in the body is a string of 10000 bytes"),
        "{err}"
    );
}

#[test]
fn non_object_bodies_are_refused() {
    for bad in [
        &br#"["State.StateChange",1629883332497,{"Action":"Login","To_Account":"u"}]"#[..],
        br#"[]"#,
        b"",
        b"   ",
        b"null",
        b"\"State.StateChange\"",
        b"42",
        b"{",
        b"{\"EventTime\":1,",
        b"\xef\xbb\xbf{\"EventTime\":1,\"Info\":{\"Action\":\"Login\",\"To_Account\":\"u\"}}",
        b"{\"EventTime\":1,\"Info\":{\"Action\":\"Login\",\"To_Account\":\"\xff\"}}",
    ] {
        let what = String::from_utf8_lossy(bad);
        assert_malformed(StateChange::from_json(bad), &what);
        for command in COMMANDS {
            assert_malformed(
                ChatEvent::from_json(command, bad),
                &format!("{command}: {what}"),
            );
        }
    }
}

#[test]
fn missing_or_mistyped_required_fields_are_refused() {
    for bad in [
        &br#"{"EventTime":1}"#[..],
        br#"{"EventTime":1,"Info":{"To_Account":"u"}}"#,
        br#"{"EventTime":1,"Info":{"Action":"Login"}}"#,
        br#"{"EventTime":1,"Info":{"Action":5,"To_Account":"u"}}"#,
        br#"{"EventTime":1,"Info":{"Action":"Login","To_Account":"u"},"KickedDevice":{"Platform":"iOS"}}"#,
        br#"{"EventTime":1,"EventTime":2,"Info":{"Action":"Login","To_Account":"u"}}"#,
    ] {
        assert_malformed(StateChange::from_json(bad), &String::from_utf8_lossy(bad));
    }
    for bad in [
        &br#"{"From_Account":"a","Random":1,"MsgBody":[]}"#[..],
        br#"{"GroupId":7,"From_Account":"a","Random":1,"MsgBody":[]}"#,
        br#"{"GroupId":"g","Random":1,"MsgBody":[]}"#,
        br#"{"GroupId":"g","From_Account":"a","MsgBody":[]}"#,
        br#"{"GroupId":"g","From_Account":"a","Random":1}"#,
    ] {
        assert_malformed(
            GroupBeforeSendMsg::from_json(bad),
            &String::from_utf8_lossy(bad),
        );
    }
    assert_malformed(
        GroupAfterSendMsg::from_json(
            br#"{"GroupId":"g","From_Account":"a","Random":1,"MsgTime":1,"MsgBody":[]}"#,
        ),
        "after without MsgSeq",
    );
    assert_malformed(
        C2cBeforeSendMsg::from_json(
            br#"{"From_Account":"a","To_Account":"b","MsgSeq":1,"MsgRandom":2,"MsgTime":3,"MsgBody":[]}"#,
        ),
        "c2c without MsgKey",
    );
    assert_malformed(
        GroupAfterNewMemberJoin::from_json(
            br#"{"GroupId":"g","EventTime":1,"NewMemberList":["a"]}"#,
        ),
        "members as bare strings",
    );
}

// ---- the before-send answer ----

#[test]
fn answer_bytes_for_each_decision() {
    let cases: [(SendMsgAnswer, &str); 5] = [
        (
            SendMsgAnswer::allow(),
            r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}"#,
        ),
        (
            SendDecision::Refuse.into(),
            r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":1}"#,
        ),
        (
            SendDecision::Drop.into(),
            r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":2}"#,
        ),
        (
            SendDecision::refuse_with(RefusalCode::group(10100).unwrap(), "no red packets").into(),
            r#"{"ActionStatus":"OK","ErrorInfo":"no red packets","ErrorCode":10100}"#,
        ),
        (
            SendDecision::refuse_with(RefusalCode::c2c(130000).unwrap(), "say \"hi\"\n").into(),
            r#"{"ActionStatus":"OK","ErrorInfo":"say \"hi\"\n","ErrorCode":130000}"#,
        ),
    ];
    for (answer, want) in cases {
        assert_eq!(std::str::from_utf8(&answer.to_bytes()).unwrap(), want);
        assert_eq!(serde_json::to_string(&answer).unwrap(), want);
        // As the `Ack` a route's handler returns: the same bytes.
        assert_eq!(crate::Ack::from(answer).to_bytes(), want.as_bytes());
    }
    assert!(crate::Ack::from(SendMsgAnswer::allow()).is_ok());
    assert_eq!(&SendMsgAnswer::allow().to_bytes()[..], crate::Ack::OK_BODY);
    assert_eq!(SendMsgAnswer::default(), SendMsgAnswer::allow());
    assert_eq!(SendDecision::Drop.error_code(), 2);
    assert_eq!(SendDecision::Refuse.error_info(), "");
}

#[test]
fn answer_with_replacements_keeps_the_documented_order() {
    let answer = SendMsgAnswer::allow()
        .with_msg_body(vec![
            MsgElement::from_text("***"),
            MsgElement::new(
                "TIMCustomElem",
                json!({"Desc":"CustomElement.MemberLevel","Data":"LV1"}),
            ),
        ])
        .with_cloud_custom_data("your new cloud custom data");
    // MsgContent keys come out in serde_json's map order (sorted unless `preserve_order` is on).
    let custom = serde_json::to_string(&answer.msg_body.as_ref().unwrap()[1]).unwrap();
    assert_eq!(
        std::str::from_utf8(&answer.to_bytes()).unwrap(),
        format!(
            r#"{{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"***"}}}},{custom}],"CloudCustomData":"your new cloud custom data"}}"#
        )
    );
    // The protocol.md §8 example, byte for byte.
    let answer = SendMsgAnswer::allow().with_msg_body(vec![MsgElement::from_text("***")]);
    assert_eq!(
        &answer.to_bytes()[..],
        br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"***"}}]}"#
    );
    let answer = SendMsgAnswer::allow().with_cloud_custom_data("x");
    assert_eq!(
        &answer.to_bytes()[..],
        br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"CloudCustomData":"x"}"#
    );
    let answer = SendMsgAnswer::new(SendDecision::Drop).with_msg_body(Vec::new());
    assert_eq!(
        &answer.to_bytes()[..],
        br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":2,"MsgBody":[]}"#
    );
    let answer = SendMsgAnswer::allow()
        .with_msg_body(vec![MsgElement::from_text("***")])
        .with_cloud_custom_data("x");
    assert_eq!(
        crate::Ack::from(answer.clone()).to_bytes(),
        answer.to_bytes()
    );
}

#[test]
fn refusal_codes_are_checked_at_construction() {
    for ok in [10100, 10150, 10200] {
        assert_eq!(RefusalCode::group(ok).unwrap().get(), ok);
    }
    for ok in [120001, 125000, 130000] {
        assert_eq!(RefusalCode::c2c(ok).unwrap().get(), ok);
    }
    for bad in [i64::MIN, -1, 0, 1, 2, 10016, 10099, 10201, 120001] {
        let err = RefusalCode::group(bad).unwrap_err();
        assert_eq!(err.code(), bad);
        assert!(err.to_string().contains("10100..=10200"), "{err}");
    }
    for bad in [0, 1, 2, 10100, 120000, 130001, i64::MAX] {
        let err = RefusalCode::c2c(bad).unwrap_err();
        assert_eq!(err.code(), bad);
        assert!(err.to_string().contains("120001..=130000"), "{err}");
    }
}

#[test]
fn answer_http_response() {
    use http_body_util::Full;

    let answer: SendMsgAnswer =
        SendDecision::refuse_with(RefusalCode::group(10200).unwrap(), "no").into();
    let res: http::Response<Full<bytes::Bytes>> = answer.http_response();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()[http::header::CONTENT_TYPE],
        "application/json"
    );
    let body = crate::ack::futures_body(res.into_body());
    assert_eq!(
        &body[..],
        br#"{"ActionStatus":"OK","ErrorInfo":"no","ErrorCode":10200}"#
    );
}

#[test]
fn builders_and_accessors() {
    let e = GroupAfterNewMemberJoin::new("g", [AccountId::from("a")]);
    assert_eq!(e.event_time, None);
    assert_eq!(e.new_members, vec![GroupMember::new("a")]);
    let mut e = StateChange::new(StateChangeInfo::new(StateAction::Disconnect, "u"));
    e.event_time = Some(EventTime::from_millis(1));
    let back = StateChange::from_json(&serde_json::to_vec(&e).unwrap()).unwrap();
    assert_eq!(back, e);
    assert!(format!("{e:?}").contains("State.StateChange"));
    assert_eq!(MsgElement::from_text("hi").as_text(), Some("hi"));
    assert_eq!(
        MsgElement::new("TIMFaceElem", json!({"Index":1})).as_text(),
        None
    );
}

// ---- what real deployments send (protocol.md §10) ----
//
// Bodies in the shapes captured from real deployments: older ones carry no `EventTime` (group exit and
// join, `State.StateChange`), report a dropped link or a heartbeat timeout as `Logout` (reason
// `TimeOut`, `Timeout` or `LinkClose`), send numbers as strings and accounts as numbers, escape
// non-ASCII as `\u`, come pretty-printed or compact, and name the system account `@TIM#SYSTEM` as the
// operator. Six of these eight were refused while `EventTime` was required.

/// An older login: no `EventTime`, compact.
const REAL_STATE_LOGIN: &str = r#"{"CallbackCommand":"State.StateChange","Info":{"Action":"Login","To_Account":"144115212826616432","Reason":"Register"}}"#;

/// An older heartbeat timeout, reported as `Logout`: no `EventTime`, pretty-printed, the account a number.
const REAL_STATE_TIMEOUT: &str = "{\n    \"CallbackCommand\": \"State.StateChange\",\n    \"Info\": {\n        \"Action\": \"Logout\",\n        \"To_Account\": 144115212826616433,\n        \"Reason\": \"TimeOut\"\n    }\n}";

/// The same with the other spelling of the reason, and a kicked device.
const REAL_STATE_TIMEOUT_2: &str = r#"{"CallbackCommand":"State.StateChange","Info":{"To_Account":"u_7","Action":"Logout","Reason":"Timeout"},"KickedDevice":[]}"#;

/// A dropped link, reported as `Logout`, with a string `EventTime` and fields the docs do not list.
const REAL_STATE_LINK_CLOSE: &str = r#"{"CallbackCommand":"State.StateChange","ClientIP":"10.1.2.3","OptPlatform":"IOS","EventTime":"1687771618457","Info":{"Action":"Logout","To_Account":"u_8","Reason":"LinkClose"}}"#;

/// An older quit from a live group: no `EventTime`, tab-pretty-printed.
const REAL_GROUP_QUIT: &str = "{\n\t\"CallbackCommand\":\t\"Group.CallbackAfterMemberExit\",\n\t\"GroupId\":\t\"@TGS#aFL2XHCMM\",\n\t\"Type\":\t\"AVChatRoom\",\n\t\"ExitType\":\t\"Quit\",\n\t\"Operator_Account\":\t\"u_9\",\n\t\"ExitMemberList\":\t[{\n\t\t\t\"Member_Account\":\t\"u_9\"\n\t\t}]\n}";

/// Members removed by the system account: no `EventTime`, a numeric account, a group ID in Chinese.
const REAL_GROUP_KICKED: &str = r#"{"CallbackCommand":"Group.CallbackAfterMemberExit","GroupId":"\u76f4\u64ad\u95f4-01","Type":"Public","ExitType":"Kicked","Operator_Account":"@TIM#SYSTEM","ExitMemberList":[{"Member_Account":144115212826616434},{"Member_Account":"u_10"}]}"#;

/// Members added by the system account: no `EventTime`, a numeric account.
const REAL_GROUP_JOIN: &str = r#"{"CallbackCommand":"Group.CallbackAfterNewMemberJoin","GroupId":"\u76f4\u64ad\u95f4-01","Type":"Public","JoinType":"Invited","Operator_Account":"@TIM#SYSTEM","NewMemberList":[{"Member_Account":144115212826616434}]}"#;

/// A group message with escaped Chinese text and numbers as strings.
const REAL_GROUP_MSG: &str = r#"{"CallbackCommand":"Group.CallbackAfterSendMsg","GroupId":"@TGS#aFL2XHCMM","Type":"AVChatRoom","From_Account":"u_9","Operator_Account":"u_9","Random":"3358919311","MsgSeq":"5","MsgTime":"1687771618","OnlineOnlyFlag":0,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"\u4f60\u597d"}}],"EventTime":"1687771618457"}"#;

const REAL: &[(&str, &str)] = &[
    ("State.StateChange", REAL_STATE_LOGIN),
    ("State.StateChange", REAL_STATE_TIMEOUT),
    ("State.StateChange", REAL_STATE_TIMEOUT_2),
    ("State.StateChange", REAL_STATE_LINK_CLOSE),
    ("Group.CallbackAfterMemberExit", REAL_GROUP_QUIT),
    ("Group.CallbackAfterMemberExit", REAL_GROUP_KICKED),
    ("Group.CallbackAfterNewMemberJoin", REAL_GROUP_JOIN),
    ("Group.CallbackAfterSendMsg", REAL_GROUP_MSG),
];

#[test]
fn real_bodies_all_decode_and_round_trip() {
    let mut without_time = 0;
    for (command, body) in REAL {
        let e = ChatEvent::from_json(command, body.as_bytes())
            .unwrap_or_else(|err| panic!("{command}: {err}\n{body}"));
        if e.event_time().is_none() {
            without_time += 1;
        }
        // Serialized back (no `EventTime` when there was none) and decoded again: the same event.
        let json = serde_json::to_vec(&e).unwrap();
        assert_eq!(
            ChatEvent::from_json(command, &json).unwrap(),
            e,
            "{command}"
        );
        if e.event_time().is_none() {
            assert!(!String::from_utf8_lossy(&json).contains("EventTime"));
        }
    }
    // The six that were refused while `EventTime` was required.
    assert_eq!(without_time, 6);
}

#[test]
fn real_state_changes_tell_a_lost_connection() {
    let e = StateChange::from_json(REAL_STATE_LOGIN.as_bytes()).unwrap();
    assert_eq!(e.event_time, None);
    assert_eq!(e.info.user, "144115212826616432");
    assert!(!e.info.is_connection_lost());

    let e = StateChange::from_json(REAL_STATE_TIMEOUT.as_bytes()).unwrap();
    assert_eq!(e.info.action, StateAction::Logout);
    assert_eq!(e.info.reason, Some(StateReason::TimeOut));
    assert_eq!(e.info.user, "144115212826616433");
    assert!(e.info.is_heartbeat_timeout());
    assert!(e.info.is_connection_lost());

    // `Timeout` is `TimeOut`, and serializes back as the documented spelling.
    let e = StateChange::from_json(REAL_STATE_TIMEOUT_2.as_bytes()).unwrap();
    assert_eq!(e.info.reason, Some(StateReason::TimeOut));
    assert!(e.info.is_heartbeat_timeout());
    assert!(e.kicked_devices.is_empty());
    assert!(serde_json::to_string(&e)
        .unwrap()
        .contains(r#""Reason":"TimeOut""#));

    let e = StateChange::from_json(REAL_STATE_LINK_CLOSE.as_bytes()).unwrap();
    assert_eq!(e.event_time, Some(EventTime::from_millis(1687771618457)));
    assert_eq!(e.info.reason, Some(StateReason::LinkClose));
    assert!(e.info.is_connection_lost());
    assert!(!e.info.is_heartbeat_timeout());

    // What the current docs send, and what is no lost connection.
    for (action, reason, lost, timeout) in [
        ("Disconnect", "TimeOut", true, true),
        ("Disconnect", "LinkClose", true, false),
        ("Disconnect", "Whatever", true, false),
        ("Logout", "Unregister", false, false),
        ("Logout", "Kickout", false, false),
        ("Login", "TimeOut", false, false),
        ("CustomStatusChange", "SetCustomStatus", false, false),
    ] {
        let body =
            format!(r#"{{"Info":{{"Action":"{action}","To_Account":"u","Reason":"{reason}"}}}}"#);
        let info = StateChange::from_json(body.as_bytes()).unwrap().info;
        assert_eq!(info.is_connection_lost(), lost, "{action} {reason}");
        assert_eq!(info.is_heartbeat_timeout(), timeout, "{action} {reason}");
    }
    let no_reason = StateChange::from_json(br#"{"Info":{"Action":"Logout","To_Account":"u"}}"#)
        .unwrap()
        .info;
    assert!(!no_reason.is_connection_lost());
}

#[test]
fn real_group_member_changes() {
    let e = GroupAfterMemberExit::from_json(REAL_GROUP_QUIT.as_bytes()).unwrap();
    let mut want = GroupAfterMemberExit::new("@TGS#aFL2XHCMM", ["u_9"]);
    want.group_type = Some(GroupType::AvChatRoom);
    want.exit_type = Some(ExitType::Quit);
    want.operator = Some("u_9".into());
    assert_eq!(e, want);

    let e = GroupAfterMemberExit::from_json(REAL_GROUP_KICKED.as_bytes()).unwrap();
    assert_eq!(e.group_id, "直播间-01");
    assert_eq!(e.exit_type, Some(ExitType::Kicked));
    assert_eq!(e.operator.as_ref().unwrap(), "@TIM#SYSTEM");
    assert_eq!(
        e.exit_members,
        [
            GroupMember::new("144115212826616434"),
            GroupMember::new("u_10")
        ]
    );
    assert_eq!(e.event_time, None);

    let e = GroupAfterNewMemberJoin::from_json(REAL_GROUP_JOIN.as_bytes()).unwrap();
    assert_eq!(e.group_id, "直播间-01");
    assert_eq!(e.join_type, Some(JoinType::Invited));
    assert_eq!(e.new_members, [GroupMember::new("144115212826616434")]);
    assert_eq!(e.event_time, None);

    let e = GroupAfterSendMsg::from_json(REAL_GROUP_MSG.as_bytes()).unwrap();
    assert_eq!(e.msg_body[0].as_text(), Some("你好"));
    assert_eq!((e.random, e.msg_seq), (3358919311, 5));
    assert_eq!(e.msg_time.as_secs(), 1687771618);

    // A time that is there must still be a time.
    for bad in [r#""""#, r#""soon""#, "-1", "1.5", "null"] {
        let body = format!(
            r#"{{"GroupId":"g","ExitMemberList":[{{"Member_Account":"a"}}],"EventTime":{bad}}}"#
        );
        if bad == "null" {
            // `null` is no time, as absence is.
            let e = GroupAfterMemberExit::from_json(body.as_bytes()).unwrap();
            assert_eq!(e.event_time, None);
        } else {
            assert_malformed(GroupAfterMemberExit::from_json(body.as_bytes()), bad);
        }
    }
}
