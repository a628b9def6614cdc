//! Typed **Live** (TUILiveKit) callback events: room members coming and going, rooms created, updated
//! and destroyed.
//!
//! ```
//! use tencent_room_callback::live::{LiveEvent, MemberEventCause, MemberEventType};
//!
//! // A member dropped after its heartbeat stopped, as Tencent sends it (the query may spell the
//! // command Live.CallbackMemberStateChanged: the same command).
//! let body = br#"{"CallbackCommand":"Live.CallbackAfterMemberStateChanged","RoomId":"live_1",
//!     "EventType":"Offline","EventCause":"HeartbeatInterrupt",
//!     "MemberList":[{"Member_Account":"jared"}],"EventTime":1703589922780}"#;
//!
//! let event = LiveEvent::from_json("Live.CallbackMemberStateChanged", body)?;
//! assert_eq!(event.command_name(), "Live.CallbackAfterMemberStateChanged");
//! let LiveEvent::MemberStateChanged(change) = event else { unreachable!() };
//! assert_eq!(change.event_type, MemberEventType::Offline);
//! assert_eq!(change.event_cause, Some(MemberEventCause::HeartbeatInterrupt));
//! assert_eq!(change.members[0].account, "jared");
//! assert_eq!(change.event_time.map(|t| t.as_millis()), Some(1703589922780));
//! # Ok::<(), tencent_room_callback::Rejection>(())
//! ```
//!
//! Live callbacks come to the app's one callback URL with Chat and Room ones, told apart by
//! `CallbackCommand`, with the same query, signature and acknowledgment. This module decodes four of
//! them the way the Room and Chat events are decoded: every documented field under an idiomatic name,
//! Tencent's quirks tolerated (an `Owner_Account` sent as a number keeps its exact digits, `EventTime`
//! as an integer or a numeric string, booleans as `"false"`), unknown fields ignored (or, in
//! [`LiveRoomInfo`], kept), unknown enum values kept, Tencent's field names when serialized back. Each
//! event requires only what every version of the docs shows: `EventTime` is optional everywhere (the
//! newest create-room sample has none, an older one puts it inside `RoomInfo`).
//!
//! | command | type |
//! |---|---|
//! | `Live.CallbackAfterMemberStateChanged` (also spelled `Live.CallbackMemberStateChanged`) | [`LiveMemberStateChanged`] |
//! | `Live.CallbackAfterCreateRoom` | [`LiveCreateRoom`] |
//! | `Live.CallbackAfterUpdateRoomInfo` | [`LiveUpdateRoomInfo`] |
//! | `Live.CallbackAfterDestroyRoom` | [`LiveDestroyRoom`] |
//!
//! [`LiveEvent`] holds any of them. All four are "after" callbacks: acknowledge them with the usual OK.
//! The two spellings of the member-state command are one command: a query with one and a body with the
//! other decode alike. For who left or entered which room, whatever the product, see the
//! [`departure`](crate::departure) module, which reads these callbacks (with or without this feature).
//! A live room's messages come as Chat's `Group.CallbackBeforeSendMsg` / `Group.CallbackAfterSendMsg`
//! (group type `Live`, `GroupId` the room), its seats as the Room's `Mic.CallbackAfterSeatInfoChanged`.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::command::{canonical_name, same_command};
use crate::event::decode_json;
use crate::reject::{Rejection, RejectionKind};
use crate::value::EventTime;

mod member;
mod room;
#[cfg(test)]
mod tests;

pub use member::{LiveMember, LiveMemberStateChanged, MemberEventCause, MemberEventType};
pub use room::{
    DestroyType, LiveCreateRoom, LiveDestroyRoom, LiveRoomInfo, LiveStatistic, LiveUpdateRoomInfo,
};

/// A Live event type's canonical command name, for [`Tag`].
trait Named {
    const NAME: &'static str;
}

/// The body's `CallbackCommand`: optional, but when present it must name the event's command (either
/// spelling of a command Tencent spells two ways). Serializes as the canonical name.
struct Tag<E>(PhantomData<fn() -> E>);

impl<E> Default for Tag<E> {
    fn default() -> Self {
        Tag(PhantomData)
    }
}
impl<E> Clone for Tag<E> {
    fn clone(&self) -> Self {
        Tag(PhantomData)
    }
}
impl<E> PartialEq for Tag<E> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<E> Eq for Tag<E> {}
impl<E: Named> fmt::Debug for Tag<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(E::NAME, f)
    }
}
impl<E: Named> Serialize for Tag<E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(E::NAME)
    }
}
impl<'de, E: Named> Deserialize<'de> for Tag<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<E>(PhantomData<fn() -> E>);
        impl<E: Named> serde::de::Visitor<'_> for V<E> {
            type Value = Tag<E>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the string {:?}", E::NAME)
            }
            fn visit_str<Er: serde::de::Error>(self, v: &str) -> Result<Tag<E>, Er> {
                if same_command(v, E::NAME) {
                    Ok(Tag(PhantomData))
                } else {
                    Err(Er::custom(format_args!(
                        "CallbackCommand in the body is {}, expected {:?}",
                        crate::value::Quoted(v),
                        E::NAME
                    )))
                }
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// Declares, for every Live event type, its `COMMAND` and `from_json`, the [`COMMANDS`] list and the
/// [`LiveEvent`] enum: adding a command adds one line here.
macro_rules! live_events {
    ($($variant:ident($ty:ident) => $name:literal),* $(,)?) => {
        $(
            impl $ty {
                #[doc = concat!("The canonical wire name of this callback: `", $name, "`.")]
                pub const COMMAND: &'static str = $name;

                /// Decodes the event from a callback body.
                ///
                /// # Errors
                /// A [`Rejection`] of kind [`RejectionKind::MalformedBody`] when the body is not a JSON
                /// object of this event's shape, or when its `CallbackCommand` names another command.
                pub fn from_json(body: &[u8]) -> Result<Self, Rejection> {
                    decode_json(body, crate::config::DEFAULT_MAX_MEMBERS)
                }
            }

            impl Named for $ty {
                const NAME: &'static str = $name;
            }

            impl From<$ty> for LiveEvent {
                fn from(e: $ty) -> LiveEvent {
                    LiveEvent::$variant(e)
                }
            }
        )*

        /// The canonical wire names of the Live commands this module decodes, in [`LiveEvent`]'s order.
        pub const COMMANDS: &[&str] = &[$($name),*];

        /// Any of the Live callback events this module decodes.
        ///
        /// Serializes as the inner event (which carries its `CallbackCommand`). Decode it with
        /// [`LiveEvent::from_json`], which needs the command from the query.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(untagged)]
        #[non_exhaustive]
        pub enum LiveEvent {
            $(
                #[doc = concat!("`", $name, "`: a [`", stringify!($ty), "`].")]
                $variant($ty),
            )*
        }

        impl LiveEvent {
            /// Decodes the body of a callback whose query named `command_name` (exact, case-sensitive,
            /// already percent-decoded; either spelling of `Live.CallbackAfterMemberStateChanged`).
            ///
            /// # Errors
            /// A [`Rejection`] of kind [`RejectionKind::UnknownCommand`] when `command_name` is not one
            /// of [`COMMANDS`] (or an alias of one); otherwise as that command's `from_json`
            /// ([`RejectionKind::MalformedBody`]).
            pub fn from_json(command_name: &str, body: &[u8]) -> Result<LiveEvent, Rejection> {
                match canonical_name(command_name) {
                    $( $name => $ty::from_json(body).map(LiveEvent::$variant), )*
                    _ => Err(Rejection::with_detail(
                        RejectionKind::UnknownCommand,
                        format_args!(
                            "{} is not a Live command this decoder handles",
                            crate::value::Quoted(command_name)
                        ),
                    )),
                }
            }

            /// The event's canonical wire command name, e.g. `Live.CallbackAfterDestroyRoom`.
            pub fn command_name(&self) -> &'static str {
                match self {
                    $( LiveEvent::$variant(_) => $name, )*
                }
            }
        }
    };
}

live_events!(
    MemberStateChanged(LiveMemberStateChanged) => "Live.CallbackAfterMemberStateChanged",
    CreateRoom(LiveCreateRoom) => "Live.CallbackAfterCreateRoom",
    UpdateRoomInfo(LiveUpdateRoomInfo) => "Live.CallbackAfterUpdateRoomInfo",
    DestroyRoom(LiveDestroyRoom) => "Live.CallbackAfterDestroyRoom",
);

impl crate::value::Lists for LiveMemberStateChanged {
    const LISTS: &'static [&'static str] = &["MemberList"];
}
impl crate::value::Lists for LiveCreateRoom {
    const LISTS: &'static [&'static str] = &["Category"];
}
impl crate::value::Lists for LiveUpdateRoomInfo {
    const LISTS: &'static [&'static str] = &["Category"];
}
impl crate::value::Lists for LiveDestroyRoom {
    const LISTS: &'static [&'static str] = &["Category"];
}

impl LiveEvent {
    /// The room the event is about, when the body names it (a create or update event's `RoomInfo` may
    /// leave `RoomId` out).
    pub fn room_id(&self) -> Option<&str> {
        match self {
            LiveEvent::MemberStateChanged(e) => Some(&e.room_id),
            LiveEvent::CreateRoom(e) => e.room_info.room_id.as_deref(),
            LiveEvent::UpdateRoomInfo(e) => e.room_info.room_id.as_deref(),
            LiveEvent::DestroyRoom(e) => Some(&e.room_id),
        }
    }

    /// When the event happened, when the body says (`EventTime`, optional in every Live callback).
    pub fn event_time(&self) -> Option<EventTime> {
        match self {
            LiveEvent::MemberStateChanged(e) => e.event_time,
            LiveEvent::CreateRoom(e) => e.event_time,
            LiveEvent::UpdateRoomInfo(e) => e.event_time,
            LiveEvent::DestroyRoom(e) => e.event_time,
        }
    }
}
