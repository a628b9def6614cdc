//! Typed Room callback events and their field types.
//!
//! One struct per command (re-exported at the crate root), each with every documented field under an
//! idiomatic name, decoded tolerantly (see [`AccountId`] and [`EventTime`]) and serialized back with
//! Tencent's own field names. [`RoomEvent`] holds any of them; [`EventKey`] identifies one event across
//! Tencent's retries.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::command::Command;
use crate::config::DEFAULT_MAX_MEMBERS;
use crate::meta::CallbackMeta;
use crate::reject::{Rejection, RejectionKind};
use crate::value::Lists;

mod member;
mod room;
mod seat;

pub use member::{EnterType, LeaveType, MemberEnter, MemberLeave};
pub use room::{
    CreateRoom, DestroyRoom, RoomInfo, RoomStatus, RoomType, TakeSeatMode, UpdateRoomInfo,
};
pub use seat::{Seat, SeatInfoChanged};

pub use crate::value::{AccountId, EventTime, UnixSeconds};

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// An event type a callback decodes as: what a typed route ([`CallbackLayer::on`],
/// [`CallbackLayer::extension`]) and [`Config::decode`] take.
///
/// Implemented by the six Room events (each for its own command), by [`RoomEvent`] (for all six), and by
/// the crate's other typed events. Sealed.
///
/// [`CallbackLayer::on`]: crate::CallbackLayer::on
/// [`CallbackLayer::extension`]: crate::CallbackLayer::extension
/// [`Config::decode`]: crate::Config::decode
pub trait Event: sealed::Sealed + Serialize + fmt::Debug + Clone + Send + Sync + 'static {
    /// The wire names of the commands whose callbacks decode as this event (every accepted spelling).
    const COMMANDS: &'static [&'static str];

    /// Decodes the body of a verified callback (its command one of [`COMMANDS`](Self::COMMANDS)),
    /// refusing any list of more than `max_members` entries before building it.
    ///
    /// # Errors
    /// A [`Rejection`] of kind [`RejectionKind::MalformedBody`] when the body is not a JSON object of
    /// this event's shape, names another command in its `CallbackCommand`, or holds a longer list;
    /// [`RejectionKind::UnknownCommand`] for a command this event does not take.
    fn decode(meta: &CallbackMeta, body: &[u8], max_members: usize) -> Result<Self, Rejection>;

    /// The room the event is about, when it names one.
    fn room_id(&self) -> Option<&str>;

    /// The key that identifies this event's content across Tencent's retries: see [`EventKey`].
    fn event_key(&self) -> EventKey {
        EventKey::of(self)
    }
}

/// Decodes a JSON object body into `T`, refusing anything that is not an object, and any list `T` builds
/// of more than `max_members` entries (before building it: see
/// [`check_lists`](crate::value::check_lists)).
pub(crate) fn decode_json<T: DeserializeOwned + Lists>(
    body: &[u8],
    max_members: usize,
) -> Result<T, Rejection> {
    crate::value::check_lists(body, max_members, T::LISTS)?;
    decode_object(body)
}

/// Decodes a JSON object body into `T`, refusing anything that is not an object; no list is bounded (for
/// a type of the user's, or one that builds no list).
pub(crate) fn decode_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, Rejection> {
    check_object(body)?;
    // The error's text is read only as far as a rejection keeps it (200 bytes, cut with a mark): a
    // decoder's message may quote the body at length, and need not be copied whole to be cut.
    serde_json::from_slice(body).map_err(|e| {
        Rejection::with_detail(RejectionKind::MalformedBody, crate::value::capped(e, 256))
    })
}

/// Refuses a body that does not start as a JSON object (serde's derive would also accept a JSON array,
/// fields by position: only an object is a callback), with what it is instead.
pub(crate) fn check_object(body: &[u8]) -> Result<(), Rejection> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => {
            return Err(Rejection::with_detail(
                RejectionKind::MalformedBody,
                "body is empty",
            ))
        }
        Some(_) => {
            return Err(Rejection::with_detail(
                RejectionKind::MalformedBody,
                "body is not a JSON object",
            ))
        }
    }
    Ok(())
}

/// The body's `CallbackCommand`: optional, but when present it must name the event's command (any of its
/// accepted spellings). Serializes as the canonical name.
pub(crate) struct CommandTag<E>(PhantomData<fn() -> E>);

impl<E> Default for CommandTag<E> {
    fn default() -> Self {
        CommandTag(PhantomData)
    }
}
impl<E> Clone for CommandTag<E> {
    fn clone(&self) -> Self {
        CommandTag(PhantomData)
    }
}
impl<E> PartialEq for CommandTag<E> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<E> Eq for CommandTag<E> {}
/// A Room event's own command, for its [`CommandTag`].
pub(crate) trait Tagged {
    const COMMAND: Command;
}
impl<E: Tagged> fmt::Debug for CommandTag<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(E::COMMAND.name(), f)
    }
}
impl<E: Tagged> Serialize for CommandTag<E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(E::COMMAND.name())
    }
}
impl<'de, E: Tagged> Deserialize<'de> for CommandTag<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<E>(PhantomData<fn() -> E>);
        impl<E: Tagged> serde::de::Visitor<'_> for V<E> {
            type Value = CommandTag<E>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the string {:?}", E::COMMAND.name())
            }
            fn visit_str<Er: serde::de::Error>(self, v: &str) -> Result<CommandTag<E>, Er> {
                if E::COMMAND.names().contains(&v) {
                    Ok(CommandTag(PhantomData))
                } else {
                    Err(Er::custom(format_args!(
                        "CallbackCommand in the body is {}, the query says {:?}",
                        crate::value::Quoted(v),
                        E::COMMAND.name()
                    )))
                }
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// The key of one event's content, for de-duplicating Tencent's retries by what they say.
///
/// Tencent sends no event ID and may deliver an event more than once. The key is the first 128 bits of
/// SHA-256 over the event's canonical serialization: every documented field, with Tencent's names, in a
/// fixed order, account IDs as strings, and the canonical command name. It is therefore
///
/// - **stable across retries** of the same event, even when a retry orders its JSON fields differently,
///   sends an account ID as a number instead of a string, adds fields this crate does not know, or uses
///   the older command name;
/// - **different for different events**: any documented field that differs (room, time, members, type,
///   reason...) gives another key.
///
/// It is printed as 32 lowercase hex digits.
///
/// The other key is [`DeliveryKey`](crate::meta::DeliveryKey): a digest of one delivery as received
/// (its app, command and body bytes), which needs no decoding and is what [`Dedup`](crate::Dedup) and
/// the inbox crate go by. Use `EventKey` when copies of one event may differ in their bytes (fields in
/// another order, an account ID as a number in one and a string in the other).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey([u8; 16]);

impl EventKey {
    /// The key of `event`.
    pub fn of<E: Event>(event: &E) -> EventKey {
        EventKey::digest(event)
    }

    /// The key of any serializable value: the first 128 bits of SHA-256 over its JSON serialization
    /// (what [`of`](Self::of) does for an event; the departure module's keys too).
    pub(crate) fn digest<T: Serialize + ?Sized>(value: &T) -> EventKey {
        let mut hasher = HashWriter(Sha256::new());
        // Serializing a typed value into a hasher cannot fail: no map with non-string keys, no I/O.
        let _ = serde_json::to_writer(&mut hasher, value);
        let digest = hasher.0.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        EventKey(key)
    }

    /// The key's 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The key with these 16 bytes (as [`as_bytes`](Self::as_bytes) gave them).
    pub const fn from_bytes(bytes: [u8; 16]) -> EventKey {
        EventKey(bytes)
    }
}

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventKey({self})")
    }
}

/// Declares `RoomEvent` over every event type: adding a command adds one line here.
macro_rules! room_events {
    ($($variant:ident),* $(,)?) => {
        /// Any Room callback event.
        ///
        /// Serializes as the inner event (which carries its `CallbackCommand`). Decode it with
        /// [`RoomEvent::from_json`], which needs the command from the query.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(untagged)]
        #[non_exhaustive]
        pub enum RoomEvent {
            $(
                #[doc = concat!("A [`", stringify!($variant), "`] event.")]
                $variant($variant),
            )*
        }

        impl RoomEvent {
            /// Decodes the body of a callback whose query named `command`, with lists bounded by
            /// [`Config::DEFAULT_MAX_MEMBERS`](crate::Config::DEFAULT_MAX_MEMBERS).
            ///
            /// # Errors
            /// As [`Event::decode`] for that command's event.
            pub fn from_json(command: Command, body: &[u8]) -> Result<RoomEvent, Rejection> {
                RoomEvent::bounded(command, body, DEFAULT_MAX_MEMBERS)
            }

            fn bounded(command: Command, body: &[u8], max: usize) -> Result<RoomEvent, Rejection> {
                match command {
                    $( Command::$variant => decode_json(body, max).map(RoomEvent::$variant), )*
                }
            }

            /// The event's command.
            pub fn command(&self) -> Command {
                match self {
                    $( RoomEvent::$variant(_) => Command::$variant, )*
                }
            }

            /// The room the event is about, when it names one.
            pub fn room_id(&self) -> Option<&str> {
                match self {
                    $( RoomEvent::$variant(e) => Event::room_id(e), )*
                }
            }

            /// When the event happened.
            pub fn event_time(&self) -> EventTime {
                match self {
                    $( RoomEvent::$variant(e) => e.event_time(), )*
                }
            }

            /// The event's [`EventKey`].
            pub fn event_key(&self) -> EventKey {
                match self {
                    $( RoomEvent::$variant(e) => e.event_key(), )*
                }
            }
        }

        impl sealed::Sealed for RoomEvent {}
        impl Event for RoomEvent {
            const COMMANDS: &'static [&'static str] = &[
                "Room.CallbackAfterCreateRoom",
                "Room.CallbackAfterDestroyRoom",
                "Room.CallbackAfterUpdateRoomInfo",
                "Room.CallbackUpdateRoomInfo",
                "Room.CallbackAfterMemberEnter",
                "Room.CallbackAfterMemberLeave",
                "Mic.CallbackAfterSeatInfoChanged",
            ];
            fn decode(
                meta: &CallbackMeta,
                body: &[u8],
                max_members: usize,
            ) -> Result<RoomEvent, Rejection> {
                let typed = meta
                    .command
                    .typed()
                    .ok_or(Rejection::new(RejectionKind::UnknownCommand))?;
                RoomEvent::bounded(typed, body, max_members)
            }
            fn room_id(&self) -> Option<&str> {
                RoomEvent::room_id(self)
            }
        }

        $(
            impl From<$variant> for RoomEvent {
                fn from(e: $variant) -> RoomEvent {
                    RoomEvent::$variant(e)
                }
            }
        )*
    };
}

room_events!(
    CreateRoom,
    DestroyRoom,
    UpdateRoomInfo,
    MemberEnter,
    MemberLeave,
    SeatInfoChanged
);

/// Implements [`Event`] for a Room event struct, with its own command, the lists it builds, `from_json`
/// and `event_time`.
macro_rules! impl_event {
    ($ty:ident, $cmd:ident, [$($list:literal),*], |$e:ident| $room:expr) => {
        impl Lists for $ty {
            const LISTS: &'static [&'static str] = &[$($list),*];
        }
        impl sealed::Sealed for $ty {}
        impl Tagged for $ty {
            const COMMAND: Command = Command::$cmd;
        }
        impl Event for $ty {
            const COMMANDS: &'static [&'static str] = Command::$cmd.names();
            fn decode(
                meta: &CallbackMeta,
                body: &[u8],
                max_members: usize,
            ) -> Result<$ty, Rejection> {
                if meta.command != Command::$cmd {
                    return Err(Rejection::new(RejectionKind::UnknownCommand));
                }
                decode_json(body, max_members)
            }
            fn room_id(&self) -> Option<&str> {
                let $e = self;
                $room
            }
        }
        impl $ty {
            #[doc = concat!("The command of this event: `", stringify!($cmd), "`.")]
            pub const COMMAND: Command = Command::$cmd;

            /// Decodes the event from a callback body, with lists bounded by
            /// [`Config::DEFAULT_MAX_MEMBERS`](crate::Config::DEFAULT_MAX_MEMBERS) (the layer applies
            /// [`Config::max_members`](crate::Config::max_members); so does [`Event::decode`] with the
            /// bound it is given).
            ///
            /// # Errors
            /// A [`Rejection`] of kind [`RejectionKind::MalformedBody`] when the body is not a JSON
            /// object of this event's shape, names another command in its `CallbackCommand`, or holds a
            /// longer list.
            pub fn from_json(body: &[u8]) -> Result<$ty, Rejection> {
                decode_json(body, DEFAULT_MAX_MEMBERS)
            }

            /// When the event happened.
            pub fn event_time(&self) -> EventTime {
                self.event_time
            }
        }
    };
}

impl_event!(MemberLeave, MemberLeave, ["MemberList_Account"], |e| Some(
    &e.room_id
));
impl_event!(MemberEnter, MemberEnter, ["MemberList_Account"], |e| Some(
    &e.room_id
));
impl_event!(DestroyRoom, DestroyRoom, [], |e| Some(&e.room_id));
impl_event!(SeatInfoChanged, SeatInfoChanged, ["SeatList"], |e| Some(
    &e.room_id
));
impl_event!(
    CreateRoom,
    CreateRoom,
    ["ScheduleInviteeList_Account"],
    |e| e.room_info.room_id.as_deref()
);
impl_event!(UpdateRoomInfo, UpdateRoomInfo, [], |e| e
    .room_info
    .room_id
    .as_deref());
