//! The answers to a TRTC callback: 200 `{"code":0}`, or the rejection's status with
//! `{"code":<status>,"message":"..."}`.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde::Serialize;

use crate::reject::Rejection;

/// The exact bytes of the OK answer to a TRTC callback: `{"code":0}` (Tencent ignores the body of a
/// 200 and recommends this one).
pub const OK_BODY: &[u8] = br#"{"code":0}"#;

/// The answer to a TRTC callback that was taken: 200, `Content-Type: application/json`, [`OK_BODY`]
/// (static bytes, no allocation).
///
/// ```
/// use http_body_util::Full;
/// use tencent_room_callback::trtc;
///
/// let res: http::Response<Full<bytes::Bytes>> = trtc::ok_response();
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.headers()["content-type"], "application/json");
/// ```
pub fn ok_response<B: From<Bytes>>() -> Response<B> {
    json_response(StatusCode::OK, Bytes::from_static(OK_BODY))
}

/// The answer to a TRTC callback that was refused, or failed in its handler (503 included): the
/// rejection's status, `Content-Type: application/json` and `{"code":<status>,"message":"..."}`,
/// where `code` is the HTTP status (never 0: any other code is a failure to Tencent, which retries)
/// and `message` the rejection's text (which never holds a key or a signature). A 405 also says
/// `Allow: POST`; a 401 names its scheme, `WWW-Authenticate: TrtcCallbackSign`. Under 2,000 bytes,
/// as Tencent asks: a rejection's text is bounded.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::{BodyExt, Full};
/// use tencent_room_callback::{trtc, Rejection, RejectionKind};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let res: http::Response<Full<Bytes>> =
///     trtc::rejection_response(&Rejection::new(RejectionKind::BadSignature));
/// assert_eq!(res.status(), 401);
/// let body = res.into_body().collect().await?.to_bytes();
/// assert_eq!(&body[..], br#"{"code":401,"message":"callback layer: Sign does not match"}"#);
/// # Ok(())
/// # }
/// ```
pub fn rejection_response<B: From<Bytes>>(rejection: &Rejection) -> Response<B> {
    let status = rejection.status();
    let mut res = json_response(status, rejection_body(rejection));
    crate::reject::add_headers(&mut res, "TrtcCallbackSign");
    res
}

/// A handler's answer to a TRTC callback: 200 with [`OK_BODY`] for the OK acknowledgment, else 200 with
/// `{"code":<ErrorCode>,"message":"<ErrorInfo>"}` (Tencent reads the status; the body says what the
/// handler said).
pub(crate) fn ack_response<B: From<Bytes>>(ack: &crate::ack::Ack) -> Response<B> {
    if ack.is_ok() {
        return ok_response();
    }
    #[derive(Serialize)]
    struct Said<'a> {
        code: i64,
        message: &'a str,
    }
    let said = Said {
        code: ack.error_code(),
        message: ack.error_info(),
    };
    let body = serde_json::to_vec(&said)
        .map(Bytes::from)
        .unwrap_or_default();
    json_response(StatusCode::OK, body)
}

/// `{"code":<status>,"message":"callback layer: <the rejection's text>"}`.
fn rejection_body(rejection: &Rejection) -> Bytes {
    #[derive(Serialize)]
    struct Fail<'a> {
        code: u16,
        message: &'a str,
    }
    let message = format!("{}{rejection}", crate::reject::PREFIX);
    let fail = Fail {
        code: rejection.status().as_u16(),
        message: &message,
    };
    // Serializing a number and a string cannot fail; should it, the status alone still says FAIL.
    match serde_json::to_vec(&fail) {
        Ok(body) => Bytes::from(body),
        Err(_) => Bytes::from(format!("{{\"code\":{}}}", fail.code)),
    }
}

fn json_response<B: From<Bytes>>(status: StatusCode, body: Bytes) -> Response<B> {
    let mut res = Response::new(B::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
