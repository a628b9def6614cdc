//! The answer to `C2C.CallbackBeforeSendMsg` and `Group.CallbackBeforeSendMsg`.

use std::fmt;
use std::ops::RangeInclusive;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::MsgElement;
use crate::ack::{json_response, OK_BODY};

/// An `ErrorCode` that refuses a message and is passed on to the sender's client with the `ErrorInfo`.
///
/// Tencent documents a different range per callback, checked at construction: 10100–10200 for
/// `Group.CallbackBeforeSendMsg` ([`RefusalCode::group`]) and 120001–130000 for
/// `C2C.CallbackBeforeSendMsg` ([`RefusalCode::c2c`]). A code outside the range is refused with a
/// [`RefusalCodeError`], never clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefusalCode(i64);

impl RefusalCode {
    /// The codes `Group.CallbackBeforeSendMsg` passes to the client.
    pub const GROUP: RangeInclusive<i64> = 10100..=10200;
    /// The codes `C2C.CallbackBeforeSendMsg` passes to the client.
    pub const C2C: RangeInclusive<i64> = 120001..=130000;

    /// A code for answering `Group.CallbackBeforeSendMsg`.
    ///
    /// # Errors
    /// When `code` is outside [`RefusalCode::GROUP`] (10100–10200).
    pub fn group(code: i64) -> Result<RefusalCode, RefusalCodeError> {
        RefusalCode::within(code, RefusalCode::GROUP)
    }

    /// A code for answering `C2C.CallbackBeforeSendMsg`.
    ///
    /// # Errors
    /// When `code` is outside [`RefusalCode::C2C`] (120001–130000).
    pub fn c2c(code: i64) -> Result<RefusalCode, RefusalCodeError> {
        RefusalCode::within(code, RefusalCode::C2C)
    }

    fn within(code: i64, range: RangeInclusive<i64>) -> Result<RefusalCode, RefusalCodeError> {
        if range.contains(&code) {
            Ok(RefusalCode(code))
        } else {
            Err(RefusalCodeError {
                code,
                min: *range.start(),
                max: *range.end(),
            })
        }
    }

    /// The code.
    pub const fn get(self) -> i64 {
        self.0
    }
}

/// A refusal code outside the range Tencent passes to the client (see [`RefusalCode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalCodeError {
    code: i64,
    min: i64,
    max: i64,
}

impl RefusalCodeError {
    /// The refused code.
    pub const fn code(&self) -> i64 {
        self.code
    }
}

impl fmt::Display for RefusalCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ErrorCode {} is outside {}..={}, the codes this callback passes to the client",
            self.code, self.min, self.max
        )
    }
}

impl std::error::Error for RefusalCodeError {}

/// What a before-send callback decides about the message: the answer's `ErrorCode` and `ErrorInfo`.
///
/// `ActionStatus` is `OK` for every decision: the decision is in `ErrorCode`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SendDecision {
    /// `ErrorCode` 0: deliver the message (with the replacement body, if the answer has one).
    #[default]
    Allow,
    /// `ErrorCode` 1: refuse it; the sender gets Tencent's own error (10016 in a group, 20006 one-to-one).
    Refuse,
    /// `ErrorCode` 2: drop it silently; the sender is told it was sent.
    Drop,
    /// `ErrorCode` in the callback's range: refuse it, and pass the code and `info` to the sender.
    RefuseWith {
        /// The code (checked against the callback's range when made).
        code: RefusalCode,
        /// `ErrorInfo`: the text the sender's client gets.
        info: String,
    },
}

impl SendDecision {
    /// [`SendDecision::RefuseWith`] `code` and `info`.
    pub fn refuse_with(code: RefusalCode, info: impl Into<String>) -> SendDecision {
        SendDecision::RefuseWith {
            code,
            info: info.into(),
        }
    }

    /// The answer's `ErrorCode`: 0, 1, 2 or the refusal code.
    pub fn error_code(&self) -> i64 {
        match self {
            SendDecision::Allow => 0,
            SendDecision::Refuse => 1,
            SendDecision::Drop => 2,
            SendDecision::RefuseWith { code, .. } => code.get(),
        }
    }

    /// The answer's `ErrorInfo`: empty except for [`SendDecision::RefuseWith`].
    pub fn error_info(&self) -> &str {
        match self {
            SendDecision::RefuseWith { info, .. } => info,
            _ => "",
        }
    }
}

/// The answer to a before-send callback: a [`SendDecision`], plus an optional replacement `MsgBody` and
/// `CloudCustomData`.
///
/// Serializes as exactly `{"ActionStatus":"OK","ErrorInfo":..,"ErrorCode":..}`, followed by `"MsgBody"`
/// and then `"CloudCustomData"` when set, in that order. Tencent applies the replacements only to a
/// message it delivers ([`SendDecision::Allow`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMsgAnswer {
    /// The decision (`ErrorCode`, `ErrorInfo`).
    pub decision: SendDecision,
    /// `MsgBody`: the elements to deliver instead of the sent ones.
    pub msg_body: Option<Vec<MsgElement>>,
    /// `CloudCustomData`: the custom data to store instead of the sent one.
    pub cloud_custom_data: Option<String>,
}

impl SendMsgAnswer {
    /// An answer with `decision` and no replacement.
    pub fn new(decision: SendDecision) -> Self {
        SendMsgAnswer {
            decision,
            msg_body: None,
            cloud_custom_data: None,
        }
    }

    /// Deliver the message as sent: the OK acknowledgment.
    pub fn allow() -> Self {
        SendMsgAnswer::new(SendDecision::Allow)
    }

    /// This answer with `MsgBody` replaced by `msg_body`.
    #[must_use]
    pub fn with_msg_body(mut self, msg_body: Vec<MsgElement>) -> Self {
        self.msg_body = Some(msg_body);
        self
    }

    /// This answer with `CloudCustomData` replaced by `cloud_custom_data`.
    #[must_use]
    pub fn with_cloud_custom_data(mut self, cloud_custom_data: impl Into<String>) -> Self {
        self.cloud_custom_data = Some(cloud_custom_data.into());
        self
    }

    /// The JSON bytes (the static [`OK_BODY`](crate::Ack::OK_BODY) when allowing without replacement).
    pub fn to_bytes(&self) -> Bytes {
        if *self == SendMsgAnswer::allow() {
            return Bytes::from_static(OK_BODY);
        }
        // Strings, integers and JSON values with string keys only: serializing cannot fail.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// An HTTP 200 answer with this body and `Content-Type: application/json`, for any body type made
    /// from bytes.
    pub fn http_response<B: From<Bytes>>(&self) -> Response<B> {
        json_response(StatusCode::OK, self.to_bytes())
    }
}

impl From<SendDecision> for SendMsgAnswer {
    fn from(decision: SendDecision) -> Self {
        SendMsgAnswer::new(decision)
    }
}

impl Serialize for SendMsgAnswer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = 3
            + usize::from(self.msg_body.is_some())
            + usize::from(self.cloud_custom_data.is_some());
        let mut st = s.serialize_struct("SendMsgAnswer", len)?;
        st.serialize_field("ActionStatus", "OK")?;
        st.serialize_field("ErrorInfo", self.decision.error_info())?;
        st.serialize_field("ErrorCode", &self.decision.error_code())?;
        if let Some(body) = &self.msg_body {
            st.serialize_field("MsgBody", body)?;
        }
        if let Some(data) = &self.cloud_custom_data {
            st.serialize_field("CloudCustomData", data)?;
        }
        st.end()
    }
}

/// The same answer as an [`Ack`](crate::Ack), as a route's handler returns it: the same bytes.
impl From<SendMsgAnswer> for crate::ack::Ack {
    fn from(answer: SendMsgAnswer) -> crate::ack::Ack {
        let mut ack = crate::ack::Ack::decision(
            answer.decision.error_code(),
            answer.decision.error_info().to_owned(),
        );
        // Strings and JSON values with string keys: serializing cannot fail (the field would be
        // left out if it did).
        if let Some(body) = &answer.msg_body {
            ack = ack.clone().with_field("MsgBody", body).unwrap_or(ack);
        }
        if let Some(data) = &answer.cloud_custom_data {
            ack = ack
                .clone()
                .with_field("CloudCustomData", data)
                .unwrap_or(ack);
        }
        ack
    }
}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for SendMsgAnswer {
    fn into_response(self) -> axum_core::response::Response {
        self.http_response()
    }
}
