//! Who left which room, who entered, which room closed: every way Tencent says it, in one shape.
//!
//! ```
//! use tencent_room_callback::departure::{self, Cause, Change, Source};
//!
//! // Room.CallbackAfterMemberLeave as Tencent sends it.
//! let body = br#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"u1",
//!     "RoomId":"r1","MemberCount":20,"Type":"Leave","MemberList_Account":["u1"],"Reason":"",
//!     "EventTime":1670574414123}"#;
//!
//! let changes = departure::changes(1400000000, "Room.CallbackAfterMemberLeave", body, 10_000)?;
//! let [Change::Departure(left)] = &changes[..] else { unreachable!() };
//! assert_eq!((left.source, left.cause), (Source::Room, Cause::Left));
//! assert_eq!(left.user, "u1");
//! assert_eq!(
//!     serde_json::to_string(left)?,
//!     r#"{"source":"room","app":1400000000,"room":"r1","user":"u1","cause":"left","at_ms":1670574414123}"#
//! );
//!
//! // A command that says nothing about membership: no change, and the body is not read.
//! assert!(departure::changes(1400000000, "Group.CallbackAfterSendMsg", b"", 10_000)?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Tencent reports room membership on several channels, each in its own words: the Room
//! (TUIRoomKit), Live (TUILiveKit) and Chat group callbacks on the app's one callback URL, and TRTC's
//! room events on a URL of their own. [`changes`] reads the callbacks of the one URL and gives back
//! each change they report as a [`Change`]: a [`Departure`] (a member left: [`Cause`] left, kicked,
//! timed out or other, with the raw cause kept), an [`Arrival`], or a [`RoomClosed`]. It is sans-IO:
//! the app, the command and the body bytes in, the changes out.
//!
//! # What each callback says
//!
//! | command | change | room | cause (raw → [`Cause`]) |
//! |---|---|---|---|
//! | `Room.CallbackAfterMemberLeave` | a [`Departure`] per member of `MemberList_Account` | `RoomId` | `Type`: `Leave` → left, `Kicked` → kicked, `Expired` → timeout, other or none → other |
//! | `Room.CallbackAfterMemberEnter` | an [`Arrival`] per member | `RoomId` | raw: `Type` |
//! | `Room.CallbackAfterDestroyRoom` | [`RoomClosed`] | `RoomId` | |
//! | `Live.CallbackAfterMemberStateChanged` (or `Live.CallbackMemberStateChanged`), `EventType` `Offline` | a [`Departure`] per member of `MemberList` | `RoomId` | `EventCause`: `Leave` → left, `HeartbeatInterrupt` → timeout, `Kicked` → kicked, other or none → other |
//! | the same, `EventType` `Online` | an [`Arrival`] per member | `RoomId` | raw: `EventCause` (`Enter`, `HeartbeatRecover`) |
//! | `Live.CallbackAfterDestroyRoom` | [`RoomClosed`] | `RoomId` | raw: `EventType` (`DestroyByUser`, `DestroyBySystem`) |
//! | `Group.CallbackAfterMemberExit` | a [`Departure`] per member of `ExitMemberList` | `GroupId` | `ExitType`: `Quit` → left, `Kicked` → kicked, other or none → other |
//! | `Group.CallbackAfterNewMemberJoin` | an [`Arrival`] per member of `NewMemberList` | `GroupId` | raw: `JoinType` |
//! | `Group.CallbackOnMemberStateChange` (live groups), `EventType` `Offline` | a [`Departure`] per member of `MemberList` | `GroupId` | `EventCause`: `HeartbeatInterrupt` → timeout, `Quit` → left, other or none → other |
//! | the same, `EventType` `Online` | an [`Arrival`] per member | `GroupId` | raw: `EventCause` (`Join`, `HeartbeatRecover`) |
//! | `Group.CallbackAfterGroupDestroyed` | [`RoomClosed`] | `GroupId` | |
//! | TRTC room event 104 (exit), through [`from_trtc`] | a [`Departure`] | `RoomId` | `Reason`: 1 → left, 2 → timeout, 3 → kicked, anything else (4, 5, none) → other |
//! | TRTC room event 103 (enter), through [`from_trtc`] | an [`Arrival`] | `RoomId` | raw: `Reason` |
//! | TRTC room event 102 (dismiss), through [`from_trtc`] | [`RoomClosed`] | `RoomId` | |
//!
//! Any other command ([`COMMANDS`] lists these) says nothing about membership: no change, the body not
//! read. `State.StateChange` is about a user's connection, not a room, and is not read here either.
//! A member-state callback whose `EventType` is absent is read by its cause (`Enter`, `Join` and
//! `HeartbeatRecover` are arrivals; the causes above are departures); with an `EventType` this version
//! does not know, it gives no change. A live group's `Offline` without `EventCause` (older deployments
//! sent it for heartbeat timeouts only; the current docs' sample leaves the key out for any cause) is a
//! departure for [`Cause::Other`]. A member named twice in one callback gives one change; an empty
//! account gives none. `EventTime` is optional everywhere (older Chat callbacks send none): without it,
//! [`at`](Departure::at) is `None` (`"at_ms":null`).
//!
//! # Late, out of order, twice
//!
//! - **Late.** A timeout is reported when Tencent gives up waiting, not when the member went away: a
//!   Live `HeartbeatInterrupt` 90 to 110 s after the last heartbeat; a live group's about 30 to 50 s
//!   after it (no heartbeat for 30 s, checked every 20 s); a Room `Expired` and a TRTC exit with
//!   reason 2 after the server's heartbeat timeout (not documented). Treat [`Cause::Timeout`] as "gone
//!   for a while already".
//! - **Out of order.** Nothing orders callbacks across channels, nor (Tencent promises nothing) within
//!   one: a member who drops and comes back may be reported back before being reported gone. Order a
//!   departure against an arrival of the same member by their times ([`at`](Departure::at), which is
//!   Tencent's event time, not the time of delivery), never by the order they reach you; and mind that
//!   a timeout's time is when Tencent decided, after the member may already have re-entered.
//! - **Twice.** Tencent retries a callback it thinks failed, and several channels report one leave:
//!   TUIRoomKit and TUILiveKit both run on TRTC, so with TRTC's room events subscribed too, one
//!   TUIRoomKit leave arrives as a Room callback **and** as a TRTC 104 (and one TUILiveKit leave as a
//!   Live callback and a TRTC 104); a live-group member who quits may be reported by
//!   `Group.CallbackAfterMemberExit` and by `Group.CallbackOnMemberStateChange`. Subscribe one channel
//!   per product, or merge what the channels say by app, room and user, with times within a few
//!   seconds of each other (each channel stamps its own time: they differ by some milliseconds).
//!
//! # De-duplicating
//!
//! [`Change::key`] (and [`Departure::key`], [`Arrival::key`], [`RoomClosed::key`]) is an
//! [`EventKey`] over what the change says: the kind of change, app, source, room, user, cause and time
//! (the raw cause is not in it). A retry of a callback gives the same keys, whatever the order of its
//! JSON fields, an account as a number or a string, a time as a number or a string, the spelling of the
//! command, or fields this version does not read. Keep the keys you have seen for a while (Tencent's
//! TRTC retries go on for a minute) and drop a change whose key you have. The key does not merge
//! channels (the source is part of it: see above), and a change without a time cannot be told from the
//! same change again later: for those, keep keys for a short time only.
//!
//! # Serialized
//!
//! A change serializes as one flat JSON object, exactly these keys in this order, `app` and `at_ms`
//! integers (`at_ms` null when the callback has no time), the raw cause left out:
//!
//! - a departure: `{"source":"room","app":1400000000,"room":"r1","user":"u1","cause":"left","at_ms":1670574414123}`
//! - an arrival: `{"source":"live","app":1400000000,"room":"r1","user":"u1","arrived":true,"at_ms":null}`
//! - a closed room: `{"source":"trtc","app":1400000000,"room":"12345","closed":true,"at_ms":1687771618457}`
//!
//! `source` is `room`, `trtc`, `live` or `group`; `cause` is `left`, `kicked`, `timeout` or `other`.
//!
//! # TRTC
//!
//! TRTC's room events come on their own URL, in their own dialect (a signed body, no query). Once such
//! an event is verified and decoded, [`from_trtc`] turns its plain values (the app, `EventType`,
//! `RoomId` as a string, `UserId`, `Reason`, `EventMsTs`) into the same [`Change`], with
//! [`Source::Trtc`].

use std::collections::HashSet;
use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::command::canonical_name;
use crate::event::EventKey;
use crate::reject::Rejection;
use crate::value::{AccountId, EventTime};

#[cfg(test)]
mod tests;
mod wire;

/// Where a change was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Source {
    /// A Room (TUIRoomKit) callback: `Room.*`. Serialized `room`.
    Room,
    /// A TRTC room event (its own URL and dialect; see [`from_trtc`]). Serialized `trtc`.
    Trtc,
    /// A Live (TUILiveKit) callback: `Live.*`. Serialized `live`.
    Live,
    /// A Chat group callback, live groups' member state included: `Group.*`. Serialized `group`.
    Group,
}

impl Source {
    /// The serialized name: `room`, `trtc`, `live` or `group`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Room => "room",
            Source::Trtc => "trtc",
            Source::Live => "live",
            Source::Group => "group",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why a member left, in the same words whatever the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Cause {
    /// The member left by itself (Room `Leave`, Live `Leave`, group `Quit`, TRTC reason 1).
    /// Serialized `left`.
    Left,
    /// The member was removed by someone else (Room, Live and group `Kicked`, TRTC reason 3).
    /// Serialized `kicked`.
    Kicked,
    /// The member went silent and Tencent gave up on it, some time ago already (Room `Expired`, Live
    /// and live-group `HeartbeatInterrupt`, TRTC reason 2). Serialized `timeout`.
    Timeout,
    /// Any other cause, or none given: see the departure's [`raw`](Departure::raw) cause. Serialized
    /// `other`.
    Other,
}

impl Cause {
    /// The serialized name: `left`, `kicked`, `timeout` or `other`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Cause::Left => "left",
            Cause::Kicked => "kicked",
            Cause::Timeout => "timeout",
            Cause::Other => "other",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A cause, type or reason as the callback sent it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RawCause {
    /// Sent as text (`Type`, `ExitType`, `JoinType`, `EventCause`, `EventType`), as sent.
    Text(String),
    /// Sent as a number (TRTC's `Reason`).
    Code(u64),
}

impl fmt::Display for RawCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawCause::Text(text) => f.write_str(text),
            RawCause::Code(code) => write!(f, "{code}"),
        }
    }
}

/// A member left a room (or a group).
///
/// Serializes as `{"source":..,"app":..,"room":..,"user":..,"cause":..,"at_ms":..}` (see the
/// [module docs](self)); [`raw`](Self::raw) is not serialized.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Departure {
    /// Where it was reported.
    pub source: Source,
    /// The app (SDKAppID).
    pub app: u64,
    /// The room: `RoomId` (a TRTC room number as its decimal digits), or a group's `GroupId`.
    pub room: String,
    /// The member who left.
    pub user: AccountId,
    /// Why, in the same words whatever the channel.
    pub cause: Cause,
    /// Why, as the callback said it (`None` when it said nothing).
    pub raw: Option<RawCause>,
    /// When it happened, by Tencent's clock (milliseconds), when the callback says.
    pub at: Option<EventTime>,
}

impl Departure {
    /// A departure with no raw cause and no time.
    pub fn new(
        source: Source,
        app: u64,
        room: impl Into<String>,
        user: impl Into<AccountId>,
        cause: Cause,
    ) -> Self {
        Departure {
            source,
            app,
            room: room.into(),
            user: user.into(),
            cause,
            raw: None,
            at: None,
        }
    }

    /// The key that identifies this departure across Tencent's retries: the digest of the kind of
    /// change, app, source, room, user, cause and time (see [De-duplicating](self#de-duplicating)).
    pub fn key(&self) -> EventKey {
        EventKey::digest(&("departure/1", self))
    }
}

impl Serialize for Departure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("Departure", 6)?;
        out.serialize_field("source", &self.source)?;
        out.serialize_field("app", &self.app)?;
        out.serialize_field("room", &self.room)?;
        out.serialize_field("user", &self.user)?;
        out.serialize_field("cause", &self.cause)?;
        out.serialize_field("at_ms", &self.at.map(EventTime::as_millis))?;
        out.end()
    }
}

/// A member entered a room (or joined a group, or came back on line).
///
/// Serializes as `{"source":..,"app":..,"room":..,"user":..,"arrived":true,"at_ms":..}`: a
/// departure's shape with `"arrived":true` in place of the cause; [`raw`](Self::raw) is not serialized.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Arrival {
    /// Where it was reported.
    pub source: Source,
    /// The app (SDKAppID).
    pub app: u64,
    /// The room: `RoomId` (a TRTC room number as its decimal digits), or a group's `GroupId`.
    pub room: String,
    /// The member who arrived.
    pub user: AccountId,
    /// How, as the callback said it (Room `Type`, Live or live-group `EventCause` such as
    /// `HeartbeatRecover`, group `JoinType`, TRTC `Reason`; `None` when it said nothing).
    pub raw: Option<RawCause>,
    /// When it happened, by Tencent's clock (milliseconds), when the callback says.
    pub at: Option<EventTime>,
}

impl Arrival {
    /// An arrival with no raw type and no time.
    pub fn new(
        source: Source,
        app: u64,
        room: impl Into<String>,
        user: impl Into<AccountId>,
    ) -> Self {
        Arrival {
            source,
            app,
            room: room.into(),
            user: user.into(),
            raw: None,
            at: None,
        }
    }

    /// The key that identifies this arrival across Tencent's retries: the digest of the kind of change,
    /// app, source, room, user and time.
    pub fn key(&self) -> EventKey {
        EventKey::digest(&("arrival/1", self))
    }
}

impl Serialize for Arrival {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("Arrival", 6)?;
        out.serialize_field("source", &self.source)?;
        out.serialize_field("app", &self.app)?;
        out.serialize_field("room", &self.room)?;
        out.serialize_field("user", &self.user)?;
        out.serialize_field("arrived", &true)?;
        out.serialize_field("at_ms", &self.at.map(EventTime::as_millis))?;
        out.end()
    }
}

/// A room (or group) was closed: destroyed, dismissed, disbanded. Everyone in it is gone, without a
/// departure each.
///
/// Serializes as `{"source":..,"app":..,"room":..,"closed":true,"at_ms":..}`; [`raw`](Self::raw) is
/// not serialized.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RoomClosed {
    /// Where it was reported.
    pub source: Source,
    /// The app (SDKAppID).
    pub app: u64,
    /// The room: `RoomId` (a TRTC room number as its decimal digits), or a group's `GroupId`.
    pub room: String,
    /// Who closed it, as the callback said (Live's `EventType`: `DestroyByUser`, `DestroyBySystem`;
    /// `None` when it said nothing).
    pub raw: Option<RawCause>,
    /// When it happened, by Tencent's clock (milliseconds), when the callback says.
    pub at: Option<EventTime>,
}

impl RoomClosed {
    /// A closed room with no raw type and no time.
    pub fn new(source: Source, app: u64, room: impl Into<String>) -> Self {
        RoomClosed {
            source,
            app,
            room: room.into(),
            raw: None,
            at: None,
        }
    }

    /// The key that identifies this event across Tencent's retries: the digest of the kind of change,
    /// app, source, room and time.
    pub fn key(&self) -> EventKey {
        EventKey::digest(&("closed/1", self))
    }
}

impl Serialize for RoomClosed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("RoomClosed", 5)?;
        out.serialize_field("source", &self.source)?;
        out.serialize_field("app", &self.app)?;
        out.serialize_field("room", &self.room)?;
        out.serialize_field("closed", &true)?;
        out.serialize_field("at_ms", &self.at.map(EventTime::as_millis))?;
        out.end()
    }
}

/// One change of a room's membership: a departure, an arrival or a closed room.
///
/// Serializes as the change it holds (the keys `cause`, `arrived` and `closed` tell them apart).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Change {
    /// A member left.
    Departure(Departure),
    /// A member arrived.
    Arrival(Arrival),
    /// A room closed.
    Closed(RoomClosed),
}

impl Change {
    /// The change's key (see [De-duplicating](self#de-duplicating)).
    pub fn key(&self) -> EventKey {
        match self {
            Change::Departure(d) => d.key(),
            Change::Arrival(a) => a.key(),
            Change::Closed(c) => c.key(),
        }
    }

    /// Where it was reported.
    pub fn source(&self) -> Source {
        match self {
            Change::Departure(d) => d.source,
            Change::Arrival(a) => a.source,
            Change::Closed(c) => c.source,
        }
    }

    /// The app (SDKAppID).
    pub fn app(&self) -> u64 {
        match self {
            Change::Departure(d) => d.app,
            Change::Arrival(a) => a.app,
            Change::Closed(c) => c.app,
        }
    }

    /// The room (or group).
    pub fn room(&self) -> &str {
        match self {
            Change::Departure(d) => &d.room,
            Change::Arrival(a) => &a.room,
            Change::Closed(c) => &c.room,
        }
    }

    /// The member, for a departure or an arrival.
    pub fn user(&self) -> Option<&AccountId> {
        match self {
            Change::Departure(d) => Some(&d.user),
            Change::Arrival(a) => Some(&a.user),
            Change::Closed(_) => None,
        }
    }

    /// When it happened (milliseconds), when the callback says.
    pub fn at(&self) -> Option<EventTime> {
        match self {
            Change::Departure(d) => d.at,
            Change::Arrival(a) => a.at,
            Change::Closed(c) => c.at,
        }
    }
}

impl From<Departure> for Change {
    fn from(d: Departure) -> Change {
        Change::Departure(d)
    }
}

impl From<Arrival> for Change {
    fn from(a: Arrival) -> Change {
        Change::Arrival(a)
    }
}

impl From<RoomClosed> for Change {
    fn from(c: RoomClosed) -> Change {
        Change::Closed(c)
    }
}

/// The canonical names of the commands [`changes`] reads; any other command gives no change.
pub const COMMANDS: &[&str] = wire::COMMANDS;

/// Every change one callback reports, as a typed route hands them over: one handler for every way a
/// member leaves, arrives, or a room closes, whichever channel says it.
///
/// ```
/// use tencent_room_callback::departure::{Change, Changes};
/// use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError};
///
/// async fn on_change(changes: Changes, _: CallbackMeta) -> Result<(), HandlerError> {
///     for change in changes.0 {
///         if let Change::Departure(left) = change {
///             println!("{} left {} ({:?}, {})", left.user, left.room, left.cause, left.source);
///         }
///     }
///     Ok(())
/// }
///
/// let layer = CallbackLayer::new(Config::new(1400000000))
///     .path("/callback")
///     .on(on_change);
/// ```
///
/// Its route takes every command of [`COMMANDS`] (a later route for one of them, such as
/// `.on(|leave: MemberLeave, meta| ...)`, takes that one instead). Serializes as the list of its
/// changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Changes(pub Vec<Change>);

impl crate::event::sealed::Sealed for Changes {}

/// What [`Changes`]' route takes: every command of [`COMMANDS`], and TRTC's room events 102 (dismiss),
/// 103 (enter) and 104 (exit).
const CHANGES: &[&str] = &{
    let mut all = [""; COMMANDS.len() + 3];
    let mut i = 0;
    while i < COMMANDS.len() {
        all[i] = COMMANDS[i];
        i += 1;
    }
    all[i] = "TRTC.1.102";
    all[i + 1] = "TRTC.1.103";
    all[i + 2] = "TRTC.1.104";
    all
};

impl crate::event::Event for Changes {
    const COMMANDS: &'static [&'static str] = CHANGES;

    fn decode(
        meta: &crate::meta::CallbackMeta,
        body: &[u8],
        max_members: usize,
    ) -> Result<Changes, Rejection> {
        if crate::trtc::EventCode::of(&meta.command).is_some() {
            let event = crate::trtc::TrtcEvent::from_json(body)?;
            let room = event.room_id().to_string();
            let change = from_trtc(
                meta.sdk_app_id,
                u64::from(event.code().event_type()),
                &room,
                event.user_id().map(AccountId::as_str),
                event.info.reason.map(u64::from),
                event.info.event_ms_ts.map(|t| t.as_millis()),
            );
            return Ok(Changes(change.into_iter().collect()));
        }
        changes(meta.sdk_app_id, meta.command.as_str(), body, max_members).map(Changes)
    }

    fn room_id(&self) -> Option<&str> {
        self.0.first().map(Change::room)
    }
}

/// Whether [`changes`] reads `command` (exact, case-sensitive, already decoded; either spelling of a
/// command Tencent spells two ways): one of [`COMMANDS`].
pub fn handles(command: &str) -> bool {
    COMMANDS.contains(&canonical_name(command))
}

/// Every change the callback of `command` (its `CallbackCommand`, either spelling) with this `body`
/// reports for app `app`, in the order of its member list: one [`Departure`] or [`Arrival`] per member,
/// or one [`RoomClosed`]. Empty for a command that says nothing about membership (its body is not
/// read), and for a member list with nobody in it.
///
/// `max_members` bounds every member list, as [`Config::max_members`](crate::Config::max_members)
/// does for the typed events: a longer one is refused while it is decoded.
///
/// Each body must carry only what the change needs: the room (`RoomId`, `GroupId`) and the member list
/// (its entries with their `Member_Account` where the list holds objects). Everything else is
/// optional, and unknown fields are ignored; so a body a typed event accepts is accepted here too.
///
/// # Errors
/// A [`Rejection`] of kind [`RejectionKind::MalformedBody`](crate::RejectionKind::MalformedBody) when
/// the body of a command this function reads is not a JSON object of its shape (a missing room or
/// member list, a member list longer than `max_members`, a time that is not one), or when its
/// `CallbackCommand` names another command.
pub fn changes(
    app: u64,
    command: &str,
    body: &[u8],
    max_members: usize,
) -> Result<Vec<Change>, Rejection> {
    wire::changes(app, canonical_name(command), body, max_members)
}

/// The change a TRTC room event reports (`EventGroupId` 1), from its plain values: 104 (exit) a
/// [`Departure`], 103 (enter) an [`Arrival`], 102 (dismiss) a [`RoomClosed`], each with
/// [`Source::Trtc`]; `None` for any other event type, and for an exit or enter without a user.
///
/// - `room`: `RoomId` as a string: a numeric one as its decimal digits (`12345` → `"12345"`), a string
///   one as sent. (TRTC keeps numeric and string room IDs apart: an app that uses both kinds has two
///   rooms `12345`, told apart only by the kind.)
/// - `user`: `UserId` (`None` or empty when absent).
/// - `reason`: `Reason`. For an exit: 1 → [`Cause::Left`], 2 → [`Cause::Timeout`], 3 →
///   [`Cause::Kicked`], anything else (4 co-anchoring cancelled, 5 process killed, none) →
///   [`Cause::Other`]; the number is kept as [`RawCause::Code`] either way (an older numbering of the
///   reasons existed).
/// - `event_ms`: `EventMsTs`, the event's time in milliseconds (not `CallbackTs`, which a retry
///   changes).
///
/// ```
/// use tencent_room_callback::departure::{self, Cause, Change};
///
/// let change = departure::from_trtc(1400000000, 104, "12345", Some("user_85034614"), Some(2), Some(1664209748180));
/// let Some(Change::Departure(left)) = &change else { unreachable!() };
/// assert_eq!(left.cause, Cause::Timeout);
/// assert_eq!(
///     serde_json::to_string(left)?,
///     r#"{"source":"trtc","app":1400000000,"room":"12345","user":"user_85034614","cause":"timeout","at_ms":1664209748180}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn from_trtc(
    app: u64,
    event_type: u64,
    room: &str,
    user: Option<&str>,
    reason: Option<u64>,
    event_ms: Option<u64>,
) -> Option<Change> {
    let at = event_ms.map(EventTime::from_millis);
    let user = user.filter(|u| !u.is_empty());
    match event_type {
        104 => {
            let cause = match reason {
                Some(1) => Cause::Left,
                Some(2) => Cause::Timeout,
                Some(3) => Cause::Kicked,
                _ => Cause::Other,
            };
            let mut d = Departure::new(Source::Trtc, app, room, user?, cause);
            d.raw = reason.map(RawCause::Code);
            d.at = at;
            Some(d.into())
        }
        103 => {
            let mut a = Arrival::new(Source::Trtc, app, room, user?);
            a.raw = reason.map(RawCause::Code);
            a.at = at;
            Some(a.into())
        }
        102 => {
            let mut c = RoomClosed::new(Source::Trtc, app, room);
            c.at = at;
            Some(c.into())
        }
        _ => None,
    }
}

/// Calls `each` once for every member of `members`, in order, skipping an empty account and any
/// account already seen in the list.
fn each_member(members: Vec<AccountId>, mut each: impl FnMut(AccountId)) {
    if members.len() < 2 {
        members
            .into_iter()
            .filter(|m| !m.as_str().is_empty())
            .for_each(each);
        return;
    }
    let mut seen = HashSet::with_capacity(members.len());
    for member in members {
        if !member.as_str().is_empty() && seen.insert(member.clone()) {
            each(member);
        }
    }
}
