//! The callbacks as far as [`changes`](super::changes) reads them: the room, the member list, the cause
//! and the time, nothing else. A body needs only its room and its member list; everything else may be
//! absent or of a kind this version does not know.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::{each_member, Arrival, Cause, Change, Departure, RawCause, RoomClosed, Source};
use crate::command::same_command;
use crate::event::decode_json;
use crate::reject::{Rejection, RejectionKind};
use crate::value::{AccountId, EventTime, Lists, Quoted};

const ROOM_LEAVE: &str = "Room.CallbackAfterMemberLeave";
const ROOM_ENTER: &str = "Room.CallbackAfterMemberEnter";
const ROOM_DESTROY: &str = "Room.CallbackAfterDestroyRoom";
const LIVE_MEMBER_STATE: &str = "Live.CallbackAfterMemberStateChanged";
const LIVE_DESTROY: &str = "Live.CallbackAfterDestroyRoom";
const GROUP_EXIT: &str = "Group.CallbackAfterMemberExit";
const GROUP_JOIN: &str = "Group.CallbackAfterNewMemberJoin";
const GROUP_MEMBER_STATE: &str = "Group.CallbackOnMemberStateChange";
const GROUP_DESTROYED: &str = "Group.CallbackAfterGroupDestroyed";

pub(super) const COMMANDS: &[&str] = &[
    ROOM_LEAVE,
    ROOM_ENTER,
    ROOM_DESTROY,
    LIVE_MEMBER_STATE,
    LIVE_DESTROY,
    GROUP_EXIT,
    GROUP_JOIN,
    GROUP_MEMBER_STATE,
    GROUP_DESTROYED,
];

/// How a channel's raw causes read: each known value (any ASCII case) and its [`Cause`]; any other
/// value, or none, is [`Cause::Other`].
const ROOM_LEAVE_CAUSES: &[(&str, Cause)] = &[
    ("Leave", Cause::Left),
    ("Kicked", Cause::Kicked),
    ("Expired", Cause::Timeout),
];
const LIVE_CAUSES: &[(&str, Cause)] = &[
    ("Leave", Cause::Left),
    ("HeartbeatInterrupt", Cause::Timeout),
    ("Kicked", Cause::Kicked),
];
const GROUP_EXIT_CAUSES: &[(&str, Cause)] = &[("Quit", Cause::Left), ("Kicked", Cause::Kicked)];
const GROUP_STATE_CAUSES: &[(&str, Cause)] = &[
    ("HeartbeatInterrupt", Cause::Timeout),
    ("Quit", Cause::Left),
];

/// The causes of a member-state callback that mean "on line", for one without an `EventType`.
const LIVE_ONLINE_CAUSES: &[&str] = &["Enter", "HeartbeatRecover"];
const GROUP_ONLINE_CAUSES: &[&str] = &["Join", "HeartbeatRecover"];

/// The changes of `command` (canonical) with `body`; see [`changes`](super::changes).
pub(super) fn changes(
    app: u64,
    command: &str,
    body: &[u8],
    max_members: usize,
) -> Result<Vec<Change>, Rejection> {
    let mut out = Vec::new();
    match command {
        ROOM_LEAVE => {
            let v: RoomMembers = read(command, body, max_members)?;
            let cause = cause_of(v.kind.as_deref(), ROOM_LEAVE_CAUSES);
            Said::new(Source::Room, app, v.room, v.kind, v.at)
                .departures(v.members, cause, &mut out);
        }
        ROOM_ENTER => {
            let v: RoomMembers = read(command, body, max_members)?;
            Said::new(Source::Room, app, v.room, v.kind, v.at).arrivals(v.members, &mut out);
        }
        ROOM_DESTROY => {
            let v: RoomGone = read(command, body, max_members)?;
            out.push(Said::new(Source::Room, app, v.room, None, v.at).closed());
        }
        LIVE_MEMBER_STATE => {
            let v: LiveMembers = read(command, body, max_members)?;
            let members = accounts(v.members);
            let cause = cause_of(v.cause.as_deref(), LIVE_CAUSES);
            let online = online(
                v.kind.as_deref(),
                v.cause.as_deref(),
                LIVE_ONLINE_CAUSES,
                LIVE_CAUSES,
            );
            let said = Said::new(Source::Live, app, v.room, v.cause, v.at);
            match online {
                Some(true) => said.arrivals(members, &mut out),
                Some(false) => said.departures(members, cause, &mut out),
                None => {}
            }
        }
        LIVE_DESTROY => {
            let v: LiveGone = read(command, body, max_members)?;
            out.push(Said::new(Source::Live, app, v.room, v.kind, v.at).closed());
        }
        GROUP_EXIT => {
            let v: GroupExit = read(command, body, max_members)?;
            let cause = cause_of(v.kind.as_deref(), GROUP_EXIT_CAUSES);
            Said::new(Source::Group, app, v.room, v.kind, v.at).departures(
                accounts(v.members),
                cause,
                &mut out,
            );
        }
        GROUP_JOIN => {
            let v: GroupJoin = read(command, body, max_members)?;
            Said::new(Source::Group, app, v.room, v.kind, v.at)
                .arrivals(accounts(v.members), &mut out);
        }
        GROUP_MEMBER_STATE => {
            let v: GroupMembers = read(command, body, max_members)?;
            let members = accounts(v.members);
            let cause = cause_of(v.cause.as_deref(), GROUP_STATE_CAUSES);
            let online = online(
                v.kind.as_deref(),
                v.cause.as_deref(),
                GROUP_ONLINE_CAUSES,
                GROUP_STATE_CAUSES,
            );
            let said = Said::new(Source::Group, app, v.room, v.cause, v.at);
            match online {
                Some(true) => said.arrivals(members, &mut out),
                Some(false) => said.departures(members, cause, &mut out),
                None => {}
            }
        }
        GROUP_DESTROYED => {
            let v: GroupGone = read(command, body, max_members)?;
            out.push(Said::new(Source::Group, app, v.room, None, v.at).closed());
        }
        _ => {}
    }
    Ok(out)
}

/// The one place this module decodes a body: as a JSON object of `T`'s shape, with `max_members` as the
/// bound on every member list in it.
fn decode<T: DeserializeOwned + Lists>(body: &[u8], max_members: usize) -> Result<T, Rejection> {
    decode_json(body, max_members)
}

/// Decodes `body` as `T`, and checks that its `CallbackCommand`, when it has one, names `command`.
fn read<T: View>(command: &str, body: &[u8], max_members: usize) -> Result<T, Rejection> {
    let view: T = decode(body, max_members)?;
    match view.tag() {
        Some(tag) if !same_command(tag, command) => Err(Rejection::with_detail(
            RejectionKind::MalformedBody,
            format_args!(
                "CallbackCommand in the body is {}, the query says {command:?}",
                Quoted(tag)
            ),
        )),
        _ => Ok(view),
    }
}

/// The cause `raw` means in `table`.
fn cause_of(raw: Option<&str>, table: &[(&str, Cause)]) -> Cause {
    raw.and_then(|raw| {
        table
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(raw))
    })
    .map_or(Cause::Other, |(_, cause)| *cause)
}

/// Whether a member-state callback says its members came on line (`Some(true)`), went off line
/// (`Some(false)`), or neither (`None`: an `EventType` this version does not know, or no `EventType`
/// and a cause that tells nothing).
fn online(
    kind: Option<&str>,
    cause: Option<&str>,
    online_causes: &[&str],
    offline_causes: &[(&str, Cause)],
) -> Option<bool> {
    match kind {
        Some(kind) if kind.eq_ignore_ascii_case("Online") => Some(true),
        Some(kind) if kind.eq_ignore_ascii_case("Offline") => Some(false),
        Some(_) => None,
        None => {
            let cause = cause?;
            if online_causes.iter().any(|c| c.eq_ignore_ascii_case(cause)) {
                Some(true)
            } else if offline_causes
                .iter()
                .any(|(c, _)| c.eq_ignore_ascii_case(cause))
            {
                Some(false)
            } else {
                None
            }
        }
    }
}

/// The accounts of a list of member entries.
fn accounts(entries: Vec<Entry>) -> Vec<AccountId> {
    entries.into_iter().map(|e| e.account).collect()
}

/// What one callback says of every change it reports: where, which app and room, the raw cause, when.
struct Said {
    source: Source,
    app: u64,
    room: String,
    raw: Option<RawCause>,
    at: Option<EventTime>,
}

impl Said {
    fn new(
        source: Source,
        app: u64,
        room: String,
        raw: Option<String>,
        at: Option<EventTime>,
    ) -> Self {
        Said {
            source,
            app,
            room,
            raw: raw.map(RawCause::Text),
            at,
        }
    }

    /// A departure for `cause` of each member (see [`each_member`]).
    fn departures(self, members: Vec<AccountId>, cause: Cause, out: &mut Vec<Change>) {
        out.reserve(members.len());
        each_member(members, |user| {
            out.push(Change::Departure(Departure {
                source: self.source,
                app: self.app,
                room: self.room.clone(),
                user,
                cause,
                raw: self.raw.clone(),
                at: self.at,
            }));
        });
    }

    /// An arrival of each member (see [`each_member`]).
    fn arrivals(self, members: Vec<AccountId>, out: &mut Vec<Change>) {
        out.reserve(members.len());
        each_member(members, |user| {
            out.push(Change::Arrival(Arrival {
                source: self.source,
                app: self.app,
                room: self.room.clone(),
                user,
                raw: self.raw.clone(),
                at: self.at,
            }));
        });
    }

    /// The room closed.
    fn closed(self) -> Change {
        Change::Closed(RoomClosed {
            source: self.source,
            app: self.app,
            room: self.room,
            raw: self.raw,
            at: self.at,
        })
    }
}

/// A view of a callback body with its optional `CallbackCommand`, and the lists it builds.
trait View: DeserializeOwned + Lists {
    fn tag(&self) -> Option<&str>;
}

macro_rules! views {
    ($($view:ident => [$($list:literal),*]),* $(,)?) => {
        $(impl View for $view {
            fn tag(&self) -> Option<&str> {
                self.tag.as_deref()
            }
        }
        impl Lists for $view {
            const LISTS: &'static [&'static str] = &[$($list),*];
        })*
    };
}

// A destroyed group's member list is not read: not bounded.
views!(
    RoomMembers => ["MemberList_Account"],
    RoomGone => [],
    LiveMembers => ["MemberList"],
    LiveGone => [],
    GroupExit => ["ExitMemberList"],
    GroupJoin => ["NewMemberList"],
    GroupMembers => ["MemberList"],
    GroupGone => [],
);

/// `MemberList_Account`, bounded.
fn room_members<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<AccountId>, D::Error> {
    crate::value::members("MemberList_Account", d)
}

/// `MemberList`, bounded.
fn member_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Entry>, D::Error> {
    crate::value::object_members("MemberList", d)
}

/// `ExitMemberList`, bounded.
fn exit_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Entry>, D::Error> {
    crate::value::object_members("ExitMemberList", d)
}

/// `NewMemberList`, bounded.
fn new_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Entry>, D::Error> {
    crate::value::object_members("NewMemberList", d)
}

/// A member list entry: `{"Member_Account": ...}`.
#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "Member_Account")]
    account: AccountId,
}

/// `Room.CallbackAfterMemberLeave`, `Room.CallbackAfterMemberEnter`.
#[derive(Deserialize)]
struct RoomMembers {
    #[serde(rename = "CallbackCommand", default)]
    tag: Option<String>,
    #[serde(rename = "RoomId")]
    room: String,
    #[serde(rename = "Type", default)]
    kind: Option<String>,
    #[serde(rename = "MemberList_Account", deserialize_with = "room_members")]
    members: Vec<AccountId>,
    #[serde(rename = "EventTime", default)]
    at: Option<EventTime>,
}

/// `Room.CallbackAfterDestroyRoom`.
#[derive(Deserialize)]
struct RoomGone {
    #[serde(rename = "CallbackCommand", default)]
    tag: Option<String>,
    #[serde(rename = "RoomId")]
    room: String,
    #[serde(rename = "EventTime", default)]
    at: Option<EventTime>,
}

/// `Live.CallbackAfterMemberStateChanged`.
#[derive(Deserialize)]
struct LiveMembers {
    #[serde(rename = "CallbackCommand", default)]
    tag: Option<String>,
    #[serde(rename = "RoomId")]
    room: String,
    #[serde(rename = "EventType", default)]
    kind: Option<String>,
    #[serde(rename = "EventCause", default)]
    cause: Option<String>,
    #[serde(rename = "MemberList", deserialize_with = "member_list")]
    members: Vec<Entry>,
    #[serde(rename = "EventTime", default)]
    at: Option<EventTime>,
}

/// `Live.CallbackAfterDestroyRoom`.
#[derive(Deserialize)]
struct LiveGone {
    #[serde(rename = "CallbackCommand", default)]
    tag: Option<String>,
    #[serde(rename = "RoomId")]
    room: String,
    #[serde(rename = "EventType", default)]
    kind: Option<String>,
    #[serde(rename = "EventTime", default)]
    at: Option<EventTime>,
}

/// `Group.CallbackAfterMemberExit`.
#[derive(Deserialize)]
struct GroupExit {
    #[serde(rename = "CallbackCommand", default)]
    tag: Option<String>,
    #[serde(rename = "GroupId")]
    room: String,
    #[serde(rename = "ExitType", default)]
    kind: Option<String>,
    #[serde(rename = "ExitMemberList", deserialize_with = "exit_list")]
    members: Vec<Entry>,
    #[serde(rename = "EventTime", default)]
    at: Option<EventTime>,
}

/// `Group.CallbackAfterNewMemberJoin`.
#[derive(Deserialize)]
struct GroupJoin {
    #[serde(rename = "CallbackCommand", default)]
    tag: Option<String>,
    #[serde(rename = "GroupId")]
    room: String,
    #[serde(rename = "JoinType", default)]
    kind: Option<String>,
    #[serde(rename = "NewMemberList", deserialize_with = "new_list")]
    members: Vec<Entry>,
    #[serde(rename = "EventTime", default)]
    at: Option<EventTime>,
}

/// `Group.CallbackOnMemberStateChange` (live groups).
#[derive(Deserialize)]
struct GroupMembers {
    #[serde(rename = "CallbackCommand", default)]
    tag: Option<String>,
    #[serde(rename = "GroupId")]
    room: String,
    #[serde(rename = "EventType", default)]
    kind: Option<String>,
    #[serde(rename = "EventCause", default)]
    cause: Option<String>,
    #[serde(rename = "MemberList", deserialize_with = "member_list")]
    members: Vec<Entry>,
    #[serde(rename = "EventTime", default)]
    at: Option<EventTime>,
}

/// `Group.CallbackAfterGroupDestroyed` (its `MemberList`, the members at the end, is not read).
#[derive(Deserialize)]
struct GroupGone {
    #[serde(rename = "CallbackCommand", default)]
    tag: Option<String>,
    #[serde(rename = "GroupId")]
    room: String,
    #[serde(rename = "EventTime", default)]
    at: Option<EventTime>,
}
