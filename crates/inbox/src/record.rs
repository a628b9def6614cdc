//! What an inbox stores for a callback, and its encoding in a store: a small JSON header (version 1),
//! then the body bytes as received.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use tencent_room_callback::event::UnixSeconds;
use tencent_room_callback::meta::{ClientIp, DeliveryKey, OptPlatform};
use tencent_room_callback::{CallbackCommand, CallbackMeta, RawCallback};

/// The ID of an event in its inbox: a sequence number in the embedded and memory stores, a stream
/// entry ID (`1700000000000-0`) on Redis. Printed as text and parsed back with [`str::parse`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub(crate) Repr);

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Repr {
    Seq(u64),
    Text(Box<str>),
}

impl EventId {
    pub(crate) fn seq(seq: u64) -> Self {
        EventId(Repr::Seq(seq))
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn text(text: &str) -> Self {
        text.parse()
            .unwrap_or_else(|_| EventId(Repr::Text(text.into())))
    }

    pub(crate) fn as_seq(&self) -> Option<u64> {
        match self.0 {
            Repr::Seq(seq) => Some(seq),
            Repr::Text(_) => None,
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Seq(seq) => write!(f, "{seq}"),
            Repr::Text(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

/// The error of parsing an empty [`EventId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyEventId;

impl fmt::Display for EmptyEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event ID is not empty")
    }
}

impl std::error::Error for EmptyEventId {}

impl FromStr for EventId {
    type Err = EmptyEventId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(EmptyEventId);
        }
        Ok(match s.parse::<u64>() {
            Ok(seq) if !s.starts_with('+') => EventId::seq(seq),
            _ => EventId(Repr::Text(s.into())),
        })
    }
}

/// A verified callback to store.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) meta: CallbackMeta,
    pub(crate) body: Bytes,
    pub(crate) key: DeliveryKey,
    pub(crate) received_at: SystemTime,
    /// `RoomId`'s (else `GroupId`'s) JSON text, for per-room order.
    pub(crate) room: Option<Box<str>>,
    /// How long the key is remembered; `None`: no de-duplication.
    pub(crate) dedup_ttl: Option<Duration>,
    /// The most events the store may hold for this one to be stored (`None`: no bound).
    pub(crate) max_pending: Option<u64>,
    /// The bound on lists the layer checked the body with: the workers decode with it too.
    pub(crate) max_members: usize,
}

/// A stored event: its ID, the callback, the attempts already made — as handed to a handler, the
/// hand-outs before this one; in a dead letter, every attempt — and the last error.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) id: EventId,
    pub(crate) record: Record,
    pub(crate) attempts: u32,
    pub(crate) error: Option<String>,
}

/// The longest room text kept for ordering; a longer one orders as "no room".
const MAX_ROOM: usize = 256;

impl Record {
    pub(crate) fn new(
        callback: RawCallback,
        received_at: SystemTime,
        dedup_ttl: Option<Duration>,
    ) -> Record {
        // The delivery's key: its app, command and bytes; a TRTC event's, the event's.
        let key = callback.key();
        let max_members = callback.max_members();
        let RawCallback { meta, body, .. } = callback;
        let room = room_of(&body);
        Record {
            meta,
            body,
            key,
            received_at,
            room,
            dedup_ttl,
            max_pending: None,
            max_members,
        }
    }

    /// The key as stored: a version byte, then the 16 bytes.
    pub(crate) fn stored_key(&self) -> [u8; 17] {
        let mut out = [0u8; 17];
        out[0] = 1;
        out[1..].copy_from_slice(self.key.as_bytes());
        out
    }
}

/// `RoomId`'s JSON text, else `GroupId`'s, else a TRTC event's `EventInfo.RoomId`, when the body is an
/// object with one of them.
fn room_of(body: &[u8]) -> Option<Box<str>> {
    #[derive(Deserialize)]
    struct Rooms<'a> {
        #[serde(rename = "RoomId", borrow, default)]
        room: Option<&'a RawValue>,
        #[serde(rename = "GroupId", borrow, default)]
        group: Option<&'a RawValue>,
        #[serde(rename = "EventInfo", borrow, default)]
        info: Option<Info<'a>>,
    }
    #[derive(Deserialize)]
    struct Info<'a> {
        #[serde(rename = "RoomId", borrow, default)]
        room: Option<&'a RawValue>,
    }
    let rooms: Rooms<'_> = serde_json::from_slice(body).ok()?;
    let text = rooms
        .room
        .or(rooms.group)
        .or(rooms.info.and_then(|info| info.room))?
        .get();
    (text.len() <= MAX_ROOM && text != "null").then(|| text.into())
}

/// Milliseconds since the epoch (0 before it).
pub(crate) fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    v: u8,
    app: u64,
    #[serde(borrow)]
    cmd: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    plat: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rt: Option<u64>,
    key: [u8; 16],
    recv: u64,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    room: Option<Cow<'a, str>>,
    #[serde(default)]
    att: u32,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    err: Option<Cow<'a, str>>,
    /// The bound on lists the layer checked the body with (absent in records of 0.2: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mm: Option<u64>,
}

/// Why stored bytes are not a record.
#[derive(Debug)]
pub(crate) struct Corrupt(pub(crate) &'static str);

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a stored event is corrupt: {}", self.0)
    }
}

impl std::error::Error for Corrupt {}

/// The attempts a stored record's header counts, read without decoding the rest (`None`: unreadable).
pub(crate) fn header_attempts(bytes: &[u8]) -> Option<u32> {
    #[derive(Deserialize)]
    struct Attempts {
        #[serde(default)]
        att: u32,
    }
    let len = bytes.get(..4)?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let header = bytes.get(4..4usize.checked_add(len)?)?;
    serde_json::from_slice::<Attempts>(header)
        .ok()
        .map(|a| a.att)
}

impl Stored {
    /// The sequence number of an event of the embedded or memory store (0 for another ID: never one of
    /// theirs).
    pub(crate) fn seq(&self) -> u64 {
        self.id.as_seq().unwrap_or(0)
    }

    /// The stored bytes: the header's length (4 bytes, big-endian), the header, the body.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let r = &self.record;
        let header = Header {
            v: 1,
            app: r.meta.sdk_app_id,
            cmd: Cow::Borrowed(r.meta.command.as_str()),
            ip: r.meta.client_ip.as_ref().map(ClientIp::to_string),
            plat: r.meta.platform.as_ref().map(|p| Cow::Borrowed(p.as_str())),
            rt: r.meta.request_time.map(UnixSeconds::as_secs),
            key: *r.key.as_bytes(),
            recv: millis(r.received_at),
            room: r.room.as_deref().map(Cow::Borrowed),
            att: self.attempts,
            err: self.error.as_deref().map(Cow::Borrowed),
            mm: u64::try_from(r.max_members).ok(),
        };
        // A header of plain fields: serializing it cannot fail.
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let len = u32::try_from(header.len()).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(4 + header.len() + r.body.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&r.body);
        out
    }

    /// The record stored as `bytes` under `id`.
    pub(crate) fn decode(id: EventId, bytes: &[u8]) -> Result<Stored, Corrupt> {
        let len = bytes.get(..4).ok_or(Corrupt("shorter than its header"))?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let end = len
            .checked_add(4)
            .ok_or(Corrupt("shorter than its header"))?;
        let header = bytes
            .get(4..end)
            .ok_or(Corrupt("shorter than its header"))?;
        let body = Bytes::copy_from_slice(&bytes[end..]);
        let h: Header<'_> =
            serde_json::from_slice(header).map_err(|_| Corrupt("unreadable header"))?;
        if h.v != 1 {
            return Err(Corrupt("unknown version"));
        }
        let mut meta = CallbackMeta::new(h.app, CallbackCommand::new(&h.cmd));
        meta.client_ip = h.ip.as_deref().map(ClientIp::parse);
        meta.platform = h.plat.as_deref().map(OptPlatform::parse);
        meta.request_time = h.rt.map(UnixSeconds::from_secs);
        Ok(Stored {
            id,
            record: Record {
                meta,
                body,
                key: DeliveryKey::from_bytes(h.key),
                received_at: UNIX_EPOCH + Duration::from_millis(h.recv),
                room: h.room.map(|r| r.into()),
                dedup_ttl: None,
                max_pending: None,
                max_members: h
                    .mm
                    .and_then(|mm| usize::try_from(mm).ok())
                    .unwrap_or(tencent_room_callback::Config::DEFAULT_MAX_MEMBERS),
            },
            attempts: h.att,
            error: h.err.map(Cow::into_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callback(body: &str) -> RawCallback {
        let mut meta = CallbackMeta::new(
            1400000000,
            CallbackCommand::new("Room.CallbackAfterMemberLeave"),
        );
        meta.client_ip = Some(ClientIp::parse("10.0.0.1"));
        meta.platform = Some(OptPlatform::parse("iOS"));
        meta.request_time = Some(UnixSeconds::from_secs(1700000000));
        RawCallback::new(meta, Bytes::from(body.to_owned()))
    }

    #[test]
    fn a_record_comes_back_as_it_was_stored() {
        let record = Record::new(
            callback(r#"{"RoomId":"r1","EventTime":1}"#),
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            None,
        );
        let stored = Stored {
            id: EventId::seq(7),
            record,
            attempts: 3,
            error: Some("boom".into()),
        };
        let back = Stored::decode(EventId::seq(7), &stored.encode()).unwrap();
        assert_eq!(back.record.meta, stored.record.meta);
        assert_eq!(back.record.body, stored.record.body);
        assert_eq!(back.record.key, stored.record.key);
        assert_eq!(back.record.received_at, stored.record.received_at);
        assert_eq!(back.record.room.as_deref(), Some("\"r1\""));
        assert_eq!(back.attempts, 3);
        assert_eq!(back.error.as_deref(), Some("boom"));
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\0\0",
            b"\0\0\0\x09{}",
            b"\0\0\0\x02{}",
            b"\xff\xff\xff\xff",
        ] {
            assert!(Stored::decode(EventId::seq(1), bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn the_room_is_the_room_id_else_the_group_id() {
        assert_eq!(
            room_of(br#"{"RoomId":"a","GroupId":"g"}"#).as_deref(),
            Some("\"a\"")
        );
        assert_eq!(room_of(br#"{"GroupId":"g"}"#).as_deref(), Some("\"g\""));
        assert_eq!(room_of(br#"{"RoomId":123}"#).as_deref(), Some("123"));
        assert_eq!(room_of(br#"{"RoomId":null}"#), None);
        assert_eq!(room_of(br#"{"Other":1}"#), None);
        assert_eq!(room_of(b"not json"), None);
        // A TRTC event's room is in its EventInfo, a number or a string.
        let trtc = b"{\n\t\"EventGroupId\":\t1,\n\t\"EventInfo\":\t{\"RoomId\":\t12345,\"UserId\":\"u\"}\n}";
        assert_eq!(room_of(trtc).as_deref(), Some("12345"));
        assert_eq!(
            room_of(br#"{"EventInfo":{"RoomId":"r1"}}"#).as_deref(),
            Some("\"r1\"")
        );
    }

    #[test]
    fn event_ids_print_and_parse_back() {
        for text in ["0", "42", "1700000000000-0"] {
            let id: EventId = text.parse().unwrap();
            assert_eq!(id.to_string(), text);
        }
        assert_eq!("42".parse::<EventId>().unwrap().as_seq(), Some(42));
        assert!("".parse::<EventId>().is_err());
    }
}
