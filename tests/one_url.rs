//! One URL for every product, black-box: the compiled `server` example receives what the compiled
//! `send` example (and a few hand-made requests) post over loopback, as Tencent sends an SDKAppID's Chat,
//! Room and Live callbacks to one URL with the same query and signature.
//!
//! What the example is configured with here, and so what these tests hold it to:
//! - `ROOM_CALLBACK_SDKAPPID` lists the apps; `ROOM_CALLBACK_TOKENS` gives apps their own tokens,
//!   `ROOM_CALLBACK_TOKEN` the tokens of the others.
//! - The signature policy is the library's default, which the example does not change: an app with a
//!   token must sign every callback, whatever its command (401 otherwise); an app without one is not
//!   verified.
//!
//! `cargo test` builds the examples before running the tests; this test runs those binaries from
//! `target/<profile>/examples/`, next to its own `target/<profile>/deps/`. Every process and every
//! socket is bounded by a timeout (a way out for a loaded machine, not a timing assertion).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command as Process, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::http::status_and_body as raw_request;
use support::process::{drain, example, exit_within, free_addr, Ready, Running};
use tencent_room_callback::testing::signature;

const OK_ACK: &str = r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}"#;
const NO_HANDLER_ACK: &str =
    r#"{"ActionStatus":"FAIL","ErrorInfo":"no handler for this command","ErrorCode":40401}"#;

/// Two apps with tokens of their own, and one that is not configured anywhere.
const APP_A: &str = "1400000001";
const APP_B: &str = "1400000002";
const UNKNOWN_APP: &str = "1400000099";

/// Every variable the server reads: removed from each server's environment before the test sets some.
const VARS: [&str; 5] = [
    "ROOM_CALLBACK_ADDR",
    "ROOM_CALLBACK_SDKAPPID",
    "ROOM_CALLBACK_TOKEN",
    "ROOM_CALLBACK_TOKENS",
    "ROOM_CALLBACK_TOKENS_FILE",
];

/// What the line the server logs once it listens says.
const LISTENING: &str = "listening";

/// Tencent's `State.StateChange` sample (protocol.md §8), compact as Tencent sends it.
const STATE_CHANGE: &str = r#"{"CallbackCommand":"State.StateChange","EventTime":1629883332497,"Info":{"Action":"Login","To_Account":"u1","Reason":"Register"},"KickedDevice":[{"Platform":"Android"}]}"#;

/// A `Group.CallbackAfterSendMsg`-like body, pretty-printed, with an account ID above 2^53, an integer
/// above 2^64, and strings holding white space, escapes and JSON-looking text.
const GROUP_PRETTY: &str = r#"{
    "CallbackCommand" : "Group.CallbackAfterSendMsg",
    "GroupId": "@TGS#2J4SZEAEL",
    "Type": "Public",
    "From_Account": 144115233775727695,
    "Operator_Account": "admin",
    "Random": 99999999999999999999999,
    "MsgSeq": 123,
    "MsgTime": 1490686222,
    "MsgBody": [
        {
            "MsgType": "TIMTextElem",
            "MsgContent": { "Text": "red  packet: \"big\" one,\tsee {\"x\": 1 }" }
        }
    ],
    "Ratio": -1.50e+3,
    "EventTime": "1670574414123"
}
"#;

/// [`GROUP_PRETTY`] on one line, every byte outside the removed white space as sent.
const GROUP_LINE: &str = r#"{"CallbackCommand":"Group.CallbackAfterSendMsg","GroupId":"@TGS#2J4SZEAEL","Type":"Public","From_Account":144115233775727695,"Operator_Account":"admin","Random":99999999999999999999999,"MsgSeq":123,"MsgTime":1490686222,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red  packet: \"big\" one,\tsee {\"x\": 1 }"}}],"Ratio":-1.50e+3,"EventTime":"1670574414123"}"#;

// ----------------------------------------------------------------------------------------------------
// Processes

/// Runs `cmd` to its end, with `stdin` as its input, within `limit` (killed and failed past it).
fn run(cmd: &mut Process, stdin: Option<&[u8]>, limit: Duration) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?} starts: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let input = input.to_vec();
        // Dropped at the end: the child sees the end of its input.
        thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let Some(status) = exit_within(&mut child, limit) else {
        let err = err.join().unwrap_or_default();
        panic!(
            "{cmd:?} did not end within {limit:?}; stderr:\n{}",
            text(&err)
        );
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The server example's command with only `env` of the server's variables set (and `ROOM_CALLBACK_ADDR`
/// = `addr`).
fn server_command(addr: SocketAddr, env: &[(&str, &str)]) -> Process {
    let mut cmd = Process::new(example("server"));
    for var in VARS {
        cmd.env_remove(var);
    }
    cmd.env("ROOM_CALLBACK_ADDR", addr.to_string())
        .env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Starts the server example with `env`, which it must refuse: its output once it exited by itself.
/// Fails at once when it listens instead (killing it), and after 60 s when it does neither.
fn refused_start(env: &[(&str, &str)], what: &str) -> Output {
    let mut child = server_command(free_addr(), env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server example starts");
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    let err = thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(err).split(b'\n').map_while(Result::ok) {
            let _ = tx.send(String::from_utf8_lossy(&line).contains(LISTENING));
            all.extend(line);
            all.push(b'\n');
        }
        all
    });
    let give_up = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("the server's status") {
            break status;
        }
        let listening = rx.recv_timeout(Duration::from_millis(20)) == Ok(true);
        if listening || Instant::now() >= give_up {
            let _ = child.kill();
            let _ = child.wait();
            let log = text(&err.join().unwrap_or_default());
            panic!("{what}: the server did not refuse to start:\n{log}");
        }
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Starts the server example on a free loopback port with `env`, and waits for its listening line.
fn start_server(env: &[(&str, &str)]) -> Running {
    Running::start("the server example", Ready::Line(LISTENING), |addr| {
        server_command(addr, env)
    })
}

/// Runs the sender with `args`, `stdin` as its input.
fn send_with(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Process::new(example("send"));
    cmd.args(args);
    run(&mut cmd, stdin, Duration::from_secs(60))
}

fn send(args: &[&str]) -> Output {
    send_with(args, None)
}

/// The sender's stdout: the status line, then the answer.
fn answer(out: &Output) -> (String, String) {
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let status = lines.next().unwrap_or_default().to_owned();
    let body = lines.next().unwrap_or_default().to_owned();
    (status, body)
}

/// Asserts the sender got a 200 with the OK acknowledgment (and exited 0).
#[track_caller]
fn assert_accepted(out: &Output, what: &str) {
    assert_eq!(
        answer(out),
        ("200 OK".to_owned(), OK_ACK.to_owned()),
        "{what}\nstderr: {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{what}");
}

/// The HTTP status and the FAIL acknowledgment's `ErrorCode` of a refused callback, as the sender saw
/// them (it exits 1 for them).
#[track_caller]
fn refusal(out: &Output, what: &str) -> (u16, i64) {
    let (status, body) = answer(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: {status} {body}\nstderr: {}",
        text(&out.stderr)
    );
    fail_ack(&status_code(&status), &body, what)
}

fn status_code(status_line: &str) -> u16 {
    status_line
        .split(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line:?}"))
}

/// The status and the `ErrorCode` of a FAIL acknowledgment.
#[track_caller]
fn fail_ack(status: &u16, body: &str, what: &str) -> (u16, i64) {
    let ack: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"));
    assert_eq!(ack["ActionStatus"], "FAIL", "{what}: {body}");
    let code = ack["ErrorCode"]
        .as_i64()
        .unwrap_or_else(|| panic!("{what}: no ErrorCode: {body}"));
    (*status, code)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The query of a callback of `app` for `command`, with `sign` and `time` when given.
fn query(app: &str, command: &str, signed: Option<(&str, &str)>) -> String {
    let mut q = format!(
        "/callback?SdkAppid={app}&CallbackCommand={command}&contenttype=json&ClientIP=127.0.0.1\
         &OptPlatform=Web"
    );
    if let Some((sign, time)) = signed {
        q.push_str(&format!("&Sign={sign}&RequestTime={time}"));
    }
    q
}

/// A file holding `body`, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, body: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("one_url-{}-{name}", std::process::id()));
        std::fs::write(&path, body).expect("a temporary file");
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The `CallbackCommand` of a printed line.
fn command_of(line: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    v["CallbackCommand"].as_str().unwrap_or_default().to_owned()
}

// ----------------------------------------------------------------------------------------------------
// Tests

/// Two apps with their own tokens (`ROOM_CALLBACK_TOKENS`, one app twice): each accepts its own
/// tokens only, for Room and Chat commands alike, and a token may hold `=`.
#[test]
fn each_app_accepts_its_own_tokens_only() {
    let tokens = format!("{APP_A}=token-a,{APP_B}=token-b,{APP_B}=token=b2");
    let apps = format!("{APP_A},{APP_B}");
    let mut server = start_server(&[
        ("ROOM_CALLBACK_SDKAPPID", &apps),
        ("ROOM_CALLBACK_TOKENS", &tokens),
    ]);
    let url = server.url();
    let state = TempFile::new("isolation-state.json", STATE_CHANGE.as_bytes());
    let room = |app: &str, token: &str| send(&[&url, "--sdk-app-id", app, "--token", token]);
    let chat = |app: &str, token: &str| {
        send(&[
            &url,
            "--sdk-app-id",
            app,
            "--token",
            token,
            "--command",
            "State.StateChange",
            "--body",
            state.path(),
        ])
    };

    // App A's token does not open app B, nor B's app A: 401 with ErrorCode 40104, for either family.
    for (app, token) in [(APP_B, "token-a"), (APP_A, "token-b"), (APP_A, "token=b2")] {
        let what = format!("app {app} signed with {token}");
        assert_eq!(refusal(&room(app, token), &what), (401, 40104), "{what}");
        assert_eq!(refusal(&chat(app, token), &what), (401, 40104), "{what}");
    }
    // Each app's own tokens: both of B's (rotation), A's one.
    assert_accepted(&room(APP_A, "token-a"), "A with its token");
    assert_accepted(&chat(APP_A, "token-a"), "A with its token (Chat)");
    assert_accepted(&room(APP_B, "token-b"), "B with its first token");
    assert_accepted(&chat(APP_B, "token=b2"), "B with its second token (Chat)");

    let (lines, log) = server.stop();
    let commands: Vec<String> = lines.iter().map(|l| command_of(l)).collect();
    assert_eq!(
        commands,
        [
            "Room.CallbackAfterMemberLeave",
            "State.StateChange",
            "Room.CallbackAfterMemberLeave",
            "State.StateChange",
        ],
        "one line per accepted callback, none for a refused one\nlog:\n{log}"
    );
    assert!(
        !log.contains("token-a") && !log.contains("token-b"),
        "{log}"
    );
}

/// The example's signature policy (the library's default): an app with a token must sign every
/// callback, Room or Chat, within the time window; `ROOM_CALLBACK_TOKEN` serves the apps without
/// tokens of their own; an app without any token is not verified.
#[test]
fn every_command_of_an_app_with_a_token_must_be_signed() {
    const APP_C: &str = "1400000003";
    let apps = format!("{APP_A},{APP_B},{APP_C}");
    let tokens = format!("{APP_A}=token-a,{APP_C}=token-c");
    let mut server = start_server(&[
        ("ROOM_CALLBACK_SDKAPPID", &apps),
        ("ROOM_CALLBACK_TOKEN", "token-default"),
        ("ROOM_CALLBACK_TOKENS", &tokens),
    ]);
    let url = server.url();
    let body = STATE_CHANGE.as_bytes();
    let chat = |app: &str, token: Option<&str>| {
        let mut args = vec![url.as_str(), "--sdk-app-id", app];
        if let Some(token) = token {
            args.extend(["--token", token]);
        }
        args.extend(["--command", "State.StateChange", "--body", "-"]);
        send_with(&args, Some(body))
    };

    // Unsigned: refused for every app that has a token, Chat and Room alike.
    for app in [APP_A, APP_B, APP_C] {
        assert_eq!(refusal(&chat(app, None), app), (401, 40101), "{app}");
        let out = send(&[&url, "--sdk-app-id", app, "--event", "member-enter"]);
        assert_eq!(refusal(&out, app), (401, 40101), "{app}");
    }
    // The default token serves B only: A and C have their own.
    assert_accepted(&chat(APP_B, Some("token-default")), "B, default token");
    for app in [APP_A, APP_C] {
        assert_eq!(
            refusal(&chat(app, Some("token-default")), app),
            (401, 40104)
        );
    }
    assert_accepted(&chat(APP_A, Some("token-a")), "A, its token");
    // A signature must be fresh and its time a number.
    let now = now_secs();
    let stale = (now - 3600).to_string();
    let (status, ack) = raw_request(
        server.addr,
        "POST",
        &query(
            APP_A,
            "State.StateChange",
            Some((&signature("token-a", &stale), &stale)),
        ),
        body,
    );
    assert_eq!(fail_ack(&status, &ack, "stale"), (401, 40103));
    let (status, ack) = raw_request(
        server.addr,
        "POST",
        &query(
            APP_A,
            "State.StateChange",
            Some((&signature("token-a", "soon"), "soon")),
        ),
        body,
    );
    assert_eq!(fail_ack(&status, &ack, "malformed time"), (401, 40102));
    let (lines, log) = server.stop();
    assert_eq!(lines, [STATE_CHANGE, STATE_CHANGE], "log:\n{log}");

    // An app without any token (only B here has none) is not verified, while A's still must sign.
    let apps = format!("{APP_A},{APP_B}");
    let tokens = format!("{APP_A}=token-a");
    let mut server = start_server(&[
        ("ROOM_CALLBACK_SDKAPPID", &apps),
        ("ROOM_CALLBACK_TOKENS", &tokens),
    ]);
    let url = server.url();
    let out = send_with(
        &[
            &url,
            "--sdk-app-id",
            APP_B,
            "--command",
            "State.StateChange",
            "--body",
            "-",
        ],
        Some(body),
    );
    assert_accepted(&out, "B has no token: not verified");
    let out = send_with(
        &[
            &url,
            "--sdk-app-id",
            APP_A,
            "--command",
            "State.StateChange",
            "--body",
            "-",
        ],
        Some(body),
    );
    assert_eq!(refusal(&out, "A unsigned"), (401, 40101));
    let (lines, log) = server.stop();
    assert_eq!(lines, [STATE_CHANGE], "log:\n{log}");
    assert!(
        log.contains("have no token"),
        "the server warns about apps left unverified:\n{log}"
    );
}

/// With tokens, a callback for an app that is not configured gets exactly the answer a configured
/// app's gets (unsigned: 401/40101; wrongly signed, even with a configured app's token: 401/40104;
/// stale: 401/40103), so the configured apps cannot be enumerated. Without any token there is nothing
/// to hide: 403/40301.
#[test]
fn unknown_apps_cannot_be_told_from_known_ones() {
    let apps = format!("{APP_A},{APP_B}");
    let tokens = format!("{APP_A}=token-a,{APP_B}=token-b");
    let mut server = start_server(&[
        ("ROOM_CALLBACK_SDKAPPID", &apps),
        ("ROOM_CALLBACK_TOKENS", &tokens),
    ]);
    let url = server.url();
    let room_body = br#"{"RoomId":"r","MemberList_Account":["u"],"EventTime":1}"#;
    for (command, body) in [
        ("State.StateChange", STATE_CHANGE.as_bytes()),
        ("Room.CallbackAfterMemberLeave", &room_body[..]),
    ] {
        // Through the sender: unsigned, and signed with a token that is not the app's.
        for token in [None, Some("wrong-token"), Some("token-a")] {
            let answers: Vec<(String, String)> = [APP_B, UNKNOWN_APP]
                .iter()
                .map(|app| {
                    let mut args = vec![url.as_str(), "--sdk-app-id", app];
                    if let Some(token) = token {
                        args.extend(["--token", token]);
                    }
                    args.extend(["--command", command, "--body", "-"]);
                    let out = send_with(&args, Some(body));
                    assert_eq!(out.status.code(), Some(1), "{command} {app} {token:?}");
                    answer(&out)
                })
                .collect();
            let want = if token.is_none() { 40101 } else { 40104 };
            let (status, body) = &answers[0];
            assert_eq!(
                fail_ack(&status_code(status), body, command),
                (401, want),
                "{command} {token:?}"
            );
            assert_eq!(
                answers[0], answers[1],
                "{command} {token:?}: the unknown app's answer is the known one's, byte for byte"
            );
        }
        // By hand: a stale, wrong signature.
        let stale = (now_secs() - 3600).to_string();
        let wrong = "0".repeat(64);
        let answers: Vec<(u16, String)> = [APP_B, UNKNOWN_APP]
            .iter()
            .map(|app| {
                raw_request(
                    server.addr,
                    "POST",
                    &query(app, command, Some((&wrong, &stale))),
                    body,
                )
            })
            .collect();
        assert_eq!(
            fail_ack(&answers[0].0, &answers[0].1, command),
            (401, 40103)
        );
        assert_eq!(answers[0], answers[1], "{command}: stale");
    }
    let (lines, log) = server.stop();
    assert!(
        lines.is_empty(),
        "nothing was accepted: {lines:?}\nlog:\n{log}"
    );

    // No token at all: the unknown app is refused as such.
    let mut server = start_server(&[("ROOM_CALLBACK_SDKAPPID", &apps)]);
    let out = send_with(
        &[
            &server.url(),
            "--sdk-app-id",
            UNKNOWN_APP,
            "--command",
            "State.StateChange",
            "--body",
            "-",
        ],
        Some(STATE_CHANGE.as_bytes()),
    );
    assert_eq!(refusal(&out, "unknown app, no token"), (403, 40301));
    let (lines, _) = server.stop();
    assert!(lines.is_empty(), "{lines:?}");
}

/// Chat callbacks sent with `send --command --body` (a file, then stdin; signed) are printed as the
/// body object as received, on one line, byte for byte: integers above 2^53 and 2^64 keep their
/// digits, strings keep their spaces and escapes.
#[test]
fn chat_callbacks_are_printed_as_received_with_exact_integers() {
    let tokens = "1400000000=chat-token";
    let mut server = start_server(&[("ROOM_CALLBACK_TOKENS", tokens)]);
    let url = server.url();
    let state = TempFile::new("raw-state.json", STATE_CHANGE.as_bytes());
    let out = send(&[
        &url,
        "--token",
        "chat-token",
        "--command",
        "State.StateChange",
        "--body",
        state.path(),
    ]);
    assert_accepted(&out, "State.StateChange from a file");
    assert!(
        text(&out.stderr).contains("&Sign="),
        "the request was signed"
    );
    let out = send_with(
        &[
            &url,
            "--token",
            "chat-token",
            "--command",
            "Group.CallbackAfterSendMsg",
            "--body",
            "-",
        ],
        Some(GROUP_PRETTY.as_bytes()),
    );
    assert_accepted(&out, "Group.CallbackAfterSendMsg from stdin");
    // A Room event still goes through its typed route (re-serialized), next to the raw ones.
    let out = send(&[
        &url,
        "--token",
        "chat-token",
        "--event",
        "destroy-room",
        "--room",
        "chat-room",
    ]);
    assert_accepted(&out, "a Room event");

    let (lines, log) = server.stop();
    assert_eq!(lines.len(), 3, "{lines:?}\nlog:\n{log}");
    assert_eq!(lines[0], STATE_CHANGE);
    assert_eq!(lines[1], GROUP_LINE);
    assert_eq!(command_of(&lines[2]), "Room.CallbackAfterDestroyRoom");
    assert!(lines[2].contains(r#""RoomId":"chat-room""#), "{}", lines[2]);
}

/// A body without a top-level `CallbackCommand` is printed with the query's first; a body that is not
/// one JSON object, or names another command, is refused 400 (40006) and not printed. Any command is
/// taken, a Room command this version does not know included; several apps without tokens are served.
#[test]
fn a_body_without_callback_command_gets_the_querys() {
    let apps = format!("1400000000,{APP_A}");
    let mut server = start_server(&[("ROOM_CALLBACK_SDKAPPID", &apps)]);
    let url = server.url();
    let post = |app: &str, command: &str, body: &[u8]| {
        send_with(
            &[
                &url,
                "--sdk-app-id",
                app,
                "--command",
                command,
                "--body",
                "-",
            ],
            Some(body),
        )
    };
    let accepted: [(&str, &str, &str); 4] = [
        (
            "Group.CallbackAfterNewMemberJoin",
            "{ \"GroupId\" : \"@TGS#1\",\n  \"From_Account\" : 144115233775727695, \"Seq\": 99999999999999999999999 }\n",
            r#"{"CallbackCommand":"Group.CallbackAfterNewMemberJoin","GroupId":"@TGS#1","From_Account":144115233775727695,"Seq":99999999999999999999999}"#,
        ),
        (
            "Sns.CallbackFriendAdd",
            " { } ",
            r#"{"CallbackCommand":"Sns.CallbackFriendAdd"}"#,
        ),
        (
            "Room.CallbackAfterSomethingNew",
            r#"{"RoomId":"r","EventTime":1}"#,
            r#"{"CallbackCommand":"Room.CallbackAfterSomethingNew","RoomId":"r","EventTime":1}"#,
        ),
        (
            "C2C.CallbackBeforeSendMsg",
            r#"{"From_Account":"a","To_Account":"b","X":{"CallbackCommand":"nested, not top-level"}}"#,
            r#"{"CallbackCommand":"C2C.CallbackBeforeSendMsg","From_Account":"a","To_Account":"b","X":{"CallbackCommand":"nested, not top-level"}}"#,
        ),
    ];
    for (i, (command, body, _)) in accepted.iter().enumerate() {
        let app = if i % 2 == 0 { "1400000000" } else { APP_A };
        assert_accepted(&post(app, command, body.as_bytes()), command);
    }
    let refused: [(&str, &[u8]); 9] = [
        ("an array", b"[1,2]"),
        ("a string", b"\"x\""),
        ("a number", b"144115233775727695"),
        ("nothing", b""),
        ("broken JSON", br#"{"a":}"#),
        ("two objects", b"{} {}"),
        (
            "another command",
            br#"{"CallbackCommand":"Group.CallbackAfterSendMsg"}"#,
        ),
        ("a non-string command", br#"{"CallbackCommand":1}"#),
        ("invalid UTF-8", b"{\"Text\":\"\xff\"}"),
    ];
    for (what, body) in refused {
        let out = post("1400000000", "State.StateChange", body);
        assert_eq!(refusal(&out, what), (400, 40006), "{what}");
    }
    let (lines, log) = server.stop();
    let want: Vec<&str> = accepted.iter().map(|(_, _, line)| *line).collect();
    assert_eq!(lines, want, "log:\n{log}");
}

/// A set but empty, blank or malformed variable stops the server before it listens: a non-zero exit
/// and one line on stderr naming the variable, never a token.
#[test]
fn configuration_errors_stop_the_server_before_it_listens() {
    let cases: &[(&str, &str)] = &[
        ("ROOM_CALLBACK_TOKEN", ""),
        ("ROOM_CALLBACK_TOKEN", "   "),
        ("ROOM_CALLBACK_TOKEN", " s3cr3t"),
        ("ROOM_CALLBACK_TOKEN", "s3cr3t\n"),
        ("ROOM_CALLBACK_TOKENS", "1400000000="),
        ("ROOM_CALLBACK_TOKENS", ""),
        ("ROOM_CALLBACK_TOKENS", "s3cr3t"),
        ("ROOM_CALLBACK_TOKENS", "s3cr3t=1400000000"),
        ("ROOM_CALLBACK_TOKENS", "1400000000=s3cr3t "),
        ("ROOM_CALLBACK_TOKENS", "1400000000=s3cr3t,"),
        ("ROOM_CALLBACK_TOKENS", "1400000009=s3cr3t"),
        ("ROOM_CALLBACK_SDKAPPID", "abc"),
        ("ROOM_CALLBACK_SDKAPPID", ""),
        ("ROOM_CALLBACK_SDKAPPID", "1400000000,"),
        ("ROOM_CALLBACK_SDKAPPID", "1400000000, 1400000001"),
        ("ROOM_CALLBACK_SDKAPPID", "+1400000000"),
        ("ROOM_CALLBACK_SDKAPPID", "99999999999999999999999"),
        ("ROOM_CALLBACK_SDKAPPID", "1400000000,1400000000"),
        ("ROOM_CALLBACK_ADDR", " "),
    ];
    for (var, value) in cases {
        let what = format!("{var}={value:?}");
        let out = refused_start(&[(var, value)], &what);
        let err = text(&out.stderr);
        assert!(
            !out.status.success() && out.status.code().is_some(),
            "{what}: {:?}\n{err}",
            out.status
        );
        assert!(!err.contains(LISTENING), "{what}: it listened:\n{err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{what}: one line:\n{err}"
        );
        assert!(err.contains(var), "{what}: the variable is named:\n{err}");
        assert!(
            !err.contains("s3cr3t"),
            "{what}: a token was printed:\n{err}"
        );
        assert!(out.stdout.is_empty(), "{what}");
    }
}

/// A request without `CallbackCommand`, or to another path, reaches the app's routes: 404 with the
/// same FAIL acknowledgment as before, tokens or not. SIGTERM stops the server cleanly.
#[test]
fn a_request_without_callback_command_gets_the_404_fail_ack() {
    let mut server = start_server(&[("ROOM_CALLBACK_TOKENS", "1400000000=t")]);
    for (method, path) in [
        ("POST", "/callback?SdkAppid=1400000000&contenttype=json"),
        ("POST", "/callback"),
        ("GET", "/callback?SdkAppid=1400000000"),
        ("GET", "/healthz"),
        (
            "POST",
            "/other?SdkAppid=1400000000&CallbackCommand=State.StateChange",
        ),
    ] {
        let (status, body) = raw_request(server.addr, method, path, STATE_CHANGE.as_bytes());
        assert_eq!(
            (status, body.as_str()),
            (404, NO_HANDLER_ACK),
            "{method} {path}"
        );
    }
    let (status, lines, log) = server.terminate();
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    assert!(log.contains("stopped"), "log:\n{log}");
    assert!(lines.is_empty(), "nothing was accepted: {lines:?}");
}

/// The sender's new options: `--command` needs `--body` and excludes `--event`; `--body` excludes the
/// sample's `--room` and `--member`; an unreadable body file is a bad argument (exit 2).
#[test]
fn the_sender_checks_command_and_body() {
    let url = "http://127.0.0.1:9/callback";
    let missing = std::env::temp_dir().join(format!("one_url-{}-missing", std::process::id()));
    let missing = missing.to_str().expect("a UTF-8 path");
    for args in [
        &[url, "--command", "State.StateChange"][..],
        &[url, "--command", "", "--body", "-"],
        &[url, "--command", "State.StateChange", "--body"],
        &[url, "--body", ""],
        &[
            url,
            "--command",
            "State.StateChange",
            "--event",
            "member-leave",
            "--body",
            "-",
        ],
        &[url, "--body", "-", "--room", "r"],
        &[url, "--body", "-", "--member", "m"],
        &[url, "--command", "State.StateChange", "--body", missing],
    ] {
        let out = send_with(args, Some(b"{}"));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("usage: send <url>"), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let help = send(&["--help"]);
    assert!(help.status.success());
    let usage = text(&help.stdout);
    assert!(
        usage.contains("--command NAME") && usage.contains("--body FILE"),
        "{usage}"
    );
}

/// Rotation without a restart: the tokens file is read again on SIGHUP, each app's set replaced at once;
/// a malformed file keeps the tokens in force; other apps keep theirs.
#[test]
fn tokens_rotate_on_sighup_from_a_tokens_file() {
    let file = TempFile::new("tokens", b"# app A's tokens\n1400000001=first-token\n\n");
    let apps = format!("{APP_A},{APP_B}");
    let mut server = start_server(&[
        ("ROOM_CALLBACK_SDKAPPID", &apps),
        ("ROOM_CALLBACK_TOKENS_FILE", file.path()),
        ("ROOM_CALLBACK_TOKEN", "default-token"),
    ]);
    let url = server.url();
    let leave = |app: &str, token: &str| send(&[&url, "--sdk-app-id", app, "--token", token]);
    // Waits (bounded) until `token` is accepted for app A, or refused when `accepted` is false.
    let settle = |token: &str, accepted: bool, what: &str| {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let out = leave(APP_A, token);
            if (out.status.code() == Some(0)) == accepted {
                return out;
            }
            assert!(Instant::now() < give_up, "{what}: not settled within 10 s");
            thread::sleep(Duration::from_millis(50));
        }
    };

    assert_accepted(&leave(APP_A, "first-token"), "the file's token");
    assert_eq!(
        refusal(&leave(APP_A, "second-token"), "not yet"),
        (401, 40104)
    );
    assert_eq!(
        refusal(&leave(APP_A, "default-token"), "A has its own"),
        (401, 40104)
    );

    // Add the new token: both are accepted.
    std::fs::write(&file.0, "1400000001=first-token\n1400000001=second-token\n").unwrap();
    server.signal("HUP");
    settle("second-token", true, "the new token");
    assert_accepted(
        &leave(APP_A, "first-token"),
        "the old token, during the overlap",
    );

    // Retire the old one.
    std::fs::write(&file.0, "1400000001=second-token\n").unwrap();
    server.signal("HUP");
    let out = settle("first-token", false, "the old token retired");
    assert_eq!(refusal(&out, "retired"), (401, 40104));
    assert_accepted(&leave(APP_A, "second-token"), "the new token");

    // A malformed file changes nothing; app B (default token) never changed.
    std::fs::write(&file.0, "1400000001=\n").unwrap();
    server.signal("HUP");
    thread::sleep(Duration::from_millis(300));
    assert_accepted(&leave(APP_A, "second-token"), "after a malformed file");
    assert_eq!(
        refusal(&leave(APP_A, "first-token"), "still retired"),
        (401, 40104)
    );
    assert_accepted(&leave(APP_B, "default-token"), "app B");

    let (_, log) = server.stop();
    assert!(log.contains("tokens reloaded"), "{log}");
    assert!(log.contains("tokens not reloaded"), "{log}");
    for token in ["first-token", "second-token", "default-token"] {
        assert!(!log.contains(token), "a token in the log: {log}");
    }
}
