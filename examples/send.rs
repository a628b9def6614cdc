//! The sender: posts one callback to a running receiver, as Tencent would, and prints the answer.
//!
//! ```text
//! cargo run --example server                                   # in one terminal
//! cargo run --example send -- http://127.0.0.1:3000/callback  # in another
//! cargo run --example send -- http://127.0.0.1:3000/callback \
//!     --command State.StateChange --body state.json            # any command, any body
//! cargo run --example send -- http://127.0.0.1:3000/trtc \
//!     --trtc-event exit --key 123654 --room 12345 --member u1   # a TRTC room event
//! ```
//!
//! By default the callback is a Room event: Tencent's documented sample of the `--event` command (see
//! `testing::fixtures`), with `EventTime` set to now and the room and members replaced when given. With
//! `--command NAME --body FILE` it is any command (Chat's `State.StateChange`, `Group.*`, `C2C.*`, Live's,
//! a Room command...): the query's `CallbackCommand` is `NAME` and the body is the bytes of `FILE`
//! (`-` for stdin), sent as they are, unchecked. `--body FILE` alone sends the bytes of `FILE` as the
//! body of the `--event` command.
//!
//! With `--token` the request carries `Sign` and `RequestTime` (now).
//!
//! With `--trtc-event exit|enter|dismiss` it is a TRTC room event (104, 103, 102) instead, in TRTC's
//! own dialect: no query, the app in the `SdkAppId` header, the body tab-pretty-printed as Tencent sends
//! it (`CallbackTs`, `EventTs` and `EventMsTs` now), and with `--key K` the `Sign` header Tencent
//! computes, `base64(HMAC-SHA256(K, body bytes))`. `--room` is sent as a number when it is digits that
//! fit in 64 bits without a leading zero, else as a string; `--member` is the `UserId` (of an exit or an
//! enter), `--reason N` its `Reason` (default 1).
//!
//! The request goes to stderr; the answer's status line and body go to stdout. The exit code is 0 for a
//! 200 with the OK acknowledgment (`{"code":0}` for a TRTC event), 1 for any other answer or a network
//! error, 2 for bad arguments (an unreadable `--body` file included).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tencent_room_callback::event::{AccountId, EventTime, Seat};
use tencent_room_callback::testing::{fixtures, CallbackRequest, DEFAULT_SDK_APP_ID};
use tencent_room_callback::{trtc, Ack, Command, RoomEvent};

const USAGE: &str = "\
usage: send <url> [options]

Posts one callback to <url> (e.g. http://127.0.0.1:3000/callback) and prints the answer.

options:
  --event E          a Room event, sent as Tencent's documented sample: member-leave (default),
                     member-enter, create-room, destroy-room, update-room, seat-changed
  --command NAME     any command instead (State.StateChange, Group.CallbackAfterSendMsg...):
                     the query's CallbackCommand; needs --body
  --body FILE        the body: the bytes of FILE (- for stdin), sent as they are; for
                     --command NAME, or for the --event command
  --sdk-app-id N     SdkAppid to send (default 1400000000)
  --token T          sign the request (Sign, RequestTime) with the callback token T
  --room R           the room ID (default: the documented sample's; not with --body)
  --member M         a member (repeatable): who left/entered, who sits on the seats,
                     or the invitees of a created room (default: the sample's; not with --body)
  --trtc-event E     a TRTC room event instead, to the TRTC URL (e.g. .../trtc): exit (104),
                     enter (103) or dismiss (102), pretty-printed and signed as Tencent does;
                     --room R (default 12345; digits without a leading zero are sent as a
                     number), --member M (the UserId, default user_85034614; one, not for
                     dismiss), --reason N (default 1; not for dismiss), --sdk-app-id N
  --key K            sign the TRTC event (Sign header) with the app's TRTC callback key K
  --reason N         the TRTC event's Reason (exit: 1 left, 2 timeout, 3 kicked...)
  -h, --help         this message

exit code: 0 for a 200 with the OK acknowledgment ({\"code\":0} for a TRTC event), 1 for any
other answer or a network error, 2 for bad arguments.
";

/// What the command line asked for.
#[derive(Debug)]
struct Args {
    url: String,
    command: Command,
    /// `--event` was given.
    event_given: bool,
    /// `--command`: any command's name.
    command_name: Option<String>,
    /// `--body`: a file, or `-` for stdin.
    body: Option<String>,
    sdk_app_id: u64,
    token: Option<String>,
    room: Option<String>,
    members: Vec<String>,
    /// `--trtc-event`: the TRTC `EventType` to send.
    trtc_event: Option<u32>,
    /// `--key`: the TRTC callback key to sign with.
    key: Option<String>,
    /// `--reason`: the TRTC event's `Reason`.
    reason: Option<u32>,
}

/// The `--trtc-event` names, with their `EventType`.
const TRTC_EVENTS: [(&str, u32); 3] = [("exit", 104), ("enter", 103), ("dismiss", 102)];

/// The `--event` names, with their commands.
const EVENTS: [(&str, Command); 6] = [
    ("member-leave", Command::MemberLeave),
    ("member-enter", Command::MemberEnter),
    ("create-room", Command::CreateRoom),
    ("destroy-room", Command::DestroyRoom),
    ("update-room", Command::UpdateRoomInfo),
    ("seat-changed", Command::SeatInfoChanged),
];

/// `v`, the value of `flag`, refused when empty.
fn nonempty(flag: &str, v: String) -> Result<String, String> {
    if v.is_empty() {
        return Err(format!("{flag} must not be empty"));
    }
    Ok(v)
}

/// `v`, the value of `flag`, as a number.
fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag} is not a number: {v:?}"))
}

/// `Ok(None)` for `--help`.
fn parse(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut url = None;
    let mut args = Args {
        url: String::new(),
        command: Command::MemberLeave,
        event_given: false,
        command_name: None,
        body: None,
        sdk_app_id: DEFAULT_SDK_APP_ID,
        token: None,
        room: None,
        members: Vec::new(),
        trtc_event: None,
        key: None,
        reason: None,
    };
    while let Some(arg) = argv.next() {
        // `--flag value` and `--flag=value` both work.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--event" => {
                let v = value()?;
                args.command = EVENTS
                    .iter()
                    .find(|(name, _)| *name == v)
                    .map(|(_, c)| *c)
                    .ok_or_else(|| format!("unknown event {v:?}"))?;
                args.event_given = true;
            }
            "--command" => args.command_name = Some(nonempty("--command", value()?)?),
            "--body" => {
                let v = value()?;
                if v.is_empty() {
                    return Err("--body needs a file name (or - for stdin)".into());
                }
                args.body = Some(v);
            }
            "--sdk-app-id" => args.sdk_app_id = number("--sdk-app-id", &value()?)?,
            "--token" => args.token = Some(nonempty("--token", value()?)?),
            "--trtc-event" => {
                let v = value()?;
                args.trtc_event = Some(
                    TRTC_EVENTS
                        .iter()
                        .find(|(name, _)| *name == v)
                        .map(|(_, t)| *t)
                        .ok_or_else(|| {
                            format!("unknown TRTC event {v:?} (exit, enter or dismiss)")
                        })?,
                );
            }
            "--key" => args.key = Some(nonempty("--key", value()?)?),
            "--reason" => args.reason = Some(number("--reason", &value()?)?),
            "--room" => args.room = Some(value()?),
            "--member" => args.members.push(value()?),
            f if f.starts_with('-') => return Err(format!("unknown option {f}")),
            _ if url.is_none() => url = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    args.url = url.ok_or("the receiver's URL is required")?;
    match args.trtc_event {
        Some(event_type) => {
            if args.event_given || args.command_name.is_some() || args.body.is_some() {
                return Err("--trtc-event is not with --event, --command or --body".into());
            }
            if args.token.is_some() {
                return Err("--trtc-event is signed with --key, not --token".into());
            }
            if args.members.len() > 1 {
                return Err("a TRTC event has one UserId: one --member at most".into());
            }
            if event_type == 102 && (!args.members.is_empty() || args.reason.is_some()) {
                return Err("--trtc-event dismiss has no --member nor --reason".into());
            }
        }
        None => {
            if args.key.is_some() || args.reason.is_some() {
                return Err("--key and --reason are for --trtc-event".into());
            }
        }
    }
    if args.command_name.is_some() {
        if args.event_given {
            return Err("--command and --event are exclusive".into());
        }
        if args.body.is_none() {
            return Err(
                "--command needs --body (there is no sample of an arbitrary command)".into(),
            );
        }
    }
    if args.body.is_some() && (args.room.is_some() || !args.members.is_empty()) {
        return Err("--room and --member change the sample; with --body, edit the body".into());
    }
    if !args.url.starts_with("http://") {
        return Err(format!(
            "the URL must start with http:// (this sender speaks plain HTTP): {:?}",
            args.url
        ));
    }
    Ok(Some(args))
}

/// The documented sample of the command, happening now, in the given room with the given members.
fn event(args: &Args) -> RoomEvent {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let now = EventTime::from_millis(u64::try_from(now.as_millis()).unwrap_or(u64::MAX));
    let room = args.room.clone();
    let members = || -> Option<Vec<AccountId>> {
        (!args.members.is_empty()).then(|| args.members.iter().map(AccountId::new).collect())
    };
    let mut event = fixtures::event(args.command);
    match &mut event {
        RoomEvent::MemberLeave(e) => {
            e.event_time = now;
            if let Some(room) = room {
                e.room_id = room;
            }
            if let Some(members) = members() {
                e.members = members;
            }
        }
        RoomEvent::MemberEnter(e) => {
            e.event_time = now;
            if let Some(room) = room {
                e.room_id = room;
            }
            if let Some(members) = members() {
                e.members = members;
            }
        }
        RoomEvent::CreateRoom(e) => {
            e.event_time = now;
            if room.is_some() {
                e.room_info.room_id = room;
            }
            if let Some(members) = members() {
                e.schedule_invitees = members;
            }
        }
        RoomEvent::DestroyRoom(e) => {
            e.event_time = now;
            if let Some(room) = room {
                e.room_id = room;
            }
        }
        RoomEvent::UpdateRoomInfo(e) => {
            e.event_time = now;
            if room.is_some() {
                e.room_info.room_id = room;
            }
        }
        RoomEvent::SeatInfoChanged(e) => {
            e.event_time = now;
            if let Some(room) = room {
                e.room_id = room;
            }
            if let Some(members) = members() {
                e.seats = (1..)
                    .zip(members)
                    .map(|(index, member)| {
                        let mut seat = Seat::new(index);
                        seat.member = Some(member);
                        seat.taken_disabled = Some(false);
                        seat.video_disabled = Some(false);
                        seat.audio_disabled = Some(false);
                        seat
                    })
                    .collect();
            }
        }
        _ => {}
    }
    event
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("send: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    if let Some(event_type) = args.trtc_event {
        return send_trtc(&args, event_type).await;
    }
    let request = match &args.body {
        None => CallbackRequest::new(event(&args)),
        Some(file) => match read_body(file) {
            Ok(body) => {
                let request = CallbackRequest::raw(args.command, body);
                match &args.command_name {
                    Some(name) => request.callback_command(name),
                    None => request,
                }
            }
            Err(e) => {
                eprint!("send: cannot read --body {file:?}: {e}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        },
    };
    let mut request = request.url(&args.url).sdk_app_id(args.sdk_app_id);
    if let Some(token) = &args.token {
        request = request.token(token);
    }
    let body = request.body().clone();
    let request = match request.try_build::<Full<Bytes>>() {
        Ok(r) => r,
        Err(e) => {
            eprint!("send: invalid URL {:?}: {e}\n\n{USAGE}", args.url);
            return ExitCode::from(2);
        }
    };
    eprintln!("POST {}", request.uri());
    eprintln!("{}", String::from_utf8_lossy(&body));

    match send(request).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("send: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A TRTC room event of type `event_type` (group 1) as Tencent sends it: pretty-printed with tabs,
/// happening and sent now.
fn trtc_body(args: &Args, event_type: u32) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let ms = now.as_millis();
    let room = args.room.as_deref().unwrap_or("12345");
    // Digits that read back the same (no sign, no leading zero) and fit in 64 bits: a number room.
    let room = match room.parse::<u64>() {
        Ok(n) if n.to_string() == room => room.to_owned(),
        _ => json_string(room),
    };
    let mut info = format!(
        "\t\t\"RoomId\":\t{room},\n\t\t\"EventTs\":\t{},\n\t\t\"EventMsTs\":\t{ms}",
        now.as_secs()
    );
    if event_type != 102 {
        let user = args.members.first().map_or("user_85034614", String::as_str);
        let reason = args.reason.unwrap_or(1);
        info.push_str(&format!(
            ",\n\t\t\"UserId\":\t{},\n\t\t\"Reason\":\t{reason}",
            json_string(user)
        ));
    }
    format!(
        "{{\n\t\"EventGroupId\":\t1,\n\t\"EventType\":\t{event_type},\n\t\"CallbackTs\":\t{ms},\n\t\"EventInfo\":\t{{\n{info}\n\t}}\n}}"
    )
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Sends a TRTC room event (`--trtc-event`): exit code 0 for 200 `{"code":0}`.
async fn send_trtc(args: &Args, event_type: u32) -> ExitCode {
    let body = trtc_body(args, event_type);
    let mut request = http::Request::post(&args.url)
        .header("Content-Type", "application/json")
        .header("SdkAppId", args.sdk_app_id.to_string());
    if let Some(key) = &args.key {
        request = request.header("Sign", trtc::sign(key, body.as_bytes()));
    }
    let request = match request.body(Full::new(Bytes::from(body.clone()))) {
        Ok(r) => r,
        Err(e) => {
            eprint!("send: invalid URL {:?}: {e}\n\n{USAGE}", args.url);
            return ExitCode::from(2);
        }
    };
    eprintln!("POST {}", request.uri());
    eprintln!("SdkAppId: {}", args.sdk_app_id);
    eprintln!("{body}");
    match send(request).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("send: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The bytes of `file`, or of stdin for `-`.
fn read_body(file: &str) -> std::io::Result<Vec<u8>> {
    if file == "-" {
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut body)?;
        Ok(body)
    } else {
        std::fs::read(file)
    }
}

/// Posts the request, prints the answer; whether it was a 200 with the OK acknowledgment (or TRTC's
/// `{"code":0}`).
async fn send(request: http::Request<Full<Bytes>>) -> Result<bool, Box<dyn std::error::Error>> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .map_err(|_| "no answer within 10 s")??;
    let status = response.status();
    let body = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
        .await
        .map_err(|_| "the answer's body did not arrive within 10 s")??
        .to_bytes();
    println!("{status}");
    println!("{}", String::from_utf8_lossy(&body));
    let acked = serde_json::from_slice::<Ack>(&body).is_ok_and(|ack| ack.is_ok())
        || serde_json::from_slice::<TrtcAnswer>(&body).is_ok_and(|a| a.code == 0);
    Ok(status == http::StatusCode::OK && acked)
}

/// TRTC's answer: `{"code":0}` for OK.
#[derive(serde::Deserialize)]
struct TrtcAnswer {
    code: i64,
}
