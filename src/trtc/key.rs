//! The de-duplication key of a TRTC callback: the event, not the delivery.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::meta::DeliveryKey;
use crate::reject::Rejection;
use crate::value::{flex, FlexU64};

use super::event::{EventCode, RoomId, TrtcEvent};
use crate::value::AccountId;

/// The domain of version 1 of the TRTC key.
const DOMAIN: &[u8] = b"tencent-room-callback/trtc-key/1\0";

/// The room part of a key.
pub(crate) enum Room<'a> {
    Number(u64),
    String(Cow<'a, str>),
    None,
}

impl<'a> Room<'a> {
    pub(crate) fn of(room: &'a RoomId) -> Room<'a> {
        match room {
            RoomId::Number(n) => Room::Number(*n),
            RoomId::String(s) => Room::String(Cow::Borrowed(s)),
        }
    }
}

/// The time part of a key: `EventMsTs`, else `EventTs`.
pub(crate) enum Time {
    Millis(u64),
    Secs(u64),
    None,
}

/// A length-prefixed byte string.
fn bytes(h: &mut Sha256, tag: u8, b: &[u8]) {
    h.update([tag]);
    h.update((b.len() as u64).to_le_bytes());
    h.update(b);
}

fn head(sdk_app_id: u64, code: EventCode) -> Sha256 {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(sdk_app_id.to_le_bytes());
    h.update(code.group().to_le_bytes());
    h.update(code.event_type().to_le_bytes());
    h
}

/// The key of a room or media event by its identifying fields.
pub(crate) fn typed(
    sdk_app_id: u64,
    code: EventCode,
    room: Room<'_>,
    user: Option<&str>,
    time: Time,
) -> DeliveryKey {
    let mut h = head(sdk_app_id, code);
    h.update([b'T']);
    match room {
        Room::Number(n) => {
            h.update([b'n']);
            h.update(n.to_le_bytes());
        }
        Room::String(s) => bytes(&mut h, b's', s.as_bytes()),
        Room::None => h.update([b'-']),
    }
    match user {
        Some(user) => bytes(&mut h, b'u', user.as_bytes()),
        None => h.update([b'-']),
    }
    match time {
        Time::Millis(ms) => {
            h.update([b'm']);
            h.update(ms.to_le_bytes());
        }
        Time::Secs(s) => {
            h.update([b's']);
            h.update(s.to_le_bytes());
        }
        Time::None => h.update([b'-']),
    }
    DeliveryKey::from_digest(&h.finalize())
}

impl TrtcEvent {
    /// The key of this event for app `sdk_app_id`: the same as
    /// [`delivery_key`](delivery_key) gives for the body it was decoded from.
    pub fn delivery_key(&self, sdk_app_id: u64) -> DeliveryKey {
        let time = match (self.info.event_ms_ts, self.info.event_ts) {
            (Some(ms), _) => Time::Millis(ms.as_millis()),
            (None, Some(s)) => Time::Secs(s.as_secs()),
            (None, None) => Time::None,
        };
        typed(
            sdk_app_id,
            self.code(),
            Room::of(&self.info.room_id),
            self.info.user_id.as_ref().map(AccountId::as_str),
            time,
        )
    }
}

/// The key of any other event: its `EventInfo` as sent, byte for byte.
fn raw(sdk_app_id: u64, code: EventCode, info: Option<&RawValue>) -> DeliveryKey {
    let mut h = head(sdk_app_id, code);
    h.update([b'R']);
    match info {
        Some(info) => bytes(&mut h, b'i', info.get().as_bytes()),
        None => h.update([b'-']),
    }
    DeliveryKey::from_digest(&h.finalize())
}

/// What the key reads of a body.
#[derive(Deserialize)]
struct KeyWire<'a> {
    #[serde(rename = "EventGroupId", deserialize_with = "flex::u32")]
    group: u32,
    #[serde(rename = "EventType", deserialize_with = "flex::u32")]
    event_type: u32,
    #[serde(rename = "EventInfo", borrow, default)]
    info: Option<&'a RawValue>,
}

/// What the key reads of a room or media event's `EventInfo`.
#[derive(Deserialize)]
struct KeyInfo<'a> {
    #[serde(rename = "RoomId", borrow, default)]
    room: Option<KeyRoom<'a>>,
    #[serde(rename = "UserId", borrow, default)]
    user: Option<KeyText<'a>>,
    #[serde(rename = "EventMsTs", default)]
    ms: Option<FlexU64>,
    #[serde(rename = "EventTs", default)]
    secs: Option<FlexU64>,
}

/// A room ID as [`RoomId`] decodes it, borrowed when it can be.
struct KeyRoom<'a>(Room<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for KeyRoom<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyRoom<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a room ID")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyRoom<'de>, E> {
                Ok(KeyRoom(Room::Number(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyRoom<'de>, E> {
                u64::try_from(v)
                    .map(|v| KeyRoom(Room::Number(v)))
                    .map_err(|_| E::custom("a negative room ID"))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<KeyRoom<'de>, E> {
                Ok(KeyRoom(Room::String(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyRoom<'de>, E> {
                Ok(KeyRoom(Room::String(Cow::Owned(v.to_owned()))))
            }
        }
        d.deserialize_any(V)
    }
}

/// An account ID as [`AccountId`](crate::event::AccountId) decodes it (a string, or an integer's
/// digits), borrowed when it can be.
struct KeyText<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for KeyText<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an account ID")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Owned(v.to_string())))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_any(V)
    }
}

/// The de-duplication key of a TRTC callback of app `sdk_app_id` whose body is `body`: the **event**,
/// not the delivery.
///
/// Tencent retries a TRTC callback for a minute and a retry may carry a new `CallbackTs`, so a digest
/// of the body would tell copies apart. This key leaves the callback's own time out:
///
/// - **room and media events** (groups 1 and 2): the app, `EventGroupId`, `EventType`, `RoomId`
///   (a number and a string of the same digits are different rooms, as in TRTC), `UserId` and
///   `EventMsTs` (else `EventTs`), as protocol.md §7 identifies an event, read from the raw body
///   without decoding a [`TrtcEvent`](super::TrtcEvent) (whose
///   [`delivery_key`](super::TrtcEvent::delivery_key) is the same). A field that is absent is keyed
///   as absent. Stable across the fields' order, white space, a `UserId` or a time sent as a number
///   or a string; different when the app, the type, the room, the user or the event time differ.
/// - **every other group** (recording, stream ingest, AI, moderation...), whose identifying fields
///   this crate does not know, and a room or media event whose identifying fields are not of the
///   documented types: the app, `EventGroupId`, `EventType` and the `EventInfo` object byte for byte
///   as sent (a retry re-sends it unchanged; two events never share a key unless their whole
///   `EventInfo` is the same).
///
/// Returns a [`DeliveryKey`] (version 1 of the TRTC key: the first 16 bytes of SHA-256 over a
/// domain tag and the length-prefixed parts), the type the layer's de-duplication and the inbox use.
///
/// # Errors
/// [`RejectionKind::MalformedBody`](crate::RejectionKind::MalformedBody) when the body is not a JSON
/// object with `EventGroupId` and `EventType`: never for a body [`verify`](super::verify) accepted.
pub fn delivery_key(sdk_app_id: u64, body: &[u8]) -> Result<DeliveryKey, Rejection> {
    let wire: KeyWire<'_> = super::decode_object(body)?;
    let code = EventCode::new(wire.group, wire.event_type);
    if matches!(code.group(), 1 | 2) {
        // An object only: `EventInfo` as a list of fields is not a room or media event's.
        let parts = wire
            .info
            .filter(|info| info.get().starts_with('{'))
            .and_then(|info| serde_json::from_str::<KeyInfo<'_>>(info.get()).ok());
        if let Some(parts) = parts {
            let time = match (parts.ms, parts.secs) {
                (Some(ms), _) => Time::Millis(ms.0),
                (None, Some(s)) => Time::Secs(s.0),
                (None, None) => Time::None,
            };
            let room = parts.room.map_or(Room::None, |r| r.0);
            let user = parts.user.as_ref().map(|u| &*u.0);
            return Ok(typed(sdk_app_id, code, room, user, time));
        }
    }
    Ok(raw(sdk_app_id, code, wire.info))
}
