//! Why a callback was not acknowledged `OK`: every answer other than the OK acknowledgment.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::ack::Ack;

/// The kind of a [`Rejection`]: fixes the HTTP status and the `ErrorCode` of the FAIL acknowledgment.
///
/// `ErrorCode` is the HTTP status times 100 plus a running number, so the status can be read off the code.
///
/// | kind | status | `ErrorCode` |
/// |---|---|---|
/// | [`UnknownCommand`](Self::UnknownCommand) | 400 | 40001 |
/// | [`MissingSdkAppId`](Self::MissingSdkAppId) | 400 | 40002 |
/// | [`MalformedSdkAppId`](Self::MalformedSdkAppId) | 400 | 40003 |
/// | [`ConflictingParameter`](Self::ConflictingParameter) | 400 | 40004 |
/// | [`BodyReadError`](Self::BodyReadError) | 400 | 40005 |
/// | [`MalformedBody`](Self::MalformedBody) | 400 | 40006 |
/// | [`MissingSignature`](Self::MissingSignature) | 401 | 40101 |
/// | [`MalformedRequestTime`](Self::MalformedRequestTime) | 401 | 40102 |
/// | [`StaleRequestTime`](Self::StaleRequestTime) | 401 | 40103 |
/// | [`BadSignature`](Self::BadSignature) | 401 | 40104 |
/// | [`UnknownSdkAppId`](Self::UnknownSdkAppId) | 403 | 40301 |
/// | [`MethodNotAllowed`](Self::MethodNotAllowed) | 405 | 40501 |
/// | [`BodyTimeout`](Self::BodyTimeout) | 408 | 40801 |
/// | [`BodyTooLarge`](Self::BodyTooLarge) | 413 | 41301 |
/// | [`HandlerFailed`](Self::HandlerFailed) | 500 | 50001 |
/// | [`HandlerPanicked`](Self::HandlerPanicked) | 500 | 50002 |
/// | [`Unavailable`](Self::Unavailable) | 503 | 50301 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// `CallbackCommand` is missing or names a command this decoder does not handle (sans-IO API only:
    /// the layer passes such requests through).
    UnknownCommand,
    /// No `SdkAppid` parameter.
    MissingSdkAppId,
    /// `SdkAppid` is not a decimal number.
    MalformedSdkAppId,
    /// A parameter the layer reads was given twice with different values.
    ConflictingParameter,
    /// Reading the body failed.
    BodyReadError,
    /// The body is not a JSON object of the event's shape (or names another command).
    MalformedBody,
    /// A token is configured but `Sign` or `RequestTime` is missing.
    MissingSignature,
    /// `RequestTime` is not a decimal number of seconds.
    MalformedRequestTime,
    /// `RequestTime` is outside the allowed window around now.
    StaleRequestTime,
    /// `Sign` matches no configured token.
    BadSignature,
    /// `SdkAppid` is not one of the configured apps.
    UnknownSdkAppId,
    /// The request is not a `POST`.
    MethodNotAllowed,
    /// The body did not arrive within the body-read timeout.
    BodyTimeout,
    /// The body is larger than the limit.
    BodyTooLarge,
    /// The handler returned an error.
    HandlerFailed,
    /// The handler panicked.
    HandlerPanicked,
    /// The handler could not take the event now (for example, its queue is full): retry later.
    Unavailable,
}

impl RejectionKind {
    /// The HTTP status of the answer.
    pub const fn status(self) -> StatusCode {
        match self {
            RejectionKind::UnknownCommand
            | RejectionKind::MissingSdkAppId
            | RejectionKind::MalformedSdkAppId
            | RejectionKind::ConflictingParameter
            | RejectionKind::BodyReadError
            | RejectionKind::MalformedBody => StatusCode::BAD_REQUEST,
            RejectionKind::MissingSignature
            | RejectionKind::MalformedRequestTime
            | RejectionKind::StaleRequestTime
            | RejectionKind::BadSignature => StatusCode::UNAUTHORIZED,
            RejectionKind::UnknownSdkAppId => StatusCode::FORBIDDEN,
            RejectionKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            RejectionKind::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            RejectionKind::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RejectionKind::HandlerFailed | RejectionKind::HandlerPanicked => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            RejectionKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `ErrorCode` of the FAIL acknowledgment (see the table on [`RejectionKind`]).
    pub const fn error_code(self) -> i64 {
        match self {
            RejectionKind::UnknownCommand => 40001,
            RejectionKind::MissingSdkAppId => 40002,
            RejectionKind::MalformedSdkAppId => 40003,
            RejectionKind::ConflictingParameter => 40004,
            RejectionKind::BodyReadError => 40005,
            RejectionKind::MalformedBody => 40006,
            RejectionKind::MissingSignature => 40101,
            RejectionKind::MalformedRequestTime => 40102,
            RejectionKind::StaleRequestTime => 40103,
            RejectionKind::BadSignature => 40104,
            RejectionKind::UnknownSdkAppId => 40301,
            RejectionKind::MethodNotAllowed => 40501,
            RejectionKind::BodyTimeout => 40801,
            RejectionKind::BodyTooLarge => 41301,
            RejectionKind::HandlerFailed => 50001,
            RejectionKind::HandlerPanicked => 50002,
            RejectionKind::Unavailable => 50301,
        }
    }

    /// A short, fixed description.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectionKind::UnknownCommand => "CallbackCommand is missing or not handled here",
            RejectionKind::MissingSdkAppId => "SdkAppid is missing",
            RejectionKind::MalformedSdkAppId => "SdkAppid is not a decimal number",
            RejectionKind::ConflictingParameter => {
                "a query parameter is given twice with different values"
            }
            RejectionKind::BodyReadError => "the body could not be read",
            RejectionKind::MalformedBody => "the body is not a valid callback event",
            RejectionKind::MissingSignature => "Sign and RequestTime are required",
            RejectionKind::MalformedRequestTime => "RequestTime is not a decimal number of seconds",
            RejectionKind::StaleRequestTime => "RequestTime is outside the allowed window",
            RejectionKind::BadSignature => "Sign does not match",
            RejectionKind::UnknownSdkAppId => "SdkAppid is not an app of this receiver",
            RejectionKind::MethodNotAllowed => "callbacks must be POSTed",
            RejectionKind::BodyTimeout => "the body did not arrive in time",
            RejectionKind::BodyTooLarge => "the body is larger than the limit",
            RejectionKind::HandlerFailed => "the handler failed",
            RejectionKind::HandlerPanicked => "the handler panicked",
            RejectionKind::Unavailable => "the receiver cannot take the event now, retry later",
        }
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest detail kept in an `ErrorInfo`, in bytes.
const MAX_DETAIL: usize = 200;

/// What every `ErrorInfo` of the layer's starts with: whoever reads a FAIL answer (Tencent's console, a
/// test, a proxy's log) can tell the callback layer refused the request, not the app behind it.
pub(crate) const PREFIX: &str = "callback layer: ";

/// Why a callback was not acknowledged `OK`: an HTTP status and a FAIL acknowledgment.
///
/// Its text (`Display`, and the `ErrorInfo` of its answer) says what was wrong and never contains a token
/// or an expected signature.
#[derive(Clone, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
    detail: Option<Box<str>>,
    // For the trace only, never the answer: why, when the answer must not say (an unknown app).
    note: Option<Box<str>>,
}

impl Rejection {
    /// A rejection of `kind` with its fixed description.
    pub const fn new(kind: RejectionKind) -> Self {
        Rejection {
            kind,
            detail: None,
            note: None,
        }
    }

    /// A rejection of `kind` with a detail (cut to 200 bytes).
    pub(crate) fn with_detail(kind: RejectionKind, detail: impl fmt::Display) -> Self {
        let mut detail = detail.to_string();
        let end = fitting(&detail, MAX_DETAIL);
        if end < detail.len() {
            detail.truncate(end);
            detail.push('…');
        }
        Rejection {
            kind,
            detail: Some(detail.into_boxed_str()),
            note: None,
        }
    }

    /// This rejection with a note for the trace, which its answer and its `Display` never show.
    pub(crate) fn noted(mut self, note: impl fmt::Display) -> Self {
        self.note = Some(note.to_string().into_boxed_str());
        self
    }

    /// The note for the trace, if any.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The kind.
    pub const fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The HTTP status of the answer.
    pub const fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The FAIL acknowledgment for this rejection: its `ErrorInfo` says that the callback layer refused
    /// the callback, then why (`callback layer: Sign does not match`).
    pub fn ack(&self) -> Ack {
        Ack::fail(
            self.kind.error_code(),
            Cow::Owned(format!("{PREFIX}{self}")),
        )
    }

    /// The full HTTP answer: the status, `Content-Type: application/json`, the FAIL acknowledgment,
    /// `Allow: POST` on a 405 and `WWW-Authenticate: TencentCallbackSign` on a 401 (RFC 9110 asks every
    /// 401 to name its scheme; this one is the query's `Sign`/`RequestTime`).
    pub fn http_response<B: From<Bytes>>(&self) -> Response<B> {
        let mut res = self.ack().http_response(self.status());
        add_headers(&mut res, "TencentCallbackSign");
        res
    }
}

/// `Allow: POST` on a 405, `WWW-Authenticate: <scheme>` on a 401 (RFC 9110 asks every 401 to name its
/// scheme), for a refusal's answer.
pub(crate) fn add_headers<B>(res: &mut Response<B>, scheme: &'static str) {
    match res.status() {
        StatusCode::METHOD_NOT_ALLOWED => {
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        StatusCode::UNAUTHORIZED => {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
        }
        _ => {}
    }
}

impl From<RejectionKind> for Rejection {
    fn from(kind: RejectionKind) -> Self {
        Rejection::new(kind)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(d) => write!(f, "{}: {d}", self.kind.as_str()),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("kind", &self.kind)
            .field("status", &self.status().as_u16())
            .field("detail", &self.detail)
            .finish()
    }
}

impl std::error::Error for Rejection {}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for Rejection {
    fn into_response(self) -> axum_core::response::Response {
        self.http_response()
    }
}

/// The length of the longest prefix of `s` of at most `max` bytes that ends on a character boundary:
/// where to cut a text that must fit in `max` bytes (answers and logs alike).
pub(crate) fn fitting(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every kind, for the tests that go through them all.
    pub(crate) const ALL_KINDS: [RejectionKind; 17] = {
        use RejectionKind::*;
        [
            UnknownCommand,
            MissingSdkAppId,
            MalformedSdkAppId,
            ConflictingParameter,
            BodyReadError,
            MalformedBody,
            MissingSignature,
            MalformedRequestTime,
            StaleRequestTime,
            BadSignature,
            UnknownSdkAppId,
            MethodNotAllowed,
            BodyTimeout,
            BodyTooLarge,
            HandlerFailed,
            HandlerPanicked,
            Unavailable,
        ]
    };

    #[test]
    fn codes_carry_their_status() {
        for k in ALL_KINDS {
            assert_eq!(
                k.error_code() / 100,
                i64::from(k.status().as_u16()),
                "{k:?}"
            );
        }
    }

    #[test]
    fn details_are_bounded() {
        let r = Rejection::with_detail(RejectionKind::MalformedBody, "é".repeat(500));
        assert!(r.to_string().len() < 300);
        let ack = r.ack();
        assert!(!ack.is_ok());
        assert_eq!(ack.error_code(), 40006);
        // The ErrorInfo is the kind's description, then the detail cut to 200 bytes (on a character
        // boundary) and marked with "…".
        let info = ack.error_info();
        let prefix = "callback layer: the body is not a valid callback event: ";
        assert!(info.starts_with(prefix), "{info}");
        let detail = &info[prefix.len()..];
        assert!(detail.len() <= MAX_DETAIL + "…".len(), "{}", detail.len());
        assert_eq!(detail, format!("{}…", "é".repeat(100)));
        assert!(
            info.len() <= prefix.len() + 200 + "…".len(),
            "{}",
            info.len()
        );
        // Exactly 200 bytes: kept whole, no mark; one byte more: cut.
        let at_limit = Rejection::with_detail(RejectionKind::MalformedBody, "a".repeat(200));
        assert_eq!(
            at_limit.ack().error_info(),
            format!("{prefix}{}", "a".repeat(200))
        );
        let over = Rejection::with_detail(RejectionKind::MalformedBody, "a".repeat(201));
        assert_eq!(
            over.ack().error_info(),
            format!("{prefix}{}…", "a".repeat(200))
        );
        // A cut inside a multi-byte character backs off to its start.
        let odd = Rejection::with_detail(
            RejectionKind::MalformedBody,
            format!("a{}", "é".repeat(150)),
        );
        assert_eq!(
            odd.ack().error_info(),
            format!("{prefix}a{}…", "é".repeat(99))
        );
        // Whatever the kind, the whole ErrorInfo stays within its description + ": " + 200 bytes + "…".
        for kind in [RejectionKind::Unavailable, RejectionKind::BodyReadError] {
            let info = Rejection::with_detail(kind, "x".repeat(10_000))
                .ack()
                .error_info()
                .len();
            assert!(
                info <= PREFIX.len() + kind.as_str().len() + 2 + 200 + "…".len(),
                "{kind:?}: {info}"
            );
        }
    }

    #[test]
    fn method_not_allowed_says_allow_post() {
        let res: Response<http_body_util::Full<Bytes>> =
            Rejection::new(RejectionKind::MethodNotAllowed).http_response();
        assert_eq!(res.status(), 405);
        assert_eq!(res.headers()[header::ALLOW], "POST");
        assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let ack: Ack = serde_json::from_slice(&crate::ack::futures_body(res.into_body())).unwrap();
        assert_eq!(ack.error_code(), 40501);
    }

    #[test]
    fn unauthorized_names_its_scheme() {
        let res: Response<http_body_util::Full<Bytes>> =
            Rejection::new(RejectionKind::BadSignature).http_response();
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.headers()[header::WWW_AUTHENTICATE],
            "TencentCallbackSign"
        );
        assert!(res.headers().get(header::ALLOW).is_none());
    }
}
