//! Typed TRTC room (group 1) and media (group 2) events, their codes and field types.

use std::fmt;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::command::CallbackCommand;
use crate::reject::{Rejection, RejectionKind};
use crate::value::{flex, unexpected_str, AccountId, EventTime, FlexU64, UnixSeconds};

use super::COMMAND_PREFIX;

/// The `EventGroupId` of room events.
const ROOM_GROUP: u32 = 1;
/// The `EventGroupId` of media events.
const MEDIA_GROUP: u32 = 2;

/// The `EventGroupId` and `EventType` of any TRTC callback, typed or not: 8 bytes, `Copy`.
///
/// Its name, `TRTC.<EventGroupId>.<EventType>` (`TRTC.1.104` for a user leaving a room), is the
/// pseudo-command a verified TRTC callback carries in [`CallbackMeta::command`]: TRTC callbacks have
/// no `CallbackCommand`, and this name lets them go through the same routes as the one-URL callbacks
/// (by exact name, or every TRTC callback by the prefix [`COMMAND_PREFIX`]). No Tencent command
/// starts with `TRTC.`.
///
/// [`CallbackMeta::command`]: crate::CallbackMeta::command
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventCode {
    group: u32,
    event_type: u32,
}

impl EventCode {
    /// The code of event `event_type` of group `group`.
    pub const fn new(group: u32, event_type: u32) -> EventCode {
        EventCode { group, event_type }
    }

    /// `EventGroupId`: 1 room, 2 media, 3 recording, 7 stream ingest, 9 AI, 11 moderation, 14
    /// transcription...
    pub const fn group(self) -> u32 {
        self.group
    }

    /// `EventType`, e.g. 104 (exit room).
    pub const fn event_type(self) -> u32 {
        self.event_type
    }

    /// The typed event of this code, when this crate types it (groups 1 and 2, known types).
    pub const fn kind(self) -> Option<EventKind> {
        EventKind::from_code(self)
    }

    /// The pseudo-command `TRTC.<EventGroupId>.<EventType>` (see [`EventCode`]).
    ///
    /// Builds the name without a temporary `String`; the [`CallbackCommand`] keeps its own copy.
    pub fn command(self) -> CallbackCommand {
        match self.kind() {
            Some(kind) => CallbackCommand::known(kind.name()),
            None => {
                let mut name = NameBuf::default();
                let _ = fmt::write(&mut name, format_args!("{self}"));
                CallbackCommand::new(name.as_str())
            }
        }
    }

    /// The code a pseudo-command name carries: `TRTC.` then two decimal numbers (no sign, no leading
    /// zero) separated by a dot, as [`command`](EventCode::command) writes them (`TRTC.1.104`); `None`
    /// for any other name.
    pub fn parse(name: &str) -> Option<EventCode> {
        let rest = name.strip_prefix(COMMAND_PREFIX)?;
        let (group, event_type) = rest.split_once('.')?;
        Some(EventCode {
            group: digits_u32(group)?,
            event_type: digits_u32(event_type)?,
        })
    }

    /// The code of a verified callback's command, when it is a TRTC pseudo-command.
    pub fn of(command: &CallbackCommand) -> Option<EventCode> {
        EventCode::parse(command.as_str())
    }
}

/// A `u32` from a non-empty string of ASCII digits, without leading zeros (so that a name has one
/// spelling).
fn digits_u32(s: &str) -> Option<u32> {
    let value = crate::value::parse_digits(s)?;
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    u32::try_from(value).ok()
}

/// `TRTC.<EventGroupId>.<EventType>`.
impl fmt::Display for EventCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{COMMAND_PREFIX}{}.{}", self.group, self.event_type)
    }
}

/// Room for the longest name: `TRTC.` and two `u32`s (10 digits each) around a dot.
const NAME_CAP: usize = 5 + 10 + 1 + 10;

/// A name written on the stack.
struct NameBuf {
    buf: [u8; NAME_CAP],
    len: usize,
}

impl Default for NameBuf {
    fn default() -> Self {
        NameBuf {
            buf: [0; NAME_CAP],
            len: 0,
        }
    }
}

impl NameBuf {
    fn as_str(&self) -> &str {
        // Only whole `str`s are ever written, within the buffer: the bytes are UTF-8.
        self.buf
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl fmt::Write for NameBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Declares [`EventKind`] from one line per event.
macro_rules! event_kinds {
    ($( $(#[$m:meta])* $variant:ident = ($group:literal, $ty:literal) ),* $(,)?) => {
        /// A TRTC event this crate types: the room events (group 1) and the media events (group 2).
        ///
        /// Its [`name`](EventKind::name) is the pseudo-command of its callbacks, e.g. `TRTC.1.104`
        /// (see [`EventCode`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventKind {
            $( $(#[$m])* $variant, )*
        }

        impl EventKind {
            /// Every typed event, in code order. A slice: it grows as events are added.
            pub const ALL: &'static [EventKind] = &[$( EventKind::$variant, )*];

            /// The event's code (`EventGroupId`, `EventType`).
            pub const fn code(self) -> EventCode {
                match self {
                    $( EventKind::$variant => EventCode::new($group, $ty), )*
                }
            }

            /// The pseudo-command of this event's callbacks, e.g. `TRTC.1.104`.
            pub const fn name(self) -> &'static str {
                match self {
                    $( EventKind::$variant => concat!("TRTC.", $group, ".", $ty), )*
                }
            }

            /// The typed event of `code`, if any.
            pub const fn from_code(code: EventCode) -> Option<EventKind> {
                match (code.group, code.event_type) {
                    $( ($group, $ty) => Some(EventKind::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

event_kinds! {
    /// 101: a room was created (its first user entered).
    CreateRoom = (1, 101),
    /// 102: a room was dismissed (its last user left).
    DismissRoom = (1, 102),
    /// 103: a user entered the room.
    EnterRoom = (1, 103),
    /// 104: a user left the room (it implies 202 and 204, which are not sent).
    ExitRoom = (1, 104),
    /// 105: a user's role changed (anchor / audience).
    ChangeRole = (1, 105),
    /// 201: a user started sending video.
    StartVideo = (2, 201),
    /// 202: a user stopped sending video.
    StopVideo = (2, 202),
    /// 203: a user started sending audio.
    StartAudio = (2, 203),
    /// 204: a user stopped sending audio.
    StopAudio = (2, 204),
    /// 205: a user started sending the sub-stream (screen sharing).
    StartSubStream = (2, 205),
    /// 206: a user stopped sending the sub-stream.
    StopSubStream = (2, 206),
}

impl EventKind {
    /// Whether this is a room event (group 1).
    pub const fn is_room(self) -> bool {
        self.code().group == ROOM_GROUP
    }

    /// Whether this is a media event (group 2).
    pub const fn is_media(self) -> bool {
        self.code().group == MEDIA_GROUP
    }

    /// Whether events of this kind must name their user (`UserId`): entering and leaving.
    const fn needs_user(self) -> bool {
        matches!(self, EventKind::EnterRoom | EventKind::ExitRoom)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A TRTC room ID (`RoomId`), exactly as sent: a JSON number (a numeric room, `roomId` in the SDKs)
/// or a JSON string (a string room, `strRoomId`).
///
/// TRTC keeps the two apart (room `8489` and room `"8489"` are different rooms), and so does this
/// type: it compares, hashes, keys and serializes a number as a number and a string as a string. A
/// number keeps its exact value up to `u64::MAX` (never through a float); a negative, fractional or
/// larger number is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoomId {
    /// A numeric room ID.
    Number(u64),
    /// A string room ID.
    String(String),
}

impl RoomId {
    /// Whether the ID was sent as a JSON number.
    pub const fn is_number(&self) -> bool {
        matches!(self, RoomId::Number(_))
    }

    /// The numeric ID, when it was sent as a number.
    pub const fn as_number(&self) -> Option<u64> {
        match self {
            RoomId::Number(n) => Some(*n),
            RoomId::String(_) => None,
        }
    }

    /// The string ID, when it was sent as a string.
    pub fn as_string(&self) -> Option<&str> {
        match self {
            RoomId::Number(_) => None,
            RoomId::String(s) => Some(s),
        }
    }
}

/// The number's digits, or the string.
impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoomId::Number(n) => n.fmt(f),
            RoomId::String(s) => f.write_str(s),
        }
    }
}

impl From<u64> for RoomId {
    fn from(n: u64) -> Self {
        RoomId::Number(n)
    }
}

impl From<&str> for RoomId {
    fn from(s: &str) -> Self {
        RoomId::String(s.to_owned())
    }
}

impl From<String> for RoomId {
    fn from(s: String) -> Self {
        RoomId::String(s)
    }
}

impl Serialize for RoomId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RoomId::Number(n) => s.serialize_u64(*n),
            RoomId::String(id) => s.serialize_str(id),
        }
    }
}

/// Expects a room ID; the messages never quote a long string.
struct RoomIdVisitor;

impl<'de> Visitor<'de> for RoomIdVisitor {
    type Value = RoomId;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a room ID (a non-negative integer or a string)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RoomId, E> {
        Ok(RoomId::Number(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RoomId, E> {
        u64::try_from(v)
            .map(RoomId::Number)
            .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }
    // f64 is refused by the default: a float (a fraction, an exponent, or past u64) lost digits.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RoomId, E> {
        Ok(RoomId::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<RoomId, E> {
        Ok(RoomId::String(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<RoomId, E> {
        Err(E::invalid_type(Unexpected::Other("bytes"), &self))
    }
}

impl<'de> Deserialize<'de> for RoomId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RoomIdVisitor)
    }
}

/// The role of a user (`Role`): 20 anchor, 21 audience; another value kept as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// 20: an anchor (may send audio and video).
    Anchor,
    /// 21: an audience member (receives only).
    Audience,
    /// A value this version does not know, kept as sent.
    Other(u32),
}

impl Role {
    /// The role of a wire value.
    pub const fn from_code(code: u32) -> Role {
        match code {
            20 => Role::Anchor,
            21 => Role::Audience,
            other => Role::Other(other),
        }
    }

    /// The wire value.
    pub const fn code(self) -> u32 {
        match self {
            Role::Anchor => 20,
            Role::Audience => 21,
            Role::Other(code) => code,
        }
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.code())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        flex::u32(d).map(Role::from_code)
    }
}

/// Why a user left a room (`Reason` of [`EventKind::ExitRoom`]), by the current docs. The raw value
/// stays in [`EventInfo::reason`]: an older version of the docs numbered these differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitReason {
    /// 1: the user left normally.
    Normal,
    /// 2: the user timed out (an Android app killed by force shows up as this too).
    Timeout,
    /// 3: the user was removed from the room.
    Removed,
    /// 4: a cross-room co-anchoring was cancelled.
    CrossRoomCancelled,
    /// 5: the user's process was killed.
    ProcessKilled,
    /// A value this version does not know, kept as sent.
    Other(u32),
}

impl ExitReason {
    /// The reason of a wire value.
    pub const fn from_code(code: u32) -> ExitReason {
        match code {
            1 => ExitReason::Normal,
            2 => ExitReason::Timeout,
            3 => ExitReason::Removed,
            4 => ExitReason::CrossRoomCancelled,
            5 => ExitReason::ProcessKilled,
            other => ExitReason::Other(other),
        }
    }

    /// The wire value.
    pub const fn code(self) -> u32 {
        match self {
            ExitReason::Normal => 1,
            ExitReason::Timeout => 2,
            ExitReason::Removed => 3,
            ExitReason::CrossRoomCancelled => 4,
            ExitReason::ProcessKilled => 5,
            ExitReason::Other(code) => code,
        }
    }
}

/// Why a user entered a room (`Reason` of [`EventKind::EnterRoom`]). The raw value stays in
/// [`EventInfo::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnterReason {
    /// 1: a normal entry.
    Normal,
    /// 2: re-entry after a network switch.
    NetworkSwitch,
    /// 3: re-entry after a timeout (retry).
    TimeoutRetry,
    /// 4: entry for a cross-room co-anchoring.
    CoAnchoring,
    /// A value this version does not know, kept as sent.
    Other(u32),
}

impl EnterReason {
    /// The reason of a wire value.
    pub const fn from_code(code: u32) -> EnterReason {
        match code {
            1 => EnterReason::Normal,
            2 => EnterReason::NetworkSwitch,
            3 => EnterReason::TimeoutRetry,
            4 => EnterReason::CoAnchoring,
            other => EnterReason::Other(other),
        }
    }

    /// The wire value.
    pub const fn code(self) -> u32 {
        match self {
            EnterReason::Normal => 1,
            EnterReason::NetworkSwitch => 2,
            EnterReason::TimeoutRetry => 3,
            EnterReason::CoAnchoring => 4,
            EnterReason::Other(code) => code,
        }
    }
}

/// `deserialize_with` for an optional `u64` sent as a number or a string of digits.
fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<FlexU64>::deserialize(d)?.map(|v| v.0))
}

/// `EventInfo`: what a room or media event says. Every field but `RoomId` is optional (`UserId` is
/// there for enter and exit events: [`TrtcEvent::from_json`] checks it); fields this version does not
/// know are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventInfo {
    /// `RoomId`: the room, a number or a string, as sent.
    #[serde(rename = "RoomId")]
    pub room_id: RoomId,
    /// `EventTs`: when the event happened, in **seconds** (sent as a number or a string).
    #[serde(rename = "EventTs", default, skip_serializing_if = "Option::is_none")]
    pub event_ts: Option<UnixSeconds>,
    /// `EventMsTs`: when the event happened, in milliseconds.
    #[serde(rename = "EventMsTs", default, skip_serializing_if = "Option::is_none")]
    pub event_ms_ts: Option<EventTime>,
    /// `UserId`: the user; always there for [`EventKind::EnterRoom`] and [`EventKind::ExitRoom`].
    #[serde(rename = "UserId", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<AccountId>,
    /// `UniqueId`: sent only to apps that enabled callbacks before 2021-07-30.
    #[serde(
        rename = "UniqueId",
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub unique_id: Option<u64>,
    /// `Role`: anchor or audience.
    #[serde(rename = "Role", default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// `TerminalType`: the user's device type (on enter), as sent.
    #[serde(
        rename = "TerminalType",
        default,
        deserialize_with = "flex::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub terminal_type: Option<u32>,
    /// `UserType`: the user's SDK type (on enter), as sent.
    #[serde(
        rename = "UserType",
        default,
        deserialize_with = "flex::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_type: Option<u32>,
    /// `Reason`: the raw value; its meaning depends on the event
    /// ([`TrtcEvent::exit_reason`], [`TrtcEvent::enter_reason`]).
    #[serde(
        rename = "Reason",
        default,
        deserialize_with = "flex::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<u32>,
}

impl EventInfo {
    /// An event's information with only its room; every optional field `None`.
    pub fn new(room_id: impl Into<RoomId>) -> Self {
        EventInfo {
            room_id: room_id.into(),
            event_ts: None,
            event_ms_ts: None,
            user_id: None,
            unique_id: None,
            role: None,
            terminal_type: None,
            user_type: None,
            reason: None,
        }
    }
}

/// The body as sent: any group and type (checked after).
#[derive(Deserialize)]
pub(super) struct Wire {
    #[serde(rename = "EventGroupId", deserialize_with = "flex::u32")]
    pub(super) group: u32,
    #[serde(rename = "EventType", deserialize_with = "flex::u32")]
    pub(super) event_type: u32,
    #[serde(rename = "CallbackTs", default)]
    pub(super) callback_ts: Option<EventTime>,
    #[serde(rename = "CallbackMsTs", default)]
    pub(super) callback_ms_ts: Option<EventTime>,
    #[serde(rename = "EventInfo", deserialize_with = "info_object")]
    info: EventInfo,
}

/// `deserialize_with` for `EventInfo`: a JSON object only (not the list of fields by position serde
/// allows for a struct, which the key would read differently); anything else refused with a short
/// message.
fn info_object<'de, D: Deserializer<'de>>(d: D) -> Result<EventInfo, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = EventInfo;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<EventInfo, A::Error> {
            EventInfo::deserialize(de::value::MapAccessDeserializer::new(map))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<EventInfo, E> {
            Err(E::invalid_type(unexpected_str(v), &self))
        }
    }
    d.deserialize_any(V)
}

/// A TRTC room or media event (groups 1 and 2): what the callback body says, typed.
///
/// Decode it with [`TrtcEvent::from_json`] from the body [`verify`](super::verify) accepted.
/// Required on the wire: `EventGroupId`, `EventType` (a typed pair: see [`EventKind`]),
/// `EventInfo.RoomId`, and `EventInfo.UserId` for enter and exit events. Numbers may come as strings
/// of digits (`EventTs` does); unknown fields are ignored. Serializes back to Tencent's field names,
/// the room ID as it came (number or string).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrtcEvent {
    /// `EventGroupId` and `EventType`.
    pub kind: EventKind,
    /// `CallbackTs`: when Tencent sent this callback (milliseconds); a retry may carry a new one.
    pub callback_ts: Option<EventTime>,
    /// `CallbackMsTs`: the same, as some groups name it (milliseconds).
    pub callback_ms_ts: Option<EventTime>,
    /// `EventInfo`.
    pub info: EventInfo,
}

impl TrtcEvent {
    /// An event of `kind` with `info` and no callback time: for calling a handler in a test.
    pub fn new(kind: EventKind, info: EventInfo) -> Self {
        TrtcEvent {
            kind,
            callback_ts: None,
            callback_ms_ts: None,
            info,
        }
    }

    /// Decodes a TRTC callback body (the bytes [`verify`](super::verify) accepted).
    ///
    /// # Errors
    /// A [`Rejection`] of kind [`RejectionKind::MalformedBody`] when the body is not a JSON object of
    /// a TRTC event's shape (a required field missing, a field of the wrong type); of kind
    /// [`RejectionKind::UnknownCommand`] when it is a well-formed TRTC callback of a group or type
    /// this crate does not type (recording, AI...: route those raw).
    pub fn from_json(body: &[u8]) -> Result<TrtcEvent, Rejection> {
        let wire: Wire = super::decode_object(body)?;
        TrtcEvent::try_from(wire)
    }

    /// The event's code.
    pub const fn code(&self) -> EventCode {
        self.kind.code()
    }

    /// The room.
    pub fn room_id(&self) -> &RoomId {
        &self.info.room_id
    }

    /// The user, when the event names one (always for enter and exit).
    pub fn user_id(&self) -> Option<&AccountId> {
        self.info.user_id.as_ref()
    }

    /// Why the user left, for an exit event with a `Reason` (the raw value is
    /// [`EventInfo::reason`]).
    pub fn exit_reason(&self) -> Option<ExitReason> {
        match self.kind {
            EventKind::ExitRoom => self.info.reason.map(ExitReason::from_code),
            _ => None,
        }
    }

    /// Why the user entered, for an enter event with a `Reason` (the raw value is
    /// [`EventInfo::reason`]).
    pub fn enter_reason(&self) -> Option<EnterReason> {
        match self.kind {
            EventKind::EnterRoom => self.info.reason.map(EnterReason::from_code),
            _ => None,
        }
    }
}

impl TryFrom<Wire> for TrtcEvent {
    type Error = Rejection;

    fn try_from(wire: Wire) -> Result<TrtcEvent, Rejection> {
        let code = EventCode::new(wire.group, wire.event_type);
        let Some(kind) = code.kind() else {
            return Err(Rejection::with_detail(
                RejectionKind::UnknownCommand,
                format_args!("{code} is not a TRTC event this crate types"),
            ));
        };
        if kind.needs_user() && wire.info.user_id.is_none() {
            return Err(Rejection::with_detail(
                RejectionKind::MalformedBody,
                format_args!("missing field `UserId` in the EventInfo of {kind}"),
            ));
        }
        Ok(TrtcEvent {
            kind,
            callback_ts: wire.callback_ts,
            callback_ms_ts: wire.callback_ms_ts,
            info: wire.info,
        })
    }
}

impl<'de> Deserialize<'de> for TrtcEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(d)?;
        TrtcEvent::try_from(wire).map_err(de::Error::custom)
    }
}

impl Serialize for TrtcEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let code = self.code();
        let mut st = s.serialize_struct("TrtcEvent", 5)?;
        st.serialize_field("EventGroupId", &code.group)?;
        st.serialize_field("EventType", &code.event_type)?;
        match &self.callback_ts {
            Some(ts) => st.serialize_field("CallbackTs", ts)?,
            None => st.skip_field("CallbackTs")?,
        }
        match &self.callback_ms_ts {
            Some(ts) => st.serialize_field("CallbackMsTs", ts)?,
            None => st.skip_field("CallbackMsTs")?,
        }
        st.serialize_field("EventInfo", &self.info)?;
        st.end()
    }
}

impl crate::event::sealed::Sealed for TrtcEvent {}

/// A typed route for `TrtcEvent` takes every typed TRTC event (room and media); one for a single kind
/// is a raw route by its name (`on_command("TRTC.1.104", ...)`), decoding with `TrtcEvent::from_json`.
impl crate::event::Event for TrtcEvent {
    const COMMANDS: &'static [&'static str] = &[
        "TRTC.1.101",
        "TRTC.1.102",
        "TRTC.1.103",
        "TRTC.1.104",
        "TRTC.1.105",
        "TRTC.2.201",
        "TRTC.2.202",
        "TRTC.2.203",
        "TRTC.2.204",
        "TRTC.2.205",
        "TRTC.2.206",
    ];

    fn decode(
        meta: &crate::meta::CallbackMeta,
        body: &[u8],
        _max_members: usize,
    ) -> Result<TrtcEvent, Rejection> {
        let event = TrtcEvent::from_json(body)?;
        if EventCode::of(&meta.command) != Some(event.code()) {
            return Err(Rejection::new(RejectionKind::UnknownCommand));
        }
        Ok(event)
    }

    /// A string room ID (a numeric one has no string to lend: see [`TrtcEvent::room_id`]).
    fn room_id(&self) -> Option<&str> {
        self.info.room_id.as_string()
    }
}
