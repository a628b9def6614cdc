//! The acknowledgment Tencent expects in answer to a callback.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde::{Deserialize, Serialize};

/// The exact bytes of the OK acknowledgment.
pub const OK_BODY: &[u8] = br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}"#;

/// One place in memory for [`OK_BODY`], which every OK answer points at.
static OK_STATIC: &[u8] = OK_BODY;

/// `ActionStatus` of an [`Ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActionStatus {
    /// `OK`: the callback was handled.
    #[serde(rename = "OK")]
    Ok,
    /// `FAIL`: it was not; see `ErrorCode` and `ErrorInfo`.
    #[serde(rename = "FAIL")]
    Fail,
}

/// The answer to a callback: `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}` or a FAIL.
///
/// [`Ack::ok`] answers with [`OK_BODY`], served from static bytes. It also deserializes, so a sender or a
/// test can read an answer. With the `axum` feature it implements `IntoResponse` (status 200).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    #[serde(rename = "ActionStatus")]
    status: ActionStatus,
    #[serde(rename = "ErrorInfo")]
    info: Cow<'static, str>,
    #[serde(rename = "ErrorCode")]
    code: i64,
}

impl Ack {
    /// The OK acknowledgment.
    pub const fn ok() -> Ack {
        Ack {
            status: ActionStatus::Ok,
            info: Cow::Borrowed(""),
            code: 0,
        }
    }

    /// A FAIL acknowledgment with a non-zero `ErrorCode` and a message.
    pub fn fail(code: i64, info: impl Into<Cow<'static, str>>) -> Ack {
        Ack {
            status: ActionStatus::Fail,
            info: info.into(),
            code,
        }
    }

    /// Whether this is exactly the OK acknowledgment.
    pub fn is_ok(&self) -> bool {
        self.status == ActionStatus::Ok && self.code == 0 && self.info.is_empty()
    }

    /// `ActionStatus`.
    pub fn status(&self) -> ActionStatus {
        self.status
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
        // An Ack has no maps and no non-string keys: serializing it cannot fail.
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
    fn fail_escapes_its_message() {
        let a = Ack::fail(40006, "bad \"quote\" \n");
        let back: Ack = serde_json::from_slice(&a.to_bytes()).unwrap();
        assert_eq!(back, a);
        assert!(!back.is_ok());
        assert_eq!(back.status(), ActionStatus::Fail);
    }
}
