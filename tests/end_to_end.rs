//! End to end over loopback: the compiled `server` example receives what the compiled `send` example
//! posts, for each of the six events, unsigned and signed, and for TRTC's exit, enter and dismiss
//! events on `/trtc`, signed with the app's TRTC key.
//!
//! `cargo test` builds the examples before running the tests; this test runs those binaries from
//! `target/<profile>/examples/`, next to its own `target/<profile>/deps/`.

use std::process::{Command as Process, Output, Stdio};

use support::http::status_and_body;
use support::process::{example, Ready, Running};

/// The `--event` names of the sender, with the command each sends.
const EVENTS: [(&str, &str); 6] = [
    ("member-leave", "Room.CallbackAfterMemberLeave"),
    ("member-enter", "Room.CallbackAfterMemberEnter"),
    ("create-room", "Room.CallbackAfterCreateRoom"),
    ("destroy-room", "Room.CallbackAfterDestroyRoom"),
    ("update-room", "Room.CallbackAfterUpdateRoomInfo"),
    ("seat-changed", "Mic.CallbackAfterSeatInfoChanged"),
];

const OK_ACK: &str = r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}"#;

/// Starts the server example on a free loopback port, with `token` when given, and waits until it
/// accepts connections.
fn start_server(token: Option<&str>) -> Running {
    Running::start("the server example", Ready::Accepting, |addr| {
        let mut cmd = Process::new(example("server"));
        cmd.env("ROOM_CALLBACK_ADDR", addr.to_string())
            .env_remove("ROOM_CALLBACK_SDKAPPID")
            .env_remove("ROOM_CALLBACK_TOKEN")
            .env("RUST_LOG", "info");
        if let Some(token) = token {
            cmd.env("ROOM_CALLBACK_TOKEN", token);
        }
        cmd
    })
}

/// Starts the server example with `ROOM_CALLBACK_TRTC_KEY=key`.
fn start_trtc_server(key: &str) -> Running {
    Running::start("the server example", Ready::Accepting, |addr| {
        let mut cmd = support::process::command("server");
        cmd.env("ROOM_CALLBACK_ADDR", addr.to_string())
            .env("ROOM_CALLBACK_TRTC_KEY", key)
            .env("RUST_LOG", "info");
        cmd
    })
}

/// Runs the sender with `args`.
fn send(args: &[&str]) -> Output {
    Process::new(example("send"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the send example runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The sender's stdout: the status line, then the answer.
fn answer(out: &Output) -> (String, String) {
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let status = lines.next().unwrap_or_default().to_owned();
    let body = lines.next().unwrap_or_default().to_owned();
    (status, body)
}

/// Checks that one printed line is the event the sender sent, with Tencent's field names.
fn check_line(line: &str, command: &str, room: &str) {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(v["CallbackCommand"], command, "{line}");
    assert!(v["EventTime"].is_u64(), "{line}");
    let room_id = v.get("RoomId").or_else(|| v["RoomInfo"].get("RoomId"));
    assert_eq!(room_id.and_then(|r| r.as_str()), Some(room), "{line}");
    assert!(v.get("Operator_Account").is_some(), "{line}");
    // Never the crate's own field names.
    for ours in ["room_id", "event_time", "members", "operator"] {
        assert!(v.get(ours).is_none(), "{line}");
    }
}

#[test]
fn every_event_from_the_sender_reaches_the_server() {
    let mut server = start_server(None);
    let url = server.url();
    for (event, _) in EVENTS {
        let out = send(&[
            &url, "--event", event, "--room", "e2e-room", "--member", "alice",
        ]);
        let (status, body) = answer(&out);
        assert!(
            out.status.success(),
            "send --event {event}: {:?}\nstdout: {}\nstderr: {}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        assert_eq!(status, "200 OK", "{event}");
        assert_eq!(body, OK_ACK, "{event}");
    }
    // The defaults: member-leave, the sample's room, SDKAppID 1400000000.
    let out = send(&[&url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(answer(&out), ("200 OK".into(), OK_ACK.into()));

    let (lines, log) = server.stop();
    assert_eq!(
        lines.len(),
        EVENTS.len() + 1,
        "one line per event on stdout:\n{}\nlog:\n{log}",
        lines.join("\n")
    );
    for (line, (_, command)) in lines.iter().zip(EVENTS) {
        check_line(line, command, "e2e-room");
    }
    check_line(&lines[6], "Room.CallbackAfterMemberLeave", "rid-123");
    // The members given on the command line, where the event has members.
    let leave: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(leave["MemberList_Account"], serde_json::json!(["alice"]));
    let seats: serde_json::Value = serde_json::from_str(&lines[5]).unwrap();
    assert_eq!(seats["SeatList"][0]["Member_Account"], "alice");
}

#[test]
fn signed_callbacks_reach_a_server_with_a_token() {
    let mut server = start_server(Some("e2e-token"));
    let url = server.url();

    let out = send(&[&url, "--token", "e2e-token", "--event", "member-enter"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(answer(&out), ("200 OK".into(), OK_ACK.into()));
    assert!(
        text(&out.stderr).contains("&Sign="),
        "the request was signed"
    );

    // Unsigned, or signed with another token: refused with a FAIL acknowledgment, nothing printed.
    let mut refused = Vec::new();
    for (args, code) in [
        (vec![url.as_str()], 40101),
        (vec![url.as_str(), "--token", "wrong"], 40104),
    ] {
        let out = send(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let (status, body) = answer(&out);
        assert_eq!(status, "401 Unauthorized", "{args:?}");
        let ack: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(ack["ActionStatus"], "FAIL", "{args:?}");
        assert_eq!(ack["ErrorCode"], code, "{args:?}");
        refused.push((status, body));
    }
    // Another app's callback: refused, and answered exactly as this app's unsigned or wrongly signed
    // callback is (even signed with this receiver's token): the answer does not tell which apps the
    // receiver serves. The reason is in the server's log only.
    let other = [url.as_str(), "--sdk-app-id", "1400000001"];
    let out = send(&other);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(answer(&out), refused[0]);
    let out = send(&[&other[..], &["--token", "e2e-token"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(answer(&out), refused[1]);
    assert!(!answer(&out).1.contains("1400000001"));

    let (lines, log) = server.stop();
    assert_eq!(lines.len(), 1, "{lines:?}\nlog:\n{log}");
    check_line(&lines[0], "Room.CallbackAfterMemberEnter", "rid-123");
    assert_eq!(
        log.matches("SdkAppid 1400000001 is not an app of this receiver")
            .count(),
        2,
        "{log}"
    );
}

#[test]
fn the_sender_explains_bad_arguments() {
    for args in [
        &[][..],
        &["http://127.0.0.1:9/callback", "--event", "member-exploded"],
        &["http://127.0.0.1:9/callback", "--sdk-app-id", "many"],
        &["http://127.0.0.1:9/callback", "--token"],
        &["http://127.0.0.1:9/callback", "--nope"],
        &["http://127.0.0.1:9/callback", "http://127.0.0.1:9/other"],
        &["https://example.com/callback"],
        &["http://127.0.0.1:9/trtc", "--trtc-event", "explode"],
        &[
            "http://127.0.0.1:9/trtc",
            "--trtc-event",
            "exit",
            "--token",
            "t",
        ],
        &[
            "http://127.0.0.1:9/trtc",
            "--trtc-event",
            "exit",
            "--event",
            "member-leave",
        ],
        &[
            "http://127.0.0.1:9/trtc",
            "--trtc-event",
            "exit",
            "--member",
            "a",
            "--member",
            "b",
        ],
        &[
            "http://127.0.0.1:9/trtc",
            "--trtc-event",
            "dismiss",
            "--member",
            "a",
        ],
        &[
            "http://127.0.0.1:9/trtc",
            "--trtc-event",
            "exit",
            "--reason",
            "left",
        ],
        &[
            "http://127.0.0.1:9/trtc",
            "--trtc-event",
            "exit",
            "--key",
            "",
        ],
        &["http://127.0.0.1:9/callback", "--key", "k"],
    ] {
        let out = send(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("usage: send <url>"), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let help = send(&["--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("--event"));
}

#[test]
fn a_request_without_a_command_gets_404_a_new_command_is_acknowledged_and_sigterm_stops_cleanly() {
    let mut server = start_server(None);
    // No CallbackCommand: not a callback, the app's own 404 FAIL acknowledgment.
    let (status, body) = status_and_body(
        server.addr,
        "POST",
        "/callback?SdkAppid=1400000000&contenttype=json",
        br#"{"CallbackCommand":"Room.CallbackAfterSomethingNew","RoomId":"r","EventTime":1}"#,
    );
    assert_eq!(status, 404, "{body}");
    let ack: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(ack["ActionStatus"], "FAIL", "{body}");
    assert_eq!(ack["ErrorInfo"], "no handler for this command", "{body}");
    assert_eq!(ack["ErrorCode"], 40401, "{body}");
    // A command this version does not type: verified, acknowledged, printed as received (Tencent would
    // count a 404 as a failed callback).
    let new = r#"{"CallbackCommand":"Room.CallbackAfterSomethingNew","RoomId":"r","EventTime":1}"#;
    let (status, body) = status_and_body(
        server.addr,
        "POST",
        "/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterSomethingNew&contenttype=json",
        new.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");

    let (status, lines, log) = server.terminate();
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    assert!(log.contains("stopped"), "log:\n{log}");
    assert_eq!(lines, [new], "only the new command was accepted");
}

#[test]
fn trtc_events_from_the_sender_reach_the_server_signed_with_the_key() {
    let mut server = start_trtc_server("e2eKey1");
    let url = format!("http://{}/trtc", server.addr);
    for args in [
        &[
            "--trtc-event",
            "exit",
            "--room",
            "12345",
            "--member",
            "alice",
            "--reason",
            "3",
        ][..],
        &["--trtc-event", "enter", "--room", "0123", "--member", "bob"],
        &["--trtc-event", "dismiss", "--room", "12345"],
    ] {
        let out = send(&[&[url.as_str(), "--key", "e2eKey1"][..], args].concat());
        assert!(
            out.status.success(),
            "{args:?}: {:?}\nstdout: {}\nstderr: {}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        assert_eq!(answer(&out), ("200 OK".into(), r#"{"code":0}"#.into()));
        // Pretty-printed with tabs, as Tencent sends.
        assert!(
            text(&out.stderr).contains("\n\t\"EventGroupId\":\t1,\n"),
            "{args:?}"
        );
    }
    // A wrong key, or none: 401 in TRTC's dialect, exit code 1, nothing printed.
    for key in [&["--key", "wrongKey"][..], &[]] {
        let out = send(&[&[url.as_str(), "--trtc-event", "exit"][..], key].concat());
        assert_eq!(out.status.code(), Some(1), "{key:?}");
        let (status, body) = answer(&out);
        assert_eq!(status, "401 Unauthorized", "{key:?}");
        assert!(body.starts_with(r#"{"code":401,"message":""#), "{body}");
    }

    let (lines, log) = server.stop();
    assert_eq!(lines.len(), 3, "{lines:?}\nlog:\n{log}");
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["EventType"], 104);
    assert_eq!(events[0]["EventInfo"]["RoomId"], 12345);
    assert_eq!(events[0]["EventInfo"]["UserId"], "alice");
    assert_eq!(events[0]["EventInfo"]["Reason"], 3);
    assert_eq!(events[1]["EventType"], 103);
    assert_eq!(events[1]["EventInfo"]["RoomId"], "0123");
    assert_eq!(events[2]["EventType"], 102);
    assert!(
        events[2]["EventInfo"].get("UserId").is_none(),
        "{}",
        lines[2]
    );
    assert!(
        !log.contains("e2eKey1") && !log.contains("wrongKey"),
        "{log}"
    );
}
