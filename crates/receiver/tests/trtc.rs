//! The receiver's TRTC contract (issue 17, "Receiver contract"), as a separate process on loopback:
//! `POST /trtc` beside `/callback`; the TRTC key variables (a default key, per-app keys, a file read
//! again on SIGHUP) and every way of getting them wrong; each verified event printed as its body
//! compacted; `ROOM_CALLBACK_PRINT=departures`, without and with an inbox; the inbox storing TRTC
//! events once, retries with a new `CallbackTs` included.
//!
//! The Redis test starts its own `redis-server`; without one it is skipped, saying so, unless
//! `ROOM_CALLBACK_REQUIRE_REDIS` is set.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::fs::TempDir;
use support::process::{program, Ready, Running};
use support::redis::{self, RedisServer};
use support::wait::block_until;
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::{trtc, Command};

const APP: u64 = 1400000000;
const KEY: &str = "123654";
const EXE: &str = env!("CARGO_BIN_EXE_tencent-room-callback-receiver");

/// Starts the receiver with `env` (its apps `APP` unless `env` says otherwise) and waits for it to
/// listen.
fn start(env: &[(&str, &str)]) -> Running {
    Running::start("the receiver", Ready::Line("listening"), |addr| {
        let mut cmd = program(EXE);
        cmd.env("ROOM_CALLBACK_ADDR", addr.to_string())
            .env("ROOM_CALLBACK_SDKAPPID", APP.to_string())
            .env("RUST_LOG", "warn,server=info")
            .envs(env.iter().copied());
        cmd
    })
}

/// Now, in milliseconds: a `CallbackTs` inside the freshness window.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A room event (group 1) of type `event_type` as Tencent sends it: tab-pretty-printed, sent now;
/// `room` and `extra` are JSON values as written.
fn room_event(event_type: u32, room: &str, user: &str, extra: &str, event_ms: u64) -> String {
    format!(
        "{{\n\t\"EventGroupId\":\t1,\n\t\"EventType\":\t{event_type},\n\t\"CallbackTs\":\t{},\n\t\"EventInfo\":\t{{\n\t\t\"RoomId\":\t{room},\n\t\t\"EventTs\":\t\"{}\",\n\t\t\"EventMsTs\":\t{event_ms},\n\t\t\"UserId\":\t\"{user}\"{extra}\n\t}}\n}}",
        now_ms(),
        event_ms / 1000
    )
}

/// An exit (104) of `user` from `room` for `reason`, at `event_ms`.
fn exit(room: &str, user: &str, reason: u32, event_ms: u64) -> String {
    room_event(
        104,
        room,
        user,
        &format!(",\n\t\t\"Reason\":\t{reason}"),
        event_ms,
    )
}

/// `body` compacted as the receiver prints it (the test bodies hold no white space in strings).
fn compacted(body: &str) -> String {
    body.chars().filter(|c| !matches!(c, '\n' | '\t')).collect()
}

/// One HTTP/1.1 request with `headers`: the status and the body of the answer.
fn request(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// Posts `body` to `/trtc` for `app`, signed with `sign` (none: no `Sign` header).
fn post_trtc(r: &Running, app: u64, sign: Option<&str>, body: &str) -> (u16, String) {
    let app = app.to_string();
    let mut headers = vec![("SdkAppId", app.as_str())];
    if let Some(sign) = sign {
        headers.push(("Sign", sign));
    }
    request(r.addr, "/trtc", &headers, body.as_bytes())
}

/// Posts `body` to `/trtc` for `app`, signed with `key`.
fn signed(r: &Running, app: u64, key: &str, body: &str) -> (u16, String) {
    post_trtc(r, app, Some(&trtc::sign(key, body.as_bytes())), body)
}

/// Posts a one-URL callback `name` with `body` (signed with `token` when given).
fn post_callback(r: &Running, name: &str, body: &str, token: Option<&str>) -> (u16, String) {
    let mut req = CallbackRequest::raw(Command::MemberLeave, body.to_owned())
        .url("/callback")
        .callback_command(name);
    if let Some(token) = token {
        req = req.token(token);
    }
    request(r.addr, &req.uri(), &[], body.as_bytes())
}

const OK: (u16, &str) = (200, r#"{"code":0}"#);
const ACK_OK: &str = r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}"#;

fn ok(answer: (u16, String)) {
    assert_eq!((answer.0, answer.1.as_str()), OK);
}

/// Waits until `r` printed `n` lines.
fn printed(r: &Running, n: usize) -> Vec<String> {
    block_until(
        &format!("{n} lines on stdout"),
        Duration::from_secs(30),
        || r.stdout().len() >= n,
    );
    r.stdout()
}

#[test]
fn a_verified_event_prints_its_body_and_every_refusal_prints_nothing() {
    let mut r = start(&[("ROOM_CALLBACK_TRTC_KEY", KEY)]);
    // Beyond 2^53: printed as sent, not through a float.
    let body = exit("9007199254740993", "u1", 1, 1687771618457);
    ok(signed(&r, APP, KEY, &body));
    assert_eq!(r.stdout(), [compacted(&body)]);
    assert!(compacted(&body).contains(r#""RoomId":9007199254740993,"#));

    let wrong = signed(&r, APP, "654321", &body);
    assert_eq!(wrong.0, 401, "{wrong:?}");
    assert!(
        wrong.1.starts_with(r#"{"code":401,"message":""#),
        "{wrong:?}"
    );
    assert_eq!(post_trtc(&r, APP, None, &body).0, 401);
    // Another app: answered as a bad signature, byte for byte.
    let stranger = signed(&r, 7, KEY, &body);
    assert_eq!(stranger, wrong);
    // Changed after signing.
    let sign = trtc::sign(KEY, body.as_bytes());
    let tampered = body.replace("\"u1\"", "\"u2\"");
    assert_eq!(post_trtc(&r, APP, Some(&sign), &tampered).0, 401);

    // Another group (recording, 3): verified, printed raw, every number as sent.
    let recording = format!(
        "{{\n\t\"EventGroupId\":\t3,\n\t\"EventType\":\t301,\n\t\"CallbackTs\":\t{},\n\t\"EventInfo\":\t{{\n\t\t\"RoomId\":\t\"rec 1\",\n\t\t\"TaskId\":\t\"t\\u0041\",\n\t\t\"Payload\":\t{{\"Size\":\t1.50e3}}\n\t}}\n}}",
        now_ms()
    );
    ok(signed(&r, APP, KEY, &recording));
    let line = &printed(&r, 2)[1];
    assert!(
        line.ends_with(
            r#""EventInfo":{"RoomId":"rec 1","TaskId":"t\u0041","Payload":{"Size":1.50e3}}}"#
        ),
        "{line}"
    );

    // The one URL still works beside it.
    let leave = r#"{"RoomId":"r1","MemberList_Account":["u1"],"EventTime":1}"#;
    let (status, answer) = post_callback(&r, "Room.CallbackAfterMemberLeave", leave, None);
    assert_eq!((status, answer.as_str()), (200, ACK_OK));

    let (status, lines, log) = r.terminate();
    assert!(status.success(), "{log}");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], compacted(&body));
    assert!(lines[2].contains(r#""RoomId":"r1""#), "{lines:?}");
    assert!(
        log.contains(
            "listening for callbacks (Room, Chat, Live) on /callback and TRTC events on /trtc"
        ),
        "{log}"
    );
    assert!(
        log.contains("trtc_keys=1400000000: ROOM_CALLBACK_TRTC_KEY print=callbacks"),
        "{log}"
    );
    assert!(!log.contains(" WARN server"), "{log}");
    assert!(!log.contains(KEY), "{log}");
}

#[test]
fn without_a_key_sign_is_not_checked_and_a_warning_says_so() {
    let mut r = start(&[]);
    let body = exit("\"r1\"", "u1", 2, 1687771618457);
    ok(post_trtc(&r, APP, None, &body));
    // Any Sign at all: not checked.
    ok(post_trtc(&r, APP, Some("AAAA"), &body));
    // An unknown app: told so.
    let (status, answer) = post_trtc(&r, 7, None, &body);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.starts_with(r#"{"code":403,"message":""#), "{answer}");
    let (_, lines, log) = r.terminate();
    assert_eq!(lines, [compacted(&body), compacted(&body)]);
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(warnings.len(), 2, "the startup warning, the 403's:\n{log}");
    assert!(
        warnings[0]
            .contains("the Sign of TRTC events on /trtc is not checked, anyone can post events"),
        "{log}"
    );
    assert!(
        log.contains("trtc_keys=1400000000: Sign not checked"),
        "{log}"
    );
}

#[test]
fn per_app_keys_an_app_listed_twice_and_an_app_without_a_key() {
    let apps = "1400000000,1400000001,1400000002";
    let mut r = start(&[
        ("ROOM_CALLBACK_SDKAPPID", apps),
        (
            "ROOM_CALLBACK_TRTC_KEYS",
            "1400000000=keyA,1400000001=keyC,1400000000=keyB",
        ),
    ]);
    let body = exit("12345", "u1", 1, 1687771618457);
    ok(signed(&r, 1400000000, "keyA", &body));
    ok(signed(&r, 1400000000, "keyB", &body));
    assert_eq!(signed(&r, 1400000000, "keyC", &body).0, 401);
    ok(signed(&r, 1400000001, "keyC", &body));
    assert_eq!(signed(&r, 1400000001, "keyA", &body).0, 401);
    // Without a key of its own and with no default: not checked.
    ok(post_trtc(&r, 1400000002, None, &body));
    let (_, lines, log) = r.terminate();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        log.contains(
            "trtc_keys=1400000000: 2 keys of ROOM_CALLBACK_TRTC_KEYS; 1400000001: 1 key of \
             ROOM_CALLBACK_TRTC_KEYS; 1400000002: Sign not checked"
        ),
        "{log}"
    );
    assert!(
        log.contains("these apps have no TRTC key") && log.contains("[1400000002]"),
        "{log}"
    );
    for key in ["keyA", "keyB", "keyC"] {
        assert!(!log.contains(key), "{log}");
    }
}

#[test]
fn sighup_reads_the_tokens_and_the_keys_files_again() {
    let dir = TempDir::new("trtc-sighup");
    let tokens = dir.0.join("tokens");
    let keys = dir.0.join("keys");
    std::fs::write(&tokens, format!("# tokens\n{APP}=oldToken\n")).unwrap();
    std::fs::write(&keys, format!("# keys\n\n{APP}=oldKey\n")).unwrap();
    let r = start(&[
        ("ROOM_CALLBACK_TOKENS_FILE", tokens.to_str().unwrap()),
        ("ROOM_CALLBACK_TRTC_KEYS_FILE", keys.to_str().unwrap()),
    ]);
    let pid = r.child.id();
    let leave = r#"{"RoomId":"r1","MemberList_Account":["u1"],"EventTime":1}"#;
    let name = "Room.CallbackAfterMemberLeave";
    let body = exit("12345", "u1", 1, 1687771618457);
    assert_eq!(post_callback(&r, name, leave, Some("oldToken")).0, 200);
    ok(signed(&r, APP, "oldKey", &body));
    assert_eq!(signed(&r, APP, "newKey", &body).0, 401);

    std::fs::write(&tokens, format!("{APP}=newToken\n")).unwrap();
    std::fs::write(&keys, format!("{APP}=newKey\n")).unwrap();
    r.signal("HUP");
    block_until("both reloads", Duration::from_secs(30), || {
        let log = r.stderr().join("\n");
        log.contains("TRTC keys reloaded") && log.contains("tokens reloaded")
    });
    assert_eq!(post_callback(&r, name, leave, Some("oldToken")).0, 401);
    assert_eq!(post_callback(&r, name, leave, Some("newToken")).0, 200);
    assert_eq!(signed(&r, APP, "oldKey", &body).0, 401);
    ok(signed(&r, APP, "newKey", &body));

    // A file that does not parse: the keys in force stay.
    std::fs::write(&keys, format!("{APP}=not-a-key\n")).unwrap();
    r.signal("HUP");
    block_until("the refused reload", Duration::from_secs(30), || {
        r.stderr().join("\n").contains("TRTC keys not reloaded")
    });
    ok(signed(&r, APP, "newKey", &body));
    assert_eq!(r.child.id(), pid);
    let mut r = r;
    let (status, lines, log) = r.terminate();
    assert!(status.success(), "{log}");
    assert_eq!(lines.len(), 5, "{lines:?}");
    for secret in ["oldToken", "newToken", "oldKey", "newKey", "not-a-key"] {
        assert!(!log.contains(secret), "{secret}: {log}");
    }
}

/// Runs the receiver with `env` (nothing else of `ROOM_CALLBACK_*`), expecting it to stop before it
/// listens: its exit code and stderr.
fn refused(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = program(EXE)
        .env("ROOM_CALLBACK_ADDR", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Variables, the variable the error must name, and what it must say.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[test]
fn a_bad_variable_exits_2_naming_it_and_never_the_key() {
    let dir = TempDir::new("trtc-vars");
    let bad_file = dir.0.join("bad");
    std::fs::write(&bad_file, "1400000000=secret-key\n").unwrap();
    let empty_file = dir.0.join("empty");
    std::fs::write(&empty_file, "# nothing\n\n").unwrap();
    let other_app_file = dir.0.join("other");
    std::fs::write(&other_app_file, "7=secretKey1\n").unwrap();
    let missing = dir.0.join("missing");
    let (bad, empty, other, missing) = (
        bad_file.to_str().unwrap(),
        empty_file.to_str().unwrap(),
        other_app_file.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let long = "k".repeat(33);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("ROOM_CALLBACK_TRTC_KEY", "")],
            "ROOM_CALLBACK_TRTC_KEY",
            "set but empty",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEY", "  ")],
            "ROOM_CALLBACK_TRTC_KEY",
            "white space",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEY", "secret-key")],
            "ROOM_CALLBACK_TRTC_KEY",
            "1 to 32",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEY", &long)],
            "ROOM_CALLBACK_TRTC_KEY",
            "1 to 32",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEY", "secret key")],
            "ROOM_CALLBACK_TRTC_KEY",
            "1 to 32",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS", "")],
            "ROOM_CALLBACK_TRTC_KEYS",
            "set but empty",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS", "1400000000=secretKey1,")],
            "ROOM_CALLBACK_TRTC_KEYS",
            "entry 2 is empty",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS", "secretKey1")],
            "ROOM_CALLBACK_TRTC_KEYS",
            "is not APPID=KEY",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS", "app=secretKey1")],
            "ROOM_CALLBACK_TRTC_KEYS",
            "not a decimal SDKAppID",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS", "7=secretKey1")],
            "ROOM_CALLBACK_TRTC_KEYS",
            "app 7 is not one of ROOM_CALLBACK_SDKAPPID",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS", "1400000000=")],
            "ROOM_CALLBACK_TRTC_KEYS",
            "has no key after '='",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS", "1400000000=secret-key")],
            "ROOM_CALLBACK_TRTC_KEYS",
            "entry 1 (app 1400000000): the key is not 1 to 32 ASCII letters or digits",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS", "1400000000= secretKey1")],
            "ROOM_CALLBACK_TRTC_KEYS",
            "1 to 32",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS_FILE", "")],
            "ROOM_CALLBACK_TRTC_KEYS_FILE",
            "set but empty",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS_FILE", missing)],
            "ROOM_CALLBACK_TRTC_KEYS_FILE",
            "cannot read",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS_FILE", empty)],
            "ROOM_CALLBACK_TRTC_KEYS_FILE",
            "holds no key",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS_FILE", bad)],
            "ROOM_CALLBACK_TRTC_KEYS_FILE",
            "1 to 32",
        ),
        (
            vec![("ROOM_CALLBACK_TRTC_KEYS_FILE", other)],
            "ROOM_CALLBACK_TRTC_KEYS_FILE",
            "app 7 is not one of",
        ),
        (
            vec![
                ("ROOM_CALLBACK_TRTC_KEYS", "1400000000=secretKey1"),
                ("ROOM_CALLBACK_TRTC_KEYS_FILE", empty),
            ],
            "ROOM_CALLBACK_TRTC_KEYS and ROOM_CALLBACK_TRTC_KEYS_FILE are both set",
            "choose one",
        ),
        (
            vec![("ROOM_CALLBACK_PRINT", "all")],
            "ROOM_CALLBACK_PRINT",
            r#""all" is not what to print (expected departures, or callbacks: the default)"#,
        ),
        (
            vec![("ROOM_CALLBACK_PRINT", "")],
            "ROOM_CALLBACK_PRINT",
            "set but empty",
        ),
        (
            vec![("ROOM_CALLBACK_PRINT", "Departures")],
            "ROOM_CALLBACK_PRINT",
            "is not what to print",
        ),
    ];
    for (env, variable, says) in cases {
        let (code, stderr) = refused(&env);
        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{env:?}: {stderr}");
        assert!(
            stderr.starts_with("tencent-room-callback-receiver: "),
            "{env:?}: {stderr}"
        );
        assert!(stderr.contains(variable), "{env:?}: {stderr}");
        assert!(stderr.contains(says), "{env:?}: {stderr}");
        for secret in ["secret-key", "secretKey1", "secret key", long.as_str()] {
            assert!(!stderr.contains(secret), "{env:?}: {stderr}");
        }
    }
}

/// What the departures tests send: `(path, name or app, body)`, the TRTC ones signed with `KEY`.
fn send_all(r: &Running, callbacks: &[(&str, &str, String)]) {
    for (path, name, body) in callbacks {
        let answer = if *path == "/trtc" {
            signed(r, APP, KEY, body)
        } else {
            post_callback(r, name, body, None)
        };
        assert_eq!(answer.0, 200, "{name}: {answer:?}");
    }
}

/// A callback of every channel: those that say someone left or a room closed, and those that don't
/// (an enter, `State.StateChange`, a TRTC enter and a media event, a decision). The lines expected of
/// the first, in order.
fn every_channel() -> (Vec<(&'static str, &'static str, String)>, Vec<&'static str>) {
    let media = "{\n\t\"EventGroupId\":\t2,\n\t\"EventType\":\t204,\n\t\"CallbackTs\":\tNOW,\n\t\"EventInfo\":\t{\n\t\t\"RoomId\":\t8489,\n\t\t\"EventTs\":\t1664209748,\n\t\t\"EventMsTs\":\t1664209748180,\n\t\t\"UserId\":\t\"user_85034614\",\n\t\t\"Reason\":\t0\n\t}\n}"
        .replace("NOW", &now_ms().to_string());
    let callbacks = vec![
        ("/callback", "Room.CallbackAfterMemberLeave", r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"u1","RoomId":"r1","MemberCount":20,"Type":"Leave","MemberList_Account":["u1"],"Reason":"","EventTime":1670574414123}"#.to_owned()),
        ("/callback", "Room.CallbackAfterMemberEnter", r#"{"RoomId":"r1","MemberList_Account":["u2"],"EventTime":1670574414124}"#.to_owned()),
        ("/callback", "Room.CallbackAfterMemberLeave", r#"{"RoomId":"r1","Type":"Expired","MemberList_Account":["u3","u4"],"EventTime":"1670574414125"}"#.to_owned()),
        ("/trtc", "", exit("12345", "t1", 3, 1687771618450)),
        ("/trtc", "", exit("\"s1\"", "t2", 5, 1687771618451)),
        ("/trtc", "", room_event(103, "12345", "t3", "", 1687771618452)),
        ("/trtc", "", room_event(102, "12345", "t0", "", 1687771618457)),
        ("/trtc", "", media),
        ("/callback", "Live.CallbackMemberStateChanged", r#"{"RoomId":"live1","EventType":"Offline","EventCause":"HeartbeatInterrupt","MemberList":[{"Member_Account":"l1"}],"EventTime":1670574414200}"#.to_owned()),
        ("/callback", "Live.CallbackAfterDestroyRoom", r#"{"RoomId":"live1","EventType":"DestroyByUser","EventTime":1670574414300}"#.to_owned()),
        ("/callback", "Group.CallbackAfterMemberExit", r#"{"GroupId":"@TGS#g1","Type":"Public","ExitType":"Kicked","Operator_Account":"admin","ExitMemberList":[{"Member_Account":"g1"}]}"#.to_owned()),
        ("/callback", "Group.CallbackOnMemberStateChange", r#"{"GroupId":"@TGS#lg","EventType":"Offline","EventCause":"Quit","MemberList":[{"Member_Account":"g2"}],"EventTime":1670574414400}"#.to_owned()),
        ("/callback", "Group.CallbackAfterGroupDestroyed", r#"{"GroupId":"@TGS#g1","Type":"Public","Owner_Account":"admin","MemberList":[{"Member_Account":"g3"}],"EventTime":1670574414500}"#.to_owned()),
        ("/callback", "State.StateChange", r#"{"Info":{"Action":"Logout","To_Account":"u1","Reason":"TimeOut"},"EventTime":1670574414600}"#.to_owned()),
        ("/callback", "C2C.CallbackBeforeSendMsg", r#"{"From_Account":"a","To_Account":"b","MsgBody":[]}"#.to_owned()),
        ("/callback", "Room.CallbackAfterDestroyRoom", r#"{"RoomId":"r1","EventTime":1670574414700}"#.to_owned()),
    ];
    let lines = vec![
        r#"{"source":"room","app":1400000000,"room":"r1","user":"u1","cause":"left","at_ms":1670574414123}"#,
        r#"{"source":"room","app":1400000000,"room":"r1","user":"u3","cause":"timeout","at_ms":1670574414125}"#,
        r#"{"source":"room","app":1400000000,"room":"r1","user":"u4","cause":"timeout","at_ms":1670574414125}"#,
        r#"{"source":"trtc","app":1400000000,"room":"12345","user":"t1","cause":"kicked","at_ms":1687771618450}"#,
        r#"{"source":"trtc","app":1400000000,"room":"s1","user":"t2","cause":"other","at_ms":1687771618451}"#,
        r#"{"source":"trtc","app":1400000000,"room":"12345","closed":true,"at_ms":1687771618457}"#,
        r#"{"source":"live","app":1400000000,"room":"live1","user":"l1","cause":"timeout","at_ms":1670574414200}"#,
        r#"{"source":"live","app":1400000000,"room":"live1","closed":true,"at_ms":1670574414300}"#,
        r#"{"source":"group","app":1400000000,"room":"@TGS#g1","user":"g1","cause":"kicked","at_ms":null}"#,
        r#"{"source":"group","app":1400000000,"room":"@TGS#lg","user":"g2","cause":"left","at_ms":1670574414400}"#,
        r#"{"source":"group","app":1400000000,"room":"@TGS#g1","closed":true,"at_ms":1670574414500}"#,
        r#"{"source":"room","app":1400000000,"room":"r1","closed":true,"at_ms":1670574414700}"#,
    ];
    (callbacks, lines)
}

#[test]
fn departures_from_every_channel_and_nothing_else() {
    let mut r = start(&[
        ("ROOM_CALLBACK_TRTC_KEY", KEY),
        ("ROOM_CALLBACK_PRINT", "departures"),
    ]);
    let (callbacks, expected) = every_channel();
    send_all(&r, &callbacks);
    let (status, lines, log) = r.terminate();
    assert!(status.success(), "{log}");
    assert_eq!(lines, expected);
    assert!(log.contains("print=departures"), "{log}");
}

#[test]
fn departures_with_an_inbox_come_from_the_worker() {
    let dir = TempDir::new("trtc-departures-inbox");
    let r = start(&[
        ("ROOM_CALLBACK_TRTC_KEY", KEY),
        ("ROOM_CALLBACK_PRINT", "departures"),
        ("ROOM_CALLBACK_INBOX", dir.0.to_str().unwrap()),
    ]);
    let (callbacks, expected) = every_channel();
    send_all(&r, &callbacks);
    let mut lines = printed(&r, expected.len());
    // Let a line that should not come have its chance to.
    std::thread::sleep(Duration::from_millis(300));
    let mut r = r;
    let (status, after, log) = r.terminate();
    assert!(status.success(), "{log}");
    assert_eq!(after.len(), expected.len(), "{after:?}");
    // The worker handles events concurrently: the same lines, in any order.
    let mut expected: Vec<String> = expected.into_iter().map(str::to_owned).collect();
    lines.sort();
    expected.sort();
    assert_eq!(lines, expected);
}

/// An exit stored, then Tencent's retries of it: each with a new `CallbackTs`, the event itself
/// unchanged. Answered `{"code":0}` each time, printed once.
fn stored_once(env: &[(&str, &str)]) {
    let mut env = env.to_vec();
    env.push(("ROOM_CALLBACK_TRTC_KEY", KEY));
    let r = start(&env);
    let first = exit("12345", "u1", 1, 1687771618457);
    ok(signed(&r, APP, KEY, &first));
    printed(&r, 1);
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(5));
        let retry = exit("12345", "u1", 1, 1687771618457);
        assert_ne!(retry, first, "a new CallbackTs");
        ok(signed(&r, APP, KEY, &retry));
    }
    // Another user's exit: another event, which comes after the retries were handled (or not).
    ok(signed(&r, APP, KEY, &exit("12345", "u2", 1, 1687771618457)));
    let lines = printed(&r, 2);
    std::thread::sleep(Duration::from_millis(300));
    let mut r = r;
    let (_, after, log) = r.terminate();
    assert_eq!(after.len(), 2, "{after:?}\n{log}");
    assert_eq!(lines[0], compacted(&first));
    assert!(lines[1].contains(r#""UserId":"u2""#), "{lines:?}");
}

#[test]
fn the_embedded_inbox_stores_a_trtc_event_once() {
    let dir = TempDir::new("trtc-inbox");
    stored_once(&[("ROOM_CALLBACK_INBOX", dir.0.to_str().unwrap())]);
}

#[test]
fn the_redis_inbox_stores_a_trtc_event_once() {
    if !redis::available("the_redis_inbox_stores_a_trtc_event_once") {
        return;
    }
    let server = RedisServer::start("trtc-inbox");
    stored_once(&[("ROOM_CALLBACK_REDIS", &server.url())]);
}

#[test]
fn a_body_with_the_other_spelling_of_the_querys_command_is_printed() {
    let mut r = start(&[]);
    let body = r#"{"CallbackCommand":"Live.CallbackMemberStateChanged","RoomId":"live1","EventType":"Offline","EventCause":"Leave","MemberList":[{"Member_Account":"l1"}]}"#;
    let (status, answer) = post_callback(&r, "Live.CallbackAfterMemberStateChanged", body, None);
    assert_eq!((status, answer.as_str()), (200, ACK_OK));
    // Another command is still a mismatch.
    let other = body.replace(
        "Live.CallbackMemberStateChanged",
        "Live.CallbackAfterDestroyRoom",
    );
    assert_eq!(
        post_callback(&r, "Live.CallbackAfterMemberStateChanged", &other, None).0,
        400
    );
    let (_, lines, _) = r.terminate();
    assert_eq!(lines, [body]);
}
