//! The sender: posts one callback to a running receiver, as Tencent would, and prints the answer.
//!
//! ```text
//! cargo run --example server                                   # in one terminal
//! cargo run --example send -- http://127.0.0.1:3000/callback  # in another
//! cargo run --example send -- http://127.0.0.1:3000/callback \
//!     --command State.StateChange --body state.json            # any command, any body
//! ```
//!
//! By default the callback is a Room event: Tencent's documented sample of the `--event` command (see
//! `testing::fixtures`), with `EventTime` set to now and the room and members replaced when given. With
//! `--command NAME --body FILE` it is any command (Chat's `State.StateChange`, `Group.*`, `C2C.*`, Live's,
//! a Room command...): the query's `CallbackCommand` is `NAME` and the body is the bytes of `FILE`
//! (`-` for stdin), sent as they are, unchecked. `--body FILE` alone sends the bytes of `FILE` as the
//! body of the `--event` command.
//!
//! With `--token` the request carries `Sign` and `RequestTime` (now). The request goes to stderr; the
//! answer's status line and body go to stdout. The exit code is 0 for a 200 with the OK acknowledgment, 1
//! for any other answer or a network error, 2 for bad arguments (an unreadable `--body` file included).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tencent_room_callback::event::{AccountId, EventTime, Seat};
use tencent_room_callback::testing::{fixtures, CallbackRequest, DEFAULT_SDK_APP_ID};
use tencent_room_callback::{Ack, Command, RoomEvent};

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
  -h, --help         this message

exit code: 0 for a 200 with the OK acknowledgment, 1 for any other answer or a network
error, 2 for bad arguments.
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
}

/// The `--event` names, with their commands.
const EVENTS: [(&str, Command); 6] = [
    ("member-leave", Command::MemberLeave),
    ("member-enter", Command::MemberEnter),
    ("create-room", Command::CreateRoom),
    ("destroy-room", Command::DestroyRoom),
    ("update-room", Command::UpdateRoomInfo),
    ("seat-changed", Command::SeatInfoChanged),
];

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
            "--command" => {
                let v = value()?;
                if v.is_empty() {
                    return Err("--command must not be empty".into());
                }
                args.command_name = Some(v);
            }
            "--body" => {
                let v = value()?;
                if v.is_empty() {
                    return Err("--body needs a file name (or - for stdin)".into());
                }
                args.body = Some(v);
            }
            "--sdk-app-id" => {
                let v = value()?;
                args.sdk_app_id = v
                    .parse()
                    .map_err(|_| format!("--sdk-app-id is not a number: {v:?}"))?;
            }
            "--token" => {
                let v = value()?;
                if v.is_empty() {
                    return Err("--token must not be empty".into());
                }
                args.token = Some(v);
            }
            "--room" => args.room = Some(value()?),
            "--member" => args.members.push(value()?),
            f if f.starts_with('-') => return Err(format!("unknown option {f}")),
            _ if url.is_none() => url = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    args.url = url.ok_or("the receiver's URL is required")?;
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

/// Posts the request, prints the answer; whether it was a 200 with the OK acknowledgment.
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
    let acked = serde_json::from_slice::<Ack>(&body).is_ok_and(|ack| ack.is_ok());
    Ok(status == http::StatusCode::OK && acked)
}
