//! `C2C.CallbackBeforeSendMsg` and `C2C.CallbackAfterSendMsg`: one-to-one messages.

use serde::{Deserialize, Serialize};

use super::{flex, MsgElement, Tag};
use crate::value::{AccountId, EventTime, UnixSeconds};

/// `C2C.CallbackBeforeSendMsg`: a user is sending a one-to-one message, not yet delivered.
///
/// The answer decides the message's fate: answer with a [`SendMsgAnswer`](super::SendMsgAnswer) (allow,
/// refuse, drop silently, or refuse with a code from [`RefusalCode::c2c`](super::RefusalCode::c2c), and
/// optionally replace the body). A failed or late answer lets the message through.
///
/// Required on the wire: `From_Account`, `To_Account`, `MsgSeq`, `MsgRandom`, `MsgTime`, `MsgKey`,
/// `MsgBody`. Unknown fields are ignored. A `CallbackCommand` in the body, when present, must name this
/// command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct C2cBeforeSendMsg {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<C2cBeforeSendMsg>,
    /// `From_Account`: the sender.
    #[serde(rename = "From_Account")]
    pub from: AccountId,
    /// `To_Account`: the recipient.
    #[serde(rename = "To_Account")]
    pub to: AccountId,
    /// `MsgSeq`: the message's sequence number (a random 32-bit number).
    #[serde(rename = "MsgSeq", deserialize_with = "flex::u64")]
    pub msg_seq: u64,
    /// `MsgRandom`: the message's random number (32-bit).
    #[serde(rename = "MsgRandom", deserialize_with = "flex::u64")]
    pub msg_random: u64,
    /// `MsgTime`: when the message was sent (**seconds**).
    #[serde(rename = "MsgTime")]
    pub msg_time: UnixSeconds,
    /// `MsgKey`: the message's unique key (for recalling it through the REST API).
    #[serde(rename = "MsgKey")]
    pub msg_key: String,
    /// `OnlineOnlyFlag`: an online-only message (`1`), not stored for offline users; `false` when absent.
    #[serde(
        rename = "OnlineOnlyFlag",
        default,
        deserialize_with = "flex::online_flag",
        serialize_with = "flex::ser_online_flag"
    )]
    pub online_only: bool,
    /// `MsgBody`: the message's elements.
    #[serde(rename = "MsgBody")]
    pub msg_body: Vec<MsgElement>,
    /// `CloudCustomData`: the message's custom data, stored in the cloud.
    #[serde(
        rename = "CloudCustomData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_custom_data: Option<String>,
    /// `EventTime`: when it happened (milliseconds; absent from Tencent's sample).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
}

impl C2cBeforeSendMsg {
    /// An event with its required fields; `online_only` is `false` and the optional fields `None`.
    pub fn new(
        from: impl Into<AccountId>,
        to: impl Into<AccountId>,
        msg_seq: u64,
        msg_random: u64,
        msg_time: UnixSeconds,
        msg_key: impl Into<String>,
        msg_body: Vec<MsgElement>,
    ) -> Self {
        C2cBeforeSendMsg {
            command: Tag::default(),
            from: from.into(),
            to: to.into(),
            msg_seq,
            msg_random,
            msg_time,
            msg_key: msg_key.into(),
            online_only: false,
            msg_body,
            cloud_custom_data: None,
            event_time: None,
        }
    }
}

/// `C2C.CallbackAfterSendMsg`: a one-to-one message was sent (or failed to be: see `SendMsgResult`).
///
/// Required on the wire: as [`C2cBeforeSendMsg`]. `SendMsgResult`, `ErrorInfo` and `UnreadMsgNum` are
/// optional. Unknown fields are ignored. A `CallbackCommand` in the body, when present, must name this
/// command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct C2cAfterSendMsg {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<C2cAfterSendMsg>,
    /// `From_Account`: the sender.
    #[serde(rename = "From_Account")]
    pub from: AccountId,
    /// `To_Account`: the recipient.
    #[serde(rename = "To_Account")]
    pub to: AccountId,
    /// `MsgSeq`: the message's sequence number (a random 32-bit number).
    #[serde(rename = "MsgSeq", deserialize_with = "flex::u64")]
    pub msg_seq: u64,
    /// `MsgRandom`: the message's random number (32-bit).
    #[serde(rename = "MsgRandom", deserialize_with = "flex::u64")]
    pub msg_random: u64,
    /// `MsgTime`: when the message was sent (**seconds**).
    #[serde(rename = "MsgTime")]
    pub msg_time: UnixSeconds,
    /// `MsgKey`: the message's unique key (for recalling it through the REST API).
    #[serde(rename = "MsgKey")]
    pub msg_key: String,
    /// `OnlineOnlyFlag`: an online-only message (`1`), not stored for offline users; `false` when absent.
    #[serde(
        rename = "OnlineOnlyFlag",
        default,
        deserialize_with = "flex::online_flag",
        serialize_with = "flex::ser_online_flag"
    )]
    pub online_only: bool,
    /// `SendMsgResult`: `0` when the message was sent, otherwise Tencent's error code.
    #[serde(
        rename = "SendMsgResult",
        default,
        deserialize_with = "flex::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub send_msg_result: Option<i64>,
    /// `ErrorInfo`: why sending failed (`send msg succeed` when it did not).
    #[serde(rename = "ErrorInfo", default, skip_serializing_if = "Option::is_none")]
    pub error_info: Option<String>,
    /// `UnreadMsgNum`: how many one-to-one messages the recipient has not read, over all conversations.
    #[serde(
        rename = "UnreadMsgNum",
        default,
        deserialize_with = "flex::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub unread_msg_num: Option<u64>,
    /// `MsgBody`: the message's elements (as modified by the before-send answer, if it replaced them).
    #[serde(rename = "MsgBody")]
    pub msg_body: Vec<MsgElement>,
    /// `CloudCustomData`: the message's custom data, stored in the cloud.
    #[serde(
        rename = "CloudCustomData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_custom_data: Option<String>,
    /// `EventTime`: when it happened (milliseconds; absent from Tencent's sample).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
}

impl C2cAfterSendMsg {
    /// An event with its required fields; `online_only` is `false` and the optional fields `None`.
    pub fn new(
        from: impl Into<AccountId>,
        to: impl Into<AccountId>,
        msg_seq: u64,
        msg_random: u64,
        msg_time: UnixSeconds,
        msg_key: impl Into<String>,
        msg_body: Vec<MsgElement>,
    ) -> Self {
        C2cAfterSendMsg {
            command: Tag::default(),
            from: from.into(),
            to: to.into(),
            msg_seq,
            msg_random,
            msg_time,
            msg_key: msg_key.into(),
            online_only: false,
            send_msg_result: None,
            error_info: None,
            unread_msg_num: None,
            msg_body,
            cloud_custom_data: None,
            event_time: None,
        }
    }

    /// Whether the message was sent: `SendMsgResult` is `0` (or absent).
    pub fn is_sent(&self) -> bool {
        self.send_msg_result.unwrap_or(0) == 0
    }
}
