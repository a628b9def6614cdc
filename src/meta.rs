//! What the query says about a verified callback: [`CallbackMeta`] and its parts.

use std::net::IpAddr;

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
impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
