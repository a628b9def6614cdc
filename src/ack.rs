//! The acknowledgment Tencent expects in answer to a callback.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The exact bytes of the OK acknowledgment ([`Ack::OK_BODY`]).
pub(crate) const OK_BODY: &[u8] = br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}"#;

/// One place in memory for [`OK_BODY`], which every OK answer points at.
static OK_STATIC: &[u8] = OK_BODY;

/// `ActionStatus` of an [`Ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum ActionStatus {
    /// `OK`: the callback was handled.
    #[serde(rename = "OK")]
    Ok,
    /// `FAIL`: it was not; see `ErrorCode` and `ErrorInfo`.
    #[serde(rename = "FAIL")]
    Fail,
}

/// The answer to a callback: `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`, a FAIL, or the
/// decision of a "before" callback with extra top-level fields.
///
/// [`Ack::ok`] answers with [`Ack::OK_BODY`], served from static bytes. A before-callback's answer (Chat's
/// `C2C.CallbackBeforeSendMsg`, `Group.CallbackBeforeSendMsg`...) carries its decision in `ErrorCode`
/// ([`Ack::decision`]) and may add fields such as a replacement `MsgBody` ([`Ack::with_field`]); they
/// follow the three usual fields, in the order added. It also deserializes (the three usual fields), so a
/// sender or a test can read an answer. With the `axum` feature it implements `IntoResponse` (status
/// 200).
///
/// ```
/// use tencent_room_callback::Ack;
///
/// #[derive(serde::Serialize)]
/// struct Text<'a> {
///     #[serde(rename = "MsgType")]
///     kind: &'a str,
///     #[serde(rename = "MsgContent")]
///     content: serde_json::Value,
/// }
///
/// // Let a message through with its text replaced.
/// let stars = Text { kind: "TIMTextElem", content: serde_json::json!({"Text": "***"}) };
/// let ack = Ack::ok().with_field("MsgBody", [stars])?;
/// assert_eq!(
///     &ack.to_bytes()[..],
///     br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"***"}}]}"#,
/// );
/// // Refuse a message (the sender gets error 10016).
/// assert_eq!(&Ack::decision(1, "").to_bytes()[..], br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":1}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Deserialize)]
pub struct Ack {
    #[serde(rename = "ActionStatus")]
    status: ActionStatus,
    #[serde(rename = "ErrorInfo")]
    info: Cow<'static, str>,
    #[serde(rename = "ErrorCode")]
    code: i64,
    // Serialized once, when added: a field keeps its value's own order (a struct's fields in theirs).
    #[serde(skip)]
    extra: Vec<(Cow<'static, str>, Box<RawValue>)>,
}

impl PartialEq for Ack {
    fn eq(&self, other: &Ack) -> bool {
        self.status == other.status
            && self.info == other.info
            && self.code == other.code
            && self.extra.len() == other.extra.len()
            && self
                .extra
                .iter()
                .zip(&other.extra)
                .all(|((n1, v1), (n2, v2))| n1 == n2 && v1.get() == v2.get())
    }
}

impl Eq for Ack {}

impl Serialize for Ack {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(3 + self.extra.len()))?;
        map.serialize_entry("ActionStatus", &self.status)?;
        map.serialize_entry("ErrorInfo", &self.info)?;
        map.serialize_entry("ErrorCode", &self.code)?;
        for (name, value) in &self.extra {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl Ack {
    /// The exact bytes of the OK acknowledgment: `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`.
    pub const OK_BODY: &'static [u8] = OK_BODY;

    /// The OK acknowledgment.
    pub const fn ok() -> Ack {
        Ack {
            status: ActionStatus::Ok,
            info: Cow::Borrowed(""),
            code: 0,
            extra: Vec::new(),
        }
    }

    /// A FAIL acknowledgment with a non-zero `ErrorCode` and a message.
    pub fn fail(code: i64, info: impl Into<Cow<'static, str>>) -> Ack {
        Ack {
            status: ActionStatus::Fail,
            info: info.into(),
            code,
            extra: Vec::new(),
        }
    }

    /// The answer to a "before" callback that decides something: `ActionStatus` `OK` with the decision
    /// in `ErrorCode`. For the before-send-message callbacks: 0 lets the message through, 1 refuses it
    /// (the sender gets error 10016), 2 drops it silently, and a code in Tencent's range for the
    /// callback refuses it with `info` passed to the sender's client (see the `chat` feature's
    /// `SendDecision`, which checks the ranges).
    pub fn decision(code: i64, info: impl Into<Cow<'static, str>>) -> Ack {
        Ack {
            status: ActionStatus::Ok,
            info: info.into(),
            code,
            extra: Vec::new(),
        }
    }

    /// This acknowledgment with a top-level field `name` added after the others (a replacement
    /// `MsgBody`, `CloudCustomData`...), its value serialized now, in its own field order; a field of
    /// that name added before is replaced. The three usual fields are set with [`Ack::decision`] or
    /// [`Ack::fail`], not here: `name` `ActionStatus`, `ErrorInfo` or `ErrorCode` is ignored.
    ///
    /// # Errors
    /// When `value` does not serialize to JSON (a map with keys that are not strings, say).
    pub fn with_field(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Serialize,
    ) -> Result<Ack, serde_json::Error> {
        let name = name.into();
        if matches!(&*name, "ActionStatus" | "ErrorInfo" | "ErrorCode") {
            return Ok(self);
        }
        let value = serde_json::value::to_raw_value(&value)?;
        match self.extra.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v = value,
            None => self.extra.push((name, value)),
        }
        Ok(self)
    }

    /// Whether this is exactly the OK acknowledgment.
    pub fn is_ok(&self) -> bool {
        self.status == ActionStatus::Ok
            && self.code == 0
            && self.info.is_empty()
            && self.extra.is_empty()
    }

    /// The extra top-level fields, in order, each with its JSON text (see [`Ack::with_field`]).
    pub fn extra_fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.extra.iter().map(|(n, v)| (&**n, v.get()))
    }

    /// `ErrorCode`.
    pub fn error_code(&self) -> i64 {
        self.code
    }

    /// `ErrorInfo`.
    pub fn error_info(&self) -> &str {
        &self.info
    }

    /// The JSON bytes (static for the OK acknowledgment).
    pub fn to_bytes(&self) -> Bytes {
        if self.is_ok() {
            return Bytes::from_static(OK_STATIC);
        }
        // Strings, integers and JSON values with string keys: serializing cannot fail.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// An HTTP answer with this acknowledgment, `status`, and `Content-Type: application/json`, for any
    /// body type made from bytes. (With the `axum` feature, `IntoResponse` answers with status 200.)
    pub fn http_response<B: From<Bytes>>(&self, status: StatusCode) -> Response<B> {
        json_response(status, self.to_bytes())
    }
}

/// An HTTP answer with a JSON body.
pub(crate) fn json_response<B: From<Bytes>>(status: StatusCode, body: Bytes) -> Response<B> {
    let mut res = Response::new(B::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

impl Default for Ack {
    fn default() -> Self {
        Ack::ok()
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ack")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("info", &self.info)
            .field("extra", &self.extra)
            .finish()
    }
}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for Ack {
    fn into_response(self) -> axum_core::response::Response {
        self.http_response(StatusCode::OK)
    }
}

#[cfg(test)]
pub(crate) fn futures_body(body: http_body_util::Full<Bytes>) -> Bytes {
    use http_body_util::BodyExt;
    let fut = body.collect();
    // A Full body is ready at once: poll it without a runtime.
    let mut fut = std::pin::pin!(fut);
    let waker = std::task::Waker::noop();
    match std::future::Future::poll(fut.as_mut(), &mut std::task::Context::from_waker(waker)) {
        std::task::Poll::Ready(Ok(c)) => c.to_bytes(),
        _ => unreachable!("a Full body is ready"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_is_exact_and_static() {
        assert_eq!(&Ack::ok().to_bytes()[..], OK_BODY);
        assert_eq!(serde_json::to_vec(&Ack::ok()).unwrap(), OK_BODY);
        // Two live answers share one buffer: nothing is allocated per answer.
        let (a, b) = (Ack::ok().to_bytes(), Ack::ok().to_bytes());
        assert_eq!(a.as_ptr(), b.as_ptr());
        let res: Response<http_body_util::Full<Bytes>> = Ack::ok().http_response(StatusCode::OK);
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let body = futures_body(res.into_body());
        assert_eq!(&body[..], OK_BODY);
    }

    #[test]
    fn decisions_carry_extra_fields_in_order() {
        let ack = Ack::decision(2, "")
            .with_field("MsgBody", [0u8; 0])
            .and_then(|a| a.with_field("CloudCustomData", "x"))
            .and_then(|a| a.with_field("MsgBody", [1]))
            .and_then(|a| a.with_field("ErrorCode", 0))
            .unwrap();
        assert_eq!(
            &ack.to_bytes()[..],
            br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":2,"MsgBody":[1],"CloudCustomData":"x"}"#
        );
        assert!(!ack.is_ok());
        assert!(!Ack::ok().with_field("CloudCustomData", "").unwrap().is_ok());
        let mut bad = std::collections::HashMap::new();
        bad.insert((1, 2), 3);
        assert!(Ack::ok().with_field("Bad", bad).is_err());
        assert_eq!(ack.extra_fields().count(), 2);
        // Read back: the usual three.
        let back: Ack = serde_json::from_slice(&ack.to_bytes()).unwrap();
        assert_eq!((back.error_code(), back.status), (2, ActionStatus::Ok));
    }

    #[test]
    fn fail_escapes_its_message() {
        let a = Ack::fail(40006, "bad \"quote\" \n");
        let back: Ack = serde_json::from_slice(&a.to_bytes()).unwrap();
        assert_eq!(back, a);
        assert!(!back.is_ok());
        assert_eq!(back.status, ActionStatus::Fail);
    }
}
