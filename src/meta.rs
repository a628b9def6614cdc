//! What the query says about a verified callback: [`CallbackMeta`] and its parts, and the
//! [`DeliveryKey`] that identifies one delivery of a callback.

use std::fmt;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::command::CallbackCommand;
use crate::value::{string_enum, UnixSeconds};

string_enum!(
    /// The platform of the client that caused the event (`OptPlatform`), parsed case-insensitively.
    OptPlatform, "platform" {
        /// `RESTAPI`.
        RestApi => ["RESTAPI"],
        /// `Web`.
        Web => ["Web"],
        /// `Android`.
        Android => ["Android"],
        /// `iOS` (also `IOS`, `iOs`).
        Ios => ["iOS"],
        /// `Windows`.
        Windows => ["Windows"],
        /// `Mac` (also `macOS`).
        Mac => ["Mac", "macOS"],
        /// `iPad`.
        IPad => ["iPad"],
        /// `Unknown`: Tencent's own "unknown".
        Unknown => ["Unknown"],
    }
);

/// The `ClientIP` parameter: an IP address when it is one, otherwise the value as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientIp {
    /// A valid IPv4 or IPv6 address.
    Ip(IpAddr),
    /// Something else, kept as sent (percent-decoded).
    Other(String),
}

impl ClientIp {
    /// The parameter's value (percent-decoded): an address when it is one.
    pub fn parse(value: &str) -> ClientIp {
        value
            .parse()
            .map(ClientIp::Ip)
            .unwrap_or_else(|_| ClientIp::Other(value.to_owned()))
    }

    /// The address, when the value is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            ClientIp::Ip(ip) => Some(*ip),
            ClientIp::Other(_) => None,
        }
    }
}

/// The address, or the value as sent.
impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientIp::Ip(ip) => ip.fmt(f),
            ClientIp::Other(other) => f.write_str(other),
        }
    }
}

/// What the query says about a verified callback.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallbackMeta {
    /// `SdkAppid`: the app (one of the configured ones).
    pub sdk_app_id: u64,
    /// `CallbackCommand`.
    pub command: CallbackCommand,
    /// `ClientIP`, when present and not empty.
    pub client_ip: Option<ClientIp>,
    /// `OptPlatform`, when present and not empty.
    pub platform: Option<OptPlatform>,
    /// `RequestTime` (seconds), when present.
    pub request_time: Option<UnixSeconds>,
}

impl CallbackMeta {
    /// Metadata with only the app and the command, the optional parts `None`: for calling a handler
    /// directly in a unit test.
    pub fn new(sdk_app_id: u64, command: impl Into<CallbackCommand>) -> Self {
        CallbackMeta {
            sdk_app_id,
            command: command.into(),
            client_ip: None,
            platform: None,
            request_time: None,
        }
    }
}

/// The key of one callback as it was delivered: a digest of its app, its command and its body bytes.
///
/// Tencent's retry of a callback carries the same bytes, so copies share the key; it needs no decoding
/// and never re-serializes anything, so it stays the same across versions of this crate. It is what
/// [`Dedup`](crate::Dedup) and the inbox crate de-duplicate by ([`RawCallback::key`](crate::RawCallback::key)).
/// Version 1: the first 16 bytes of SHA-256 over `"tencent-room-callback/key/1\0"`, the app in decimal,
/// `\0`, the command's name, `\0`, the body. Printed as 32 lowercase hex digits.
///
/// The other key is [`EventKey`](crate::event::EventKey): a digest of a decoded event's content, for
/// copies of one event whose bytes differ.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryKey([u8; 16]);

impl DeliveryKey {
    /// The key of a callback of `command` for app `sdk_app_id` whose body is `body`.
    pub fn of(sdk_app_id: u64, command: &str, body: &[u8]) -> DeliveryKey {
        let mut hasher = Sha256::new();
        hasher.update(b"tencent-room-callback/key/1\0");
        hasher.update(sdk_app_id.to_string().as_bytes());
        hasher.update([0]);
        hasher.update(command.as_bytes());
        hasher.update([0]);
        hasher.update(body);
        DeliveryKey::from_digest(&hasher.finalize())
    }

    /// The first 16 bytes of a digest.
    pub(crate) fn from_digest(digest: &[u8]) -> DeliveryKey {
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        DeliveryKey(key)
    }

    /// The key's 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The key with these 16 bytes (as [`as_bytes`](Self::as_bytes) gave them).
    pub const fn from_bytes(bytes: [u8; 16]) -> DeliveryKey {
        DeliveryKey(bytes)
    }
}

impl fmt::Display for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_keys_separate_their_parts() {
        let a = DeliveryKey::of(1, "Room.X", b"{}");
        assert_eq!(a, DeliveryKey::of(1, "Room.X", b"{}"));
        assert_ne!(a, DeliveryKey::of(2, "Room.X", b"{}"));
        assert_ne!(a, DeliveryKey::of(1, "Room.Y", b"{}"));
        assert_ne!(a, DeliveryKey::of(1, "Room.X", b"{ }"));
        // The separators keep the app's digits and the command apart.
        assert_ne!(DeliveryKey::of(1, "1", b""), DeliveryKey::of(11, "", b""));
        assert_eq!(a.to_string().len(), 32);
        assert_eq!(DeliveryKey::from_bytes(*a.as_bytes()), a);
    }
}
