//! Typed Tencent **Chat** (IM) callback events, and the typed answer to the two before-send callbacks.
//!
//! An SDKAppID has one callback URL for Chat, Room and Live: a real receiver gets all of them, told apart
//! only by the `CallbackCommand` query parameter, with the same query, signature and acknowledgment. This
//! module decodes seven Chat commands the way the Room events are decoded: every documented field under an
//! idiomatic name, Tencent's quirks tolerated (account IDs as big JSON integers keep their exact digits,
//! `EventTime` as an integer or a numeric string, `OnlineOnlyFlag` as `0`/`1`), unknown fields ignored,
//! unknown enum values kept, and Tencent's field names when serialized back. Each event requires only
//! what every version of Tencent's backend sends: older deployments send no `EventTime` (so it is an
//! `Option` everywhere) and report a dropped connection as `Logout` rather than `Disconnect` (see
//! [`StateChangeInfo::is_connection_lost`]).
//!
//! | command | type |
//! |---|---|
//! | `State.StateChange` | [`StateChange`] |
//! | `C2C.CallbackBeforeSendMsg` | [`C2cBeforeSendMsg`] (answer with a [`SendMsgAnswer`]) |
//! | `C2C.CallbackAfterSendMsg` | [`C2cAfterSendMsg`] |
//! | `Group.CallbackBeforeSendMsg` | [`GroupBeforeSendMsg`] (answer with a [`SendMsgAnswer`]) |
//! | `Group.CallbackAfterSendMsg` | [`GroupAfterSendMsg`] |
//! | `Group.CallbackAfterNewMemberJoin` | [`GroupAfterNewMemberJoin`] |
//! | `Group.CallbackAfterMemberExit` | [`GroupAfterMemberExit`] |
//!
//! [`ChatEvent`] holds any of them. "After" callbacks are acknowledged like Room ones (Tencent ignores the
//! answer's content); a before-send callback's answer carries a [`SendDecision`].
//!
//! ```
//! use tencent_room_callback::chat::{ChatEvent, GroupType, RefusalCode, SendDecision, SendMsgAnswer};
//!
//! // Group.CallbackBeforeSendMsg, with its EventTime sent as a string as Tencent's sample does.
//! let body = br#"{"CallbackCommand":"Group.CallbackBeforeSendMsg","GroupId":"@TGS#2J4SZEAEL",
//!     "Type":"Community","From_Account":"jared","Operator_Account":"admin","Random":123456,
//!     "OnlineOnlyFlag":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}],
//!     "EventTime":"1670574414123"}"#;
//!
//! let event = ChatEvent::from_json("Group.CallbackBeforeSendMsg", body)?;
//! assert_eq!(event.command_name(), "Group.CallbackBeforeSendMsg");
//! let ChatEvent::GroupBeforeSendMsg(msg) = event else { unreachable!() };
//! assert_eq!(msg.group_type, Some(GroupType::Community));
//! assert_eq!(msg.event_time.map(|t| t.as_millis()), Some(1670574414123));
//!
//! // Refuse red packets and tell the sender why; let everything else through.
//! let answer = if msg.msg_body.iter().any(|e| e.as_text() == Some("red packet")) {
//!     SendMsgAnswer::new(SendDecision::refuse_with(RefusalCode::group(10150)?, "no red packets"))
//! } else {
//!     SendMsgAnswer::allow()
//! };
//! assert_eq!(
//!     &answer.to_bytes()[..],
//!     br#"{"ActionStatus":"OK","ErrorInfo":"no red packets","ErrorCode":10150}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::decode_json;
use crate::reject::{Rejection, RejectionKind};
use crate::value::EventTime;

mod answer;
mod c2c;
mod group;
mod msg;
mod state;
#[cfg(test)]
mod tests;

pub use answer::{RefusalCode, RefusalCodeError, SendDecision, SendMsgAnswer};
pub use c2c::{C2cAfterSendMsg, C2cBeforeSendMsg};
pub use group::{
    ExitType, GroupAfterMemberExit, GroupAfterNewMemberJoin, GroupAfterSendMsg, GroupBeforeSendMsg,
    GroupMember, GroupType, JoinType,
};
pub use msg::MsgElement;
pub use state::{KickedDevice, StateAction, StateChange, StateChangeInfo, StateReason};

/// A Chat event type's wire command name, for [`Tag`].
trait Named {
    const NAME: &'static str;
}

/// The body's `CallbackCommand`: optional, but when present it must be exactly the event's command.
/// Serializes as that command.
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
                if v == E::NAME {
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

/// `deserialize_with` / `serialize_with` helpers for the Chat fields' wire shapes.
mod flex {
    use std::fmt;

    use serde::de::{self, Deserializer, Unexpected, Visitor};
    use serde::{Deserialize, Serializer};

    use crate::value::FlexU64;

    pub(super) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        FlexU64::deserialize(d).map(|v| v.0)
    }

    pub(super) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(Option::<FlexU64>::deserialize(d)?.map(|v| v.0))
    }

    /// A signed integer sent as a JSON integer or as a string of ASCII digits with an optional `-`.
    struct FlexI64(i64);

    impl<'de> Deserialize<'de> for FlexI64 {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = FlexI64;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an integer (or a string of digits)")
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<FlexI64, E> {
                    Ok(FlexI64(v))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<FlexI64, E> {
                    i64::try_from(v)
                        .map(FlexI64)
                        .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<FlexI64, E> {
                    let digits = v.strip_prefix('-').unwrap_or(v);
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(E::invalid_value(crate::value::unexpected_str(v), &self));
                    }
                    v.parse()
                        .map(FlexI64)
                        .map_err(|_| E::invalid_value(crate::value::unexpected_str(v), &self))
                }
            }
            d.deserialize_any(V)
        }
    }

    pub(super) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(Option::<FlexI64>::deserialize(d)?.map(|v| v.0))
    }

    /// `OnlineOnlyFlag`: documented as the integer `1` or `0`; `"1"`/`"0"` and booleans are accepted too.
    /// Any other value is refused rather than guessed.
    pub(super) fn online_flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0 or 1")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
                match v {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
                match v {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(E::invalid_value(Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
                match v {
                    "0" => Ok(false),
                    "1" => Ok(true),
                    _ => Err(E::invalid_value(crate::value::unexpected_str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }

    /// Serializes `OnlineOnlyFlag` as the documented integer.
    pub(super) fn ser_online_flag<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(u8::from(*v))
    }
}

/// Declares, for every Chat event type, its `COMMAND` and `from_json`, the [`COMMANDS`] list and the
/// [`ChatEvent`] enum: adding a command adds one line here.
macro_rules! chat_events {
    ($($variant:ident => $name:literal),* $(,)?) => {
        $(
            impl $variant {
                #[doc = concat!("The wire name of this callback: `", $name, "`.")]
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

            impl Named for $variant {
                const NAME: &'static str = $name;
            }

            impl From<$variant> for ChatEvent {
                fn from(e: $variant) -> ChatEvent {
                    ChatEvent::$variant(e)
                }
            }
        )*

        /// The wire names of the Chat commands this module decodes, in [`ChatEvent`]'s order.
        pub const COMMANDS: &[&str] = &[$($name),*];

        /// Any of the Chat callback events this module decodes.
        ///
        /// Serializes as the inner event (which carries its `CallbackCommand`). Decode it with
        /// [`ChatEvent::from_json`], which needs the command from the query.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(untagged)]
        #[non_exhaustive]
        pub enum ChatEvent {
            $(
                #[doc = concat!("`", $name, "`: a [`", stringify!($variant), "`].")]
                $variant($variant),
            )*
        }

        impl ChatEvent {
            /// Decodes the body of a callback whose query named `command_name` (exact, case-sensitive,
            /// already percent-decoded).
            ///
            /// # Errors
            /// A [`Rejection`] of kind [`RejectionKind::UnknownCommand`] when `command_name` is not in
            /// [`COMMANDS`]; otherwise as that command's `from_json` ([`RejectionKind::MalformedBody`]).
            pub fn from_json(command_name: &str, body: &[u8]) -> Result<ChatEvent, Rejection> {
                match command_name {
                    $( $name => $variant::from_json(body).map(ChatEvent::$variant), )*
                    _ => Err(Rejection::with_detail(
                        RejectionKind::UnknownCommand,
                        format_args!("{command_name:?} is not a Chat command this decoder handles"),
                    )),
                }
            }

            /// The event's wire command name, e.g. `State.StateChange`.
            pub fn command_name(&self) -> &'static str {
                match self {
                    $( ChatEvent::$variant(_) => $name, )*
                }
            }
        }
    };
}

chat_events!(
    StateChange => "State.StateChange",
    C2cBeforeSendMsg => "C2C.CallbackBeforeSendMsg",
    C2cAfterSendMsg => "C2C.CallbackAfterSendMsg",
    GroupBeforeSendMsg => "Group.CallbackBeforeSendMsg",
    GroupAfterSendMsg => "Group.CallbackAfterSendMsg",
    GroupAfterNewMemberJoin => "Group.CallbackAfterNewMemberJoin",
    GroupAfterMemberExit => "Group.CallbackAfterMemberExit",
);

/// The lists each Chat event builds, bounded before it is decoded.
macro_rules! lists {
    ($($ty:ident => [$($list:literal),*]),* $(,)?) => {
        $(impl crate::value::Lists for $ty {
            const LISTS: &'static [&'static str] = &[$($list),*];
        })*
    };
}

lists!(
    StateChange => ["KickedDevice"],
    C2cBeforeSendMsg => ["MsgBody"],
    C2cAfterSendMsg => ["MsgBody"],
    GroupBeforeSendMsg => ["MsgBody"],
    GroupAfterSendMsg => ["MsgBody"],
    GroupAfterNewMemberJoin => ["NewMemberList"],
    GroupAfterMemberExit => ["ExitMemberList"],
);

impl ChatEvent {
    /// When the event happened, when the body says (`EventTime`: Tencent's message samples omit it, and
    /// older deployments send none with any command).
    pub fn event_time(&self) -> Option<EventTime> {
        match self {
            ChatEvent::StateChange(e) => e.event_time,
            ChatEvent::C2cBeforeSendMsg(e) => e.event_time,
            ChatEvent::C2cAfterSendMsg(e) => e.event_time,
            ChatEvent::GroupBeforeSendMsg(e) => e.event_time,
            ChatEvent::GroupAfterSendMsg(e) => e.event_time,
            ChatEvent::GroupAfterNewMemberJoin(e) => e.event_time,
            ChatEvent::GroupAfterMemberExit(e) => e.event_time,
        }
    }

    /// Whether this is a before-send callback, whose answer decides the message's fate (answer it with a
    /// [`SendMsgAnswer`]); every other command only needs the OK acknowledgment.
    pub fn wants_send_decision(&self) -> bool {
        matches!(
            self,
            ChatEvent::C2cBeforeSendMsg(_) | ChatEvent::GroupBeforeSendMsg(_)
        )
    }
}
