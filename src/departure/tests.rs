//! Every channel's way of saying a member left, arrived, or a room closed, in bodies shaped as Tencent
//! documents them and as real deployments send them (protocol.md §9, §10).

use super::*;
use crate::reject::RejectionKind;

const APP: u64 = 1400000000;
const MAX: usize = 10_000;

fn read(command: &str, body: &str) -> Vec<Change> {
    changes(APP, command, body.as_bytes(), MAX)
        .unwrap_or_else(|err| panic!("{command}: {err}\n{body}"))
}

fn json(change: &Change) -> String {
    serde_json::to_string(change).unwrap()
}

fn all_json(changes: &[Change]) -> Vec<String> {
    changes.iter().map(json).collect()
}

fn assert_malformed(command: &str, body: &[u8], max: usize) {
    let err = changes(APP, command, body, max)
        .expect_err(&format!("{command}: {}", String::from_utf8_lossy(body)));
    assert_eq!(
        err.kind(),
        RejectionKind::MalformedBody,
        "{command}: {}: {err}",
        String::from_utf8_lossy(body)
    );
}

// ---- the serialized shapes, exactly ----

#[test]
fn serialized_shapes_are_exact() {
    let mut d = Departure::new(Source::Room, APP, "r1", "u1", Cause::Left);
    d.at = Some(EventTime::from_millis(1670574414123));
    d.raw = Some(RawCause::Text("Leave".into()));
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"source":"room","app":1400000000,"room":"r1","user":"u1","cause":"left","at_ms":1670574414123}"#
    );
    let mut c = RoomClosed::new(Source::Trtc, APP, "12345");
    c.at = Some(EventTime::from_millis(1687771618457));
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"source":"trtc","app":1400000000,"room":"12345","closed":true,"at_ms":1687771618457}"#
    );
    let a = Arrival::new(Source::Live, APP, "r1", "u1");
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        r#"{"source":"live","app":1400000000,"room":"r1","user":"u1","arrived":true,"at_ms":null}"#
    );
    // Through `Change`: the same bytes.
    assert_eq!(json(&d.clone().into()), serde_json::to_string(&d).unwrap());
    assert_eq!(json(&c.clone().into()), serde_json::to_string(&c).unwrap());
    assert_eq!(json(&a.clone().into()), serde_json::to_string(&a).unwrap());
    // Every source and cause by name.
    for (source, name) in [
        (Source::Room, "room"),
        (Source::Trtc, "trtc"),
        (Source::Live, "live"),
        (Source::Group, "group"),
    ] {
        assert_eq!(source.as_str(), name);
        assert_eq!(source.to_string(), name);
    }
    for (cause, name) in [
        (Cause::Left, "left"),
        (Cause::Kicked, "kicked"),
        (Cause::Timeout, "timeout"),
        (Cause::Other, "other"),
    ] {
        assert_eq!(cause.as_str(), name);
        assert_eq!(
            serde_json::to_string(&cause).unwrap(),
            format!("\"{name}\"")
        );
    }
    assert_eq!(RawCause::Code(4).to_string(), "4");
    assert_eq!(RawCause::Text("Expired".into()).to_string(), "Expired");
    // A large app and time stay integers.
    let mut big = Departure::new(Source::Group, u64::MAX, "g", "u", Cause::Other);
    big.at = Some(EventTime::from_millis(u64::MAX));
    assert_eq!(
        serde_json::to_string(&big).unwrap(),
        r#"{"source":"group","app":18446744073709551615,"room":"g","user":"u","cause":"other","at_ms":18446744073709551615}"#
    );
}

// ---- Room ----

#[test]
fn room_leave_one_departure_per_member() {
    let body = r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"admin",
        "RoomId":"rid-123","MemberCount":18,"Type":"Kicked",
        "MemberList_Account":["user1",144115233775727695,"user1","","user2"],"Reason":"spam",
        "EventTime":"1670574414123"}"#;
    let got = read("Room.CallbackAfterMemberLeave", body);
    // One each, in order; the repeated and the empty account give none.
    assert_eq!(
        all_json(&got),
        [
            r#"{"source":"room","app":1400000000,"room":"rid-123","user":"user1","cause":"kicked","at_ms":1670574414123}"#,
            r#"{"source":"room","app":1400000000,"room":"rid-123","user":"144115233775727695","cause":"kicked","at_ms":1670574414123}"#,
            r#"{"source":"room","app":1400000000,"room":"rid-123","user":"user2","cause":"kicked","at_ms":1670574414123}"#,
        ]
    );
    let Change::Departure(d) = &got[0] else {
        panic!("not a departure")
    };
    assert_eq!(d.raw, Some(RawCause::Text("Kicked".into())));
    assert_eq!(got[0].user().unwrap(), "user1");
    assert_eq!(got[0].room(), "rid-123");
    assert_eq!(got[0].app(), APP);
    assert_eq!(got[0].source(), Source::Room);
    assert_eq!(got[0].at(), Some(EventTime::from_millis(1670574414123)));
}

#[test]
fn room_leave_causes() {
    for (kind, cause) in [
        (r#""Leave""#, Cause::Left),
        (r#""Kicked""#, Cause::Kicked),
        (r#""Expired""#, Cause::Timeout),
        (r#""expired""#, Cause::Timeout),
        (r#""Banished""#, Cause::Other),
        (r#""""#, Cause::Other),
        ("null", Cause::Other),
    ] {
        let body =
            format!(r#"{{"RoomId":"r","Type":{kind},"MemberList_Account":["u"],"EventTime":1}}"#);
        let got = read("Room.CallbackAfterMemberLeave", &body);
        let [Change::Departure(d)] = &got[..] else {
            panic!("{kind}: {got:?}")
        };
        assert_eq!(d.cause, cause, "{kind}");
        let raw: Option<String> = serde_json::from_str(kind).unwrap();
        assert_eq!(d.raw, raw.map(RawCause::Text), "{kind}");
    }
    // No Type, no EventTime: other, and no time.
    let got = read(
        "Room.CallbackAfterMemberLeave",
        r#"{"RoomId":"r","MemberList_Account":["u"]}"#,
    );
    assert_eq!(
        all_json(&got),
        [
            r#"{"source":"room","app":1400000000,"room":"r","user":"u","cause":"other","at_ms":null}"#
        ]
    );
}

#[test]
fn room_enter_and_destroy() {
    let enter = include_str!("../testing/fixtures/member_enter.json");
    let got = read("Room.CallbackAfterMemberEnter", enter);
    assert_eq!(
        all_json(&got),
        [
            r#"{"source":"room","app":1400000000,"room":"rid-123","user":"user1","arrived":true,"at_ms":1670574414123}"#
        ]
    );
    let Change::Arrival(a) = &got[0] else {
        panic!("not an arrival")
    };
    assert_eq!(a.raw, Some(RawCause::Text("Enter".into())));

    let destroy = include_str!("../testing/fixtures/destroy_room.json");
    assert_eq!(
        all_json(&read("Room.CallbackAfterDestroyRoom", destroy)),
        [
            r#"{"source":"room","app":1400000000,"room":"tandy-test-rest","closed":true,"at_ms":1703589922780}"#
        ]
    );
    // An empty member list says nobody left.
    assert!(read(
        "Room.CallbackAfterMemberLeave",
        r#"{"RoomId":"r","MemberList_Account":[],"EventTime":1}"#
    )
    .is_empty());
}

// ---- Live ----

/// A heartbeat timeout as real deployments send it: pretty-printed, the alias in the body, a numeric
/// account, no `EventTime`.
const LIVE_TIMEOUT: &str = "{\n  \"CallbackCommand\": \"Live.CallbackMemberStateChanged\",\n  \"RoomId\": \"live_8848\",\n  \"EventType\": \"Offline\",\n  \"EventCause\": \"HeartbeatInterrupt\",\n  \"MemberList\": [\n    {\"Member_Account\": 144115212826616432},\n    {\"Member_Account\": \"u_2\"}\n  ]\n}";

#[test]
fn live_member_state() {
    for command in [
        "Live.CallbackAfterMemberStateChanged",
        "Live.CallbackMemberStateChanged",
    ] {
        assert_eq!(
            all_json(&read(command, LIVE_TIMEOUT)),
            [
                r#"{"source":"live","app":1400000000,"room":"live_8848","user":"144115212826616432","cause":"timeout","at_ms":null}"#,
                r#"{"source":"live","app":1400000000,"room":"live_8848","user":"u_2","cause":"timeout","at_ms":null}"#,
            ],
            "{command}"
        );
    }
    for (cause, want) in [
        (r#""Leave""#, Cause::Left),
        (r#""HeartbeatInterrupt""#, Cause::Timeout),
        (r#""Kicked""#, Cause::Kicked),
        (r#""Banned""#, Cause::Other),
        ("null", Cause::Other),
    ] {
        let body = format!(
            r#"{{"RoomId":"r","EventType":"Offline","EventCause":{cause},"MemberList":[{{"Member_Account":"u"}}],"EventTime":"1703589922780"}}"#
        );
        let got = read("Live.CallbackAfterMemberStateChanged", &body);
        let [Change::Departure(d)] = &got[..] else {
            panic!("{cause}: {got:?}")
        };
        assert_eq!(d.cause, want, "{cause}");
        assert_eq!(d.at, Some(EventTime::from_millis(1703589922780)));
    }
    // Online: arrivals, the cause kept raw.
    let sample = r#"{"CallbackCommand":"Live.CallbackAfterMemberStateChanged","RoomId":"room_id",
        "EventType":"Online","EventCause":"HeartbeatRecover",
        "MemberList":[{"Member_Account":"jared"},{"Member_Account":"tommy"}],"EventTime":1703589922780}"#;
    let got = read("Live.CallbackMemberStateChanged", sample);
    assert_eq!(
        all_json(&got),
        [
            r#"{"source":"live","app":1400000000,"room":"room_id","user":"jared","arrived":true,"at_ms":1703589922780}"#,
            r#"{"source":"live","app":1400000000,"room":"room_id","user":"tommy","arrived":true,"at_ms":1703589922780}"#,
        ]
    );
    let Change::Arrival(a) = &got[1] else {
        panic!("not an arrival")
    };
    assert_eq!(a.raw, Some(RawCause::Text("HeartbeatRecover".into())));
}

#[test]
fn member_state_without_a_known_event_type() {
    // No EventType: read by the cause.
    for (cause, arrived) in [
        ("Enter", Some(true)),
        ("HeartbeatRecover", Some(true)),
        ("Leave", Some(false)),
        ("Kicked", Some(false)),
        ("HeartbeatInterrupt", Some(false)),
        ("Suspended", None),
    ] {
        let body = format!(
            r#"{{"RoomId":"r","EventCause":"{cause}","MemberList":[{{"Member_Account":"u"}}]}}"#
        );
        let got = read("Live.CallbackAfterMemberStateChanged", &body);
        let kind = got.first().map(|c| matches!(c, Change::Arrival(_)));
        assert_eq!(kind, arrived, "{cause}");
    }
    for (cause, arrived) in [
        ("Join", Some(true)),
        ("HeartbeatRecover", Some(true)),
        ("Quit", Some(false)),
        ("HeartbeatInterrupt", Some(false)),
        ("Enter", None),
    ] {
        let body = format!(
            r#"{{"GroupId":"g","EventCause":"{cause}","MemberList":[{{"Member_Account":"u"}}]}}"#
        );
        let got = read("Group.CallbackOnMemberStateChange", &body);
        let kind = got.first().map(|c| matches!(c, Change::Arrival(_)));
        assert_eq!(kind, arrived, "{cause}");
    }
    // An EventType this version does not know: no change, whatever the cause; none at all: none.
    for body in [
        r#"{"RoomId":"r","EventType":"Suspended","EventCause":"Leave","MemberList":[{"Member_Account":"u"}]}"#,
        r#"{"RoomId":"r","MemberList":[{"Member_Account":"u"}]}"#,
    ] {
        assert!(read("Live.CallbackAfterMemberStateChanged", body).is_empty());
    }
    // Case does not matter.
    let got = read(
        "Live.CallbackAfterMemberStateChanged",
        r#"{"RoomId":"r","EventType":"OFFLINE","EventCause":"kicked","MemberList":[{"Member_Account":"u"}]}"#,
    );
    let [Change::Departure(d)] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(d.cause, Cause::Kicked);
    assert_eq!(d.raw, Some(RawCause::Text("kicked".into())));
}

#[test]
fn live_destroy() {
    let body = r#"{"CallbackCommand":"Live.CallbackAfterDestroyRoom","Operator_Account":"@TIM#SYSTEM","RoomId":"live_8848","EventType":"DestroyBySystem","EventTime":1687771618457,"RoomInfo":{"RoomName":"\u5468\u672b\u76f4\u64ad","Owner_Account":144115216631667826,"NewKey":[1]}}"#;
    let got = read("Live.CallbackAfterDestroyRoom", body);
    assert_eq!(
        all_json(&got),
        [
            r#"{"source":"live","app":1400000000,"room":"live_8848","closed":true,"at_ms":1687771618457}"#
        ]
    );
    let Change::Closed(c) = &got[0] else {
        panic!("not closed")
    };
    assert_eq!(c.raw, Some(RawCause::Text("DestroyBySystem".into())));
    assert_eq!(got[0].user(), None);
}

// ---- Chat groups ----

#[test]
fn group_exit_join_and_destroy() {
    // Older deployments: no EventTime, tabs, the system account as the operator.
    let quit = "{\n\t\"CallbackCommand\":\t\"Group.CallbackAfterMemberExit\",\n\t\"GroupId\":\t\"@TGS#aFL2XHCMM\",\n\t\"Type\":\t\"AVChatRoom\",\n\t\"ExitType\":\t\"Quit\",\n\t\"Operator_Account\":\t\"u_9\",\n\t\"ExitMemberList\":\t[{\"Member_Account\":\t\"u_9\"}]\n}";
    assert_eq!(
        all_json(&read("Group.CallbackAfterMemberExit", quit)),
        [
            r#"{"source":"group","app":1400000000,"room":"@TGS#aFL2XHCMM","user":"u_9","cause":"left","at_ms":null}"#
        ]
    );
    let kicked = r#"{"CallbackCommand":"Group.CallbackAfterMemberExit","GroupId":"\u76f4\u64ad\u95f4-01","Type":"Public","ExitType":"Kicked","Operator_Account":"@TIM#SYSTEM","ExitMemberList":[{"Member_Account":144115212826616434},{"Member_Account":"u_10"}],"EventTime":"1670574414123"}"#;
    assert_eq!(
        all_json(&read("Group.CallbackAfterMemberExit", kicked)),
        [
            r#"{"source":"group","app":1400000000,"room":"直播间-01","user":"144115212826616434","cause":"kicked","at_ms":1670574414123}"#,
            r#"{"source":"group","app":1400000000,"room":"直播间-01","user":"u_10","cause":"kicked","at_ms":1670574414123}"#,
        ]
    );
    let other =
        r#"{"GroupId":"g","ExitType":"Dismissed","ExitMemberList":[{"Member_Account":"a"}]}"#;
    let got = read("Group.CallbackAfterMemberExit", other);
    let [Change::Departure(d)] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(
        (d.cause, d.raw.clone()),
        (Cause::Other, Some(RawCause::Text("Dismissed".into())))
    );

    let join = r#"{"CallbackCommand":"Group.CallbackAfterNewMemberJoin","GroupId":"@TGS#2J4SZEAEL","Type":"Public","JoinType":"Apply","Operator_Account":"leckie","NewMemberList":[{"Member_Account":"jared"},{"Member_Account":"tommy"}],"EventTime":"1670574414123"}"#;
    let got = read("Group.CallbackAfterNewMemberJoin", join);
    assert_eq!(
        all_json(&got),
        [
            r#"{"source":"group","app":1400000000,"room":"@TGS#2J4SZEAEL","user":"jared","arrived":true,"at_ms":1670574414123}"#,
            r#"{"source":"group","app":1400000000,"room":"@TGS#2J4SZEAEL","user":"tommy","arrived":true,"at_ms":1670574414123}"#,
        ]
    );
    let Change::Arrival(a) = &got[0] else {
        panic!("not an arrival")
    };
    assert_eq!(a.raw, Some(RawCause::Text("Apply".into())));

    // The docs' sample; its member list (the members at the end) is not read, so not bounded either.
    let destroyed = r#"{"CallbackCommand":"Group.CallbackAfterGroupDestroyed","Operator_Account":"administrator","GroupId":"@TGS#2J4SZEAEL","Type":"Public","Owner_Account":"leckie","Name":"MyFirstGroup","MemberList":[{"Member_Account":"leckie"},{"Member_Account":"peter"},{"Member_Account":"bob"}],"EventTime":1670574414123}"#;
    assert_eq!(
        all_json(&read("Group.CallbackAfterGroupDestroyed", destroyed)),
        [
            r#"{"source":"group","app":1400000000,"room":"@TGS#2J4SZEAEL","closed":true,"at_ms":1670574414123}"#
        ]
    );
    assert_eq!(
        changes(
            APP,
            "Group.CallbackAfterGroupDestroyed",
            destroyed.as_bytes(),
            1
        )
        .unwrap()
        .len(),
        1
    );
}

#[test]
fn live_group_member_state() {
    // The docs' sample: no EventTime.
    let offline = r#"{"CallbackCommand":"Group.CallbackOnMemberStateChange","GroupId":"@TGS#2J4SZEAEL","EventType":"Offline","EventCause":"HeartbeatInterrupt","MemberList":[{"Member_Account":"jared"},{"Member_Account":"tommy"}]}"#;
    assert_eq!(
        all_json(&read("Group.CallbackOnMemberStateChange", offline)),
        [
            r#"{"source":"group","app":1400000000,"room":"@TGS#2J4SZEAEL","user":"jared","cause":"timeout","at_ms":null}"#,
            r#"{"source":"group","app":1400000000,"room":"@TGS#2J4SZEAEL","user":"tommy","cause":"timeout","at_ms":null}"#,
        ]
    );
    for (cause, want) in [
        ("Quit", Cause::Left),
        ("HeartbeatInterrupt", Cause::Timeout),
        ("Kicked", Cause::Other),
    ] {
        let body = format!(
            r#"{{"GroupId":"g","EventType":"Offline","EventCause":"{cause}","MemberList":[{{"Member_Account":"u"}}]}}"#
        );
        let got = read("Group.CallbackOnMemberStateChange", &body);
        let [Change::Departure(d)] = &got[..] else {
            panic!("{cause}: {got:?}")
        };
        assert_eq!(d.cause, want, "{cause}");
    }
    let online = r#"{"GroupId":"g","EventType":"Online","EventCause":"Join","MemberList":[{"Member_Account":"u"}],"EventTime":5}"#;
    assert_eq!(
        all_json(&read("Group.CallbackOnMemberStateChange", online)),
        [r#"{"source":"group","app":1400000000,"room":"g","user":"u","arrived":true,"at_ms":5}"#]
    );
}

// ---- TRTC ----

#[test]
fn trtc_values() {
    for (reason, cause) in [
        (Some(1), Cause::Left),
        (Some(2), Cause::Timeout),
        (Some(3), Cause::Kicked),
        (Some(4), Cause::Other),
        (Some(5), Cause::Other),
        (Some(0), Cause::Other),
        (None, Cause::Other),
    ] {
        let change = from_trtc(
            APP,
            104,
            "8489",
            Some("user_85034614"),
            reason,
            Some(1664209748180),
        );
        let Some(Change::Departure(d)) = &change else {
            panic!("{reason:?}: {change:?}")
        };
        assert_eq!(d.cause, cause, "{reason:?}");
        assert_eq!(d.raw, reason.map(RawCause::Code));
        assert_eq!(d.source, Source::Trtc);
        assert_eq!(
            serde_json::to_string(d).unwrap(),
            format!(
                r#"{{"source":"trtc","app":1400000000,"room":"8489","user":"user_85034614","cause":"{cause}","at_ms":1664209748180}}"#
            )
        );
    }
    let enter = from_trtc(APP, 103, "8489", Some("u"), Some(2), None).unwrap();
    assert_eq!(
        json(&enter),
        r#"{"source":"trtc","app":1400000000,"room":"8489","user":"u","arrived":true,"at_ms":null}"#
    );
    let Change::Arrival(a) = &enter else {
        panic!("not an arrival")
    };
    assert_eq!(a.raw, Some(RawCause::Code(2)));
    assert_eq!(
        json(&from_trtc(APP, 102, "12345", None, None, Some(1687771618457)).unwrap()),
        r#"{"source":"trtc","app":1400000000,"room":"12345","closed":true,"at_ms":1687771618457}"#
    );
    // Other events, and an exit or enter without a user, say nothing.
    for event in [101, 105, 201, 204, 0] {
        assert_eq!(
            from_trtc(APP, event, "1", Some("u"), Some(1), Some(1)),
            None
        );
    }
    for user in [None, Some("")] {
        assert_eq!(from_trtc(APP, 104, "1", user, Some(1), Some(1)), None);
        assert_eq!(from_trtc(APP, 103, "1", user, Some(1), Some(1)), None);
    }
}

#[test]
fn one_leave_on_two_channels_has_two_keys_but_one_member() {
    // A TUIRoomKit leave reported by the Room callback and by TRTC's 104: different sources and
    // clocks, so different keys; the member, room and app agree, and the times are close.
    let room = &read(
        "Room.CallbackAfterMemberLeave",
        r#"{"RoomId":"12345","Type":"Leave","MemberList_Account":["u1"],"EventTime":1687771618457}"#,
    )[0];
    let trtc = from_trtc(APP, 104, "12345", Some("u1"), Some(1), Some(1687771618430)).unwrap();
    assert_ne!(room.key(), trtc.key());
    assert_eq!(
        (room.app(), room.room(), room.user()),
        (trtc.app(), trtc.room(), trtc.user())
    );
    let gap = room
        .at()
        .unwrap()
        .as_millis()
        .abs_diff(trtc.at().unwrap().as_millis());
    assert!(gap < 1000);
}

// ---- keys ----

#[test]
fn keys_are_stable_across_retries_and_distinct_otherwise() {
    let first = read(
        "Room.CallbackAfterMemberLeave",
        r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","RoomId":"r","Type":"Expired","MemberList_Account":["144115233775727695"],"EventTime":1670574414123}"#,
    );
    // The same callback again: fields reordered, the account a number, the time a string, an unknown
    // field, another Reason (not read), the type in another case.
    let retry = read(
        "Room.CallbackAfterMemberLeave",
        r#"{"EventTime":"1670574414123","New":{"x":1},"Reason":"later","MemberList_Account":[144115233775727695],"Type":"expired","RoomId":"r"}"#,
    );
    assert_eq!(first[0].key(), retry[0].key());
    assert_eq!(first[0].key().to_string().len(), 32);

    // Either spelling of the Live member-state command.
    let a = read("Live.CallbackAfterMemberStateChanged", LIVE_TIMEOUT)[0].key();
    let b = read(
        "Live.CallbackMemberStateChanged",
        &LIVE_TIMEOUT.replace(
            "Live.CallbackMemberStateChanged",
            "Live.CallbackAfterMemberStateChanged",
        ),
    )[0]
    .key();
    assert_eq!(a, b);

    // Anything the change says, changed: another key.
    let Change::Departure(base) = first[0].clone() else {
        panic!("not a departure")
    };
    let mut keys = vec![base.key()];
    let variants: [fn(&mut Departure); 7] = [
        |d| d.app += 1,
        |d| d.source = Source::Trtc,
        |d| d.room.push('x'),
        |d| d.user = "other".into(),
        |d| d.cause = Cause::Left,
        |d| d.at = Some(EventTime::from_millis(1670574414124)),
        |d| d.at = None,
    ];
    for change in variants {
        let mut d = base.clone();
        change(&mut d);
        keys.push(d.key());
    }
    // An arrival and a closed room with the same fields.
    keys.push(Arrival::new(base.source, base.app, base.room.clone(), base.user.clone()).key());
    let mut arrival = Arrival::new(base.source, base.app, base.room.clone(), base.user.clone());
    arrival.at = base.at;
    keys.push(Change::from(arrival).key());
    let mut closed = RoomClosed::new(base.source, base.app, base.room.clone());
    closed.at = base.at;
    keys.push(Change::from(closed).key());
    let unique: HashSet<_> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "{keys:?}");

    // The raw cause is not part of it.
    let mut raw = base.clone();
    raw.raw = Some(RawCause::Text("EXPIRED".into()));
    assert_eq!(raw.key(), base.key());
}

// ---- what is read, what is refused ----

#[test]
fn other_commands_say_nothing() {
    assert_eq!(COMMANDS.len(), 9);
    for command in COMMANDS {
        assert!(handles(command), "{command}");
    }
    assert!(handles("Live.CallbackMemberStateChanged"));
    for command in [
        "State.StateChange",
        "Group.CallbackAfterSendMsg",
        "Mic.CallbackAfterSeatInfoChanged",
        "Room.CallbackAfterCreateRoom",
        "Room.CallbackUpdateRoomInfo",
        "Live.CallbackAfterCreateRoom",
        "room.callbackaftermemberleave",
        "",
    ] {
        assert!(!handles(command), "{command}");
        // The body is not read: anything goes.
        assert_eq!(changes(APP, command, b"\xff not json", 0), Ok(Vec::new()));
    }
}

#[test]
fn malformed_bodies_are_refused() {
    let cases: &[(&str, &[u8])] = &[
        ("Room.CallbackAfterMemberLeave", br#"{"MemberList_Account":["a"]}"#),
        ("Room.CallbackAfterMemberLeave", br#"{"RoomId":"r"}"#),
        ("Room.CallbackAfterMemberLeave", br#"{"RoomId":5,"MemberList_Account":["a"]}"#),
        ("Room.CallbackAfterMemberLeave", br#"{"RoomId":"r","MemberList_Account":"a"}"#),
        ("Room.CallbackAfterMemberLeave", br#"{"RoomId":"r","MemberList_Account":[1.5]}"#),
        ("Room.CallbackAfterMemberLeave", br#"{"RoomId":"r","MemberList_Account":["a"],"EventTime":-1}"#),
        ("Room.CallbackAfterMemberLeave", br#"{"RoomId":"r","MemberList_Account":["a"],"EventTime":"soon"}"#),
        ("Room.CallbackAfterMemberLeave", br#"{"RoomId":"r","MemberList_Account":["a"],"Type":7}"#),
        ("Room.CallbackAfterMemberLeave", br#"{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"r","MemberList_Account":["a"]}"#),
        ("Room.CallbackAfterMemberLeave", br#"{"CallbackCommand":7,"RoomId":"r","MemberList_Account":["a"]}"#),
        ("Room.CallbackAfterMemberLeave", br#"{"RoomId":"r","RoomId":"s","MemberList_Account":["a"]}"#),
        ("Room.CallbackAfterMemberLeave", br#"["Room.CallbackAfterMemberLeave","r",null,["a"]]"#),
        ("Room.CallbackAfterMemberEnter", br#"{"RoomId":"r"}"#),
        ("Room.CallbackAfterDestroyRoom", br#"{"EventTime":1}"#),
        ("Live.CallbackMemberStateChanged", br#"{"EventType":"Offline","MemberList":[]}"#),
        ("Live.CallbackMemberStateChanged", br#"{"RoomId":"r","EventType":"Offline"}"#),
        ("Live.CallbackMemberStateChanged", br#"{"RoomId":"r","EventType":"Offline","MemberList":["a"]}"#),
        ("Live.CallbackMemberStateChanged", br#"{"RoomId":"r","EventType":"Offline","MemberList":[{}]}"#),
        ("Live.CallbackMemberStateChanged", br#"{"RoomId":"r","EventType":5,"MemberList":[]}"#),
        ("Live.CallbackMemberStateChanged", br#"{"CallbackCommand":"Live.CallbackAfterDestroyRoom","RoomId":"r","MemberList":[]}"#),
        ("Live.CallbackAfterDestroyRoom", br#"{"EventType":"DestroyByUser"}"#),
        ("Group.CallbackAfterMemberExit", br#"{"GroupId":"g"}"#),
        ("Group.CallbackAfterMemberExit", br#"{"ExitMemberList":[]}"#),
        ("Group.CallbackAfterMemberExit", br#"{"GroupId":"g","ExitMemberList":[{"Member_Account":null}]}"#),
        ("Group.CallbackAfterNewMemberJoin", br#"{"GroupId":"g","NewMemberList":{"Member_Account":"a"}}"#),
        ("Group.CallbackOnMemberStateChange", br#"{"GroupId":"g","EventType":"Offline"}"#),
        ("Group.CallbackAfterGroupDestroyed", br#"{"Name":"x"}"#),
        ("Group.CallbackAfterGroupDestroyed", br#"{"GroupId":"g","CallbackCommand":"Group.CallbackAfterMemberExit"}"#),
    ];
    for (command, body) in cases {
        assert_malformed(command, body, MAX);
    }
    for command in COMMANDS {
        for body in [
            &b""[..],
            b"  ",
            b"null",
            b"[]",
            b"{",
            b"\"x\"",
            b"\xef\xbb\xbf{}",
        ] {
            assert_malformed(command, body, MAX);
        }
    }
    // A mismatch is explained, and a long body command is not quoted whole.
    let err = changes(
        APP,
        "Room.CallbackAfterMemberLeave",
        br#"{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"r","MemberList_Account":[]}"#,
        MAX,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(
            r#"CallbackCommand in the body is "Room.CallbackAfterMemberEnter", the query says "Room.CallbackAfterMemberLeave""#
        ),
        "{err}"
    );
    let long = format!(
        r#"{{"CallbackCommand":"{}","RoomId":"r","MemberList_Account":[]}}"#,
        "\u{7f}".repeat(10_000)
    );
    let err = changes(APP, "Room.CallbackAfterMemberLeave", long.as_bytes(), MAX).unwrap_err();
    assert!(err.to_string().contains("a string of 10000 bytes"), "{err}");
}

#[test]
fn member_lists_are_bounded() {
    let list = |n: usize, item: &str| format!("[{}]", vec![item; n].join(","));
    let cases = [
        (
            "Room.CallbackAfterMemberLeave",
            "MemberList_Account",
            r#"{"RoomId":"r","MemberList_Account":LIST}"#,
            r#""a""#,
        ),
        (
            "Room.CallbackAfterMemberEnter",
            "MemberList_Account",
            r#"{"RoomId":"r","MemberList_Account":LIST}"#,
            "7",
        ),
        (
            "Live.CallbackAfterMemberStateChanged",
            "MemberList",
            r#"{"RoomId":"r","EventType":"Offline","MemberList":LIST}"#,
            r#"{"Member_Account":"a"}"#,
        ),
        (
            "Group.CallbackAfterMemberExit",
            "ExitMemberList",
            r#"{"GroupId":"g","ExitMemberList":LIST}"#,
            r#"{"Member_Account":"a"}"#,
        ),
        (
            "Group.CallbackAfterNewMemberJoin",
            "NewMemberList",
            r#"{"GroupId":"g","NewMemberList":LIST}"#,
            r#"{"Member_Account":"a"}"#,
        ),
        (
            "Group.CallbackOnMemberStateChange",
            "MemberList",
            r#"{"GroupId":"g","EventType":"Online","MemberList":LIST}"#,
            r#"{"Member_Account":"a"}"#,
        ),
    ];
    for (command, field, template, item) in cases {
        let body = |n| template.replace("LIST", &list(n, item));
        // Two entries (the same member twice: one change) pass a bound of 2; three do not.
        let got = changes(APP, command, body(2).as_bytes(), 2).unwrap();
        assert_eq!(got.len(), 1, "{command}");
        let err = changes(APP, command, body(3).as_bytes(), 2).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::MalformedBody, "{command}");
        assert!(
            err.to_string()
                .contains(&format!("{field}: the list is longer than 2 entries")),
            "{err}"
        );
        // The bound is this call's alone: the default applies again after it.
        assert!(changes(APP, command, body(3).as_bytes(), MAX).is_ok());
        assert!(changes(APP, command, body(1).as_bytes(), 0).is_err());
    }
}

#[test]
fn many_distinct_members() {
    let members: Vec<String> = (0..5_000).map(|i| format!("\"u{i}\"")).collect();
    let body = format!(
        r#"{{"RoomId":"r","Type":"Leave","MemberList_Account":[{}],"EventTime":1}}"#,
        members.join(",")
    );
    let got = read("Room.CallbackAfterMemberLeave", &body);
    assert_eq!(got.len(), 5_000);
    assert_eq!(got[4_999].user().unwrap(), "u4999");
    let keys: HashSet<_> = got.iter().map(Change::key).collect();
    assert_eq!(keys.len(), 5_000);
}

/// A body that a typed event accepts is accepted here, with as many changes as it names distinct
/// members (or one closed room).
#[test]
fn typed_events_and_changes_agree() {
    use crate::event::{DestroyRoom, MemberEnter, MemberLeave};

    let leave = include_str!("../testing/fixtures/member_leave.json");
    let e = MemberLeave::from_json(leave.as_bytes()).unwrap();
    assert_eq!(
        read("Room.CallbackAfterMemberLeave", leave).len(),
        e.members.len()
    );
    let enter = include_str!("../testing/fixtures/member_enter.json");
    let e = MemberEnter::from_json(enter.as_bytes()).unwrap();
    assert_eq!(
        read("Room.CallbackAfterMemberEnter", enter).len(),
        e.members.len()
    );
    let destroy = include_str!("../testing/fixtures/destroy_room.json");
    DestroyRoom::from_json(destroy.as_bytes()).unwrap();
    assert_eq!(read("Room.CallbackAfterDestroyRoom", destroy).len(), 1);

    #[cfg(feature = "chat")]
    {
        use crate::chat::{GroupAfterMemberExit, GroupAfterNewMemberJoin};
        let exit = r#"{"CallbackCommand":"Group.CallbackAfterMemberExit","GroupId":"@TGS#2J4SZEAEL","Type":"Public","ExitType":"Kicked","Operator_Account":"leckie","ExitMemberList":[{"Member_Account":"jared"},{"Member_Account":"tommy"}]}"#;
        let e = GroupAfterMemberExit::from_json(exit.as_bytes()).unwrap();
        assert_eq!(
            read("Group.CallbackAfterMemberExit", exit).len(),
            e.exit_members.len()
        );
        let join = r#"{"GroupId":"g","NewMemberList":[{"Member_Account":144115212826616434}]}"#;
        let e = GroupAfterNewMemberJoin::from_json(join.as_bytes()).unwrap();
        assert_eq!(
            read("Group.CallbackAfterNewMemberJoin", join).len(),
            e.new_members.len()
        );
    }

    #[cfg(feature = "live")]
    {
        use crate::live::{LiveDestroyRoom, LiveEvent};
        for command in [
            "Live.CallbackAfterMemberStateChanged",
            "Live.CallbackMemberStateChanged",
        ] {
            let LiveEvent::MemberStateChanged(e) =
                LiveEvent::from_json(command, LIVE_TIMEOUT.as_bytes()).unwrap()
            else {
                panic!("not a member-state change")
            };
            assert_eq!(read(command, LIVE_TIMEOUT).len(), e.members.len());
        }
        let destroy =
            r#"{"RoomId":"r","EventType":"DestroyByUser","RoomInfo":{"Owner_Account":1}}"#;
        LiveDestroyRoom::from_json(destroy.as_bytes()).unwrap();
        assert_eq!(read("Live.CallbackAfterDestroyRoom", destroy).len(), 1);
    }
}

// ---- properties ----

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// An account as Tencent may send it: a short string (empty too) or a number.
    fn account() -> impl Strategy<Value = (String, String)> {
        prop_oneof![
            "[a-c]{0,2}".prop_map(|s| (format!("{s:?}"), s)),
            (0u64..4).prop_map(|n| (n.to_string(), n.to_string())),
            Just((
                "144115233775727695".to_string(),
                "144115233775727695".to_string()
            )),
        ]
    }

    /// A time as Tencent may send it, or none.
    fn time() -> impl Strategy<Value = (Option<String>, Option<u64>)> {
        prop_oneof![
            Just((None, None)),
            any::<u64>().prop_map(|t| (Some(t.to_string()), Some(t))),
            any::<u64>().prop_map(|t| (Some(format!("\"{t}\"")), Some(t))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any bytes under any command: a list of changes or a malformed body, never a panic.
        #[test]
        fn any_bytes_never_panic(
            command in prop::sample::select(vec![
                "Room.CallbackAfterMemberLeave", "Room.CallbackAfterMemberEnter",
                "Room.CallbackAfterDestroyRoom", "Live.CallbackAfterMemberStateChanged",
                "Live.CallbackMemberStateChanged", "Live.CallbackAfterDestroyRoom",
                "Group.CallbackAfterMemberExit", "Group.CallbackAfterNewMemberJoin",
                "Group.CallbackOnMemberStateChange", "Group.CallbackAfterGroupDestroyed",
            ]),
            bytes in prop::collection::vec(any::<u8>(), 0..64),
            max in 0usize..4,
        ) {
            if let Err(err) = changes(APP, command, &bytes, max) {
                prop_assert_eq!(err.kind(), RejectionKind::MalformedBody);
            }
        }

        /// A documented body cut short or with one byte changed: never a panic.
        #[test]
        fn mutated_bodies_never_panic(
            which in 0usize..4,
            cut in any::<prop::sample::Index>(),
            flip in any::<(prop::sample::Index, u8)>(),
        ) {
            let (command, body) = [
                ("Room.CallbackAfterMemberLeave", include_str!("../testing/fixtures/member_leave.json")),
                ("Live.CallbackMemberStateChanged", LIVE_TIMEOUT),
                ("Group.CallbackAfterMemberExit", r#"{"GroupId":"g","ExitType":"Kicked","ExitMemberList":[{"Member_Account":"a"},{"Member_Account":1}],"EventTime":"1"}"#),
                ("Group.CallbackOnMemberStateChange", r#"{"GroupId":"g","EventType":"Offline","EventCause":"Quit","MemberList":[{"Member_Account":"a"}]}"#),
            ][which];
            let bytes = body.as_bytes();
            let _ = changes(APP, command, &bytes[..cut.index(bytes.len() + 1)], MAX);
            let mut flipped = bytes.to_vec();
            let at = flip.0.index(flipped.len());
            flipped[at] = flip.1;
            let _ = changes(APP, command, &flipped, MAX);
        }

        /// A Room leave of any members, cause and time, its fields in any order: one departure per
        /// distinct non-empty member, in order, each with the cause and time sent; the same keys when
        /// sent again with the accounts and the time in their other JSON type.
        #[test]
        fn room_leaves(
            members in prop::collection::vec(account(), 0..6),
            kind in prop::option::of(prop::sample::select(vec!["Leave", "Kicked", "Expired", "kicked", "Gone", ""])),
            (time, at) in time(),
            reversed in any::<bool>(),
        ) {
            let list: Vec<&str> = members.iter().map(|(wire, _)| wire.as_str()).collect();
            let mut fields = vec![
                r#""RoomId":"r""#.to_string(),
                format!(r#""MemberList_Account":[{}]"#, list.join(",")),
            ];
            if let Some(kind) = kind {
                fields.push(format!(r#""Type":"{kind}""#));
            }
            if let Some(time) = &time {
                fields.push(format!(r#""EventTime":{time}"#));
            }
            if reversed {
                fields.reverse();
            }
            let body = format!("{{{}}}", fields.join(","));
            let got = read("Room.CallbackAfterMemberLeave", &body);

            let mut want: Vec<&str> = Vec::new();
            for (_, id) in &members {
                if !id.is_empty() && !want.contains(&id.as_str()) {
                    want.push(id);
                }
            }
            prop_assert_eq!(got.len(), want.len());
            let cause = match kind.map(str::to_ascii_lowercase).as_deref() {
                Some("leave") => Cause::Left,
                Some("kicked") => Cause::Kicked,
                Some("expired") => Cause::Timeout,
                _ => Cause::Other,
            };
            for (change, user) in got.iter().zip(&want) {
                let Change::Departure(d) = change else {
                    return Err(TestCaseError::fail("not a departure"));
                };
                prop_assert_eq!(d.user.as_str(), *user);
                prop_assert_eq!(d.cause, cause);
                prop_assert_eq!(d.at.map(EventTime::as_millis), at);
                prop_assert_eq!(d.raw.clone(), kind.map(|k| RawCause::Text(k.to_string())));
            }

            // The same leave, accounts all as strings and the time as a string.
            let strings: Vec<String> = members.iter().map(|(_, id)| format!("{id:?}")).collect();
            let mut again = format!(r#"{{"RoomId":"r","MemberList_Account":[{}]"#, strings.join(","));
            if let Some(kind) = kind {
                again.push_str(&format!(r#","Type":"{kind}""#));
            }
            if let Some(at) = at {
                again.push_str(&format!(r#","EventTime":"{at}""#));
            }
            again.push('}');
            let keys: Vec<_> = got.iter().map(Change::key).collect();
            let again: Vec<_> = read("Room.CallbackAfterMemberLeave", &again).iter().map(Change::key).collect();
            prop_assert_eq!(keys, again);
        }
    }
}
