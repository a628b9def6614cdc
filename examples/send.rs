//! The sender: posts one realistic Room callback to a running receiver, as Tencent would, and prints the
//! answer.
//!
//! ```text
//! cargo run --example server                                   # in one terminal
//! cargo run --example send -- http://127.0.0.1:3000/callback  # in another
//! ```
//!
//! The event is Tencent's documented sample of the command (see `testing::fixtures`), with `EventTime` set
//! to now and the room and members replaced when given. With `--token` the request carries `Sign` and
//! `RequestTime` (now). The request goes to stderr; the answer's status line and body go to stdout. The
//! exit code is 0 for a 200 with the OK acknowledgment, 1 for any other answer or a network error, 2 for
//! bad arguments.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tencent_room_callback::testing::{fixtures, CallbackRequest, DEFAULT_SDK_APP_ID};
use tencent_room_callback::{AccountId, Ack, Command, EventTime, RoomEvent, Seat};

const USAGE: &str = "\
usage: send <url> [options]

Posts one Room callback to <url> (e.g. http://127.0.0.1:3000/callback) and prints the answer.

options:
  --event E          member-leave (default), member-enter, create-room, destroy-room,
                     update-room, seat-changed
  --sdk-app-id N     SdkAppid to send (default 1400000000)
  --token T          sign the request (Sign, RequestTime) with the callback token T
  --room R           the room ID (default: the documented sample's)
  --member M         a member (repeatable): who left/entered, who sits on the seats,
                     or the invitees of a created room (default: the sample's)
  -h, --help         this message
";

/// What the command line asked for.
#[derive(Debug)]
struct Args {
    url: String,
    command: Command,
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

    let mut request = CallbackRequest::new(event(&args))
        .url(&args.url)
        .sdk_app_id(args.sdk_app_id);
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
