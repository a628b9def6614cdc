//! TRTC room and media event callbacks, the second wire dialect (protocol.md §7), without HTTP:
//! verify the headers and body bytes, decode the event, key it, answer.
//!
//! ```
//! use std::time::{SystemTime, UNIX_EPOCH};
//!
//! use http::HeaderMap;
//! use tencent_room_callback::trtc::{self, EventKind, ExitReason, RoomId, TrtcEvent};
//! use tencent_room_callback::Config;
//!
//! let config = Config::new(1400000000).trtc_key("123654")?; // the app's TRTC callback key
//!
//! // What Tencent POSTs: a tab-pretty-printed body, the app and the signature in headers.
//! let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
//! let body = format!(
//!     "{{\n\t\"EventGroupId\":\t1,\n\t\"EventType\":\t104,\n\t\"CallbackTs\":\t{now},\n\
//!      \t\"EventInfo\":\t{{\n\t\t\"RoomId\":\t8489,\n\t\t\"EventTs\":\t\"1664209748\",\n\
//!      \t\t\"EventMsTs\":\t1664209748180,\n\t\t\"UserId\":\t\"user_85034614\",\n\
//!      \t\t\"Role\":\t20,\n\t\t\"Reason\":\t2\n\t}}\n}}"
//! );
//! let mut headers = HeaderMap::new();
//! headers.insert("SdkAppId", "1400000000".parse()?);
//! headers.insert("Sign", trtc::sign("123654", body.as_bytes()).parse()?);
//!
//! // Verify (app, signature over the raw bytes, freshness), then decode.
//! let meta = trtc::verify(&config, &headers, body.as_bytes())?;
//! assert_eq!(meta.command.as_str(), "TRTC.1.104"); // the pseudo-command routes go by
//! let event = TrtcEvent::from_json(body.as_bytes())?;
//! assert_eq!(event.kind, EventKind::ExitRoom);
//! assert_eq!(event.info.room_id, RoomId::Number(8489));
//! assert_eq!(event.info.user_id.as_ref().map(|u| u.as_str()), Some("user_85034614"));
//! assert_eq!(event.exit_reason(), Some(ExitReason::Timeout)); // raw: event.info.reason == Some(2)
//!
//! // De-duplicate on the event (a retry may carry a new CallbackTs), then answer 200 {"code":0}.
//! let key = trtc::delivery_key(meta.sdk_app_id, body.as_bytes())?;
//! assert_eq!(key, event.delivery_key(meta.sdk_app_id));
//! let answer: http::Response<http_body_util::Full<bytes::Bytes>> = trtc::ok_response();
//! assert_eq!(answer.status(), 200);
//!
//! // A body changed on the way does not verify.
//! let forged = body.replace("\"Reason\":\t2", "\"Reason\":\t1");
//! let refused = trtc::verify(&config, &headers, forged.as_bytes()).unwrap_err();
//! assert_eq!(refused.status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The dialect
//!
//! TRTC, the audio/video layer under Room and Live, reports room events (group 1: create, dismiss,
//! enter, exit, role change) and media events (group 2: video, audio and sub-stream start and stop)
//! to a URL set in the TRTC console, apart from the one-URL Chat/Room/Live callbacks: a `POST` with a
//! JSON body and no query, the app in the `SdkAppId` header and, when the app has a callback key,
//! `Sign = base64(HMAC-SHA256(key, raw body bytes))` in the `Sign` header ([`sign`]). Tencent wants
//! a 200 within 5 s, retries at once then every 10 s, and gives up once the event is a minute old.
//!
//! # Calling it from a service
//!
//! Per request, on the path the TRTC URL points to:
//!
//! 1. the method (`POST`, else 405) and the body bound (413) and timeout (408), as for the one-URL
//!    path ([`RejectionKind::MethodNotAllowed`], [`RejectionKind::BodyTooLarge`],
//!    [`RejectionKind::BodyTimeout`]);
//! 2. [`verify`]`(&config, req.headers(), &body)`: the [`CallbackMeta`] or the [`Rejection`];
//! 3. route by `meta.command`, the pseudo-command `TRTC.<EventGroupId>.<EventType>` ([`EventCode`];
//!    [`EventKind::name`] for the typed ones, [`COMMAND_PREFIX`] for all): a typed route decodes
//!    with [`TrtcEvent::from_json`]`(&body)`, a raw one hands on the body as received (groups 3, 7,
//!    9, 11, 14... are only verified, never typed);
//! 4. de-duplicate with [`delivery_key`]`(meta.sdk_app_id, &body)`: it keys the event, not the
//!    delivery (a digest of the body, [`DeliveryKey::of`], would tell Tencent's retries apart);
//! 5. answer with [`ok_response`], or [`rejection_response`]`(&rejection)` for every failure (a 503
//!    included: `{"code":503,...}` makes Tencent retry).
//!
//! # Keys
//!
//! [`Config::trtc_key`] sets the default key set (every configured app without a set of its own),
//! [`Config::trtc_app_key`] an app's own set (an app given twice has two keys, for a switch); a key
//! is 1 to 32 ASCII letters or digits. [`Config::trtc_keys`] is the handle to rotate them at run
//! time ([`KeySets`]): one table per configuration, which its clones, its later builder calls and
//! every handle share. An app with no key is not checked (Tencent does not sign its callbacks);
//! with any key configured, an unknown app is answered as a bad signature is.
//!
//! # Cost
//!
//! Verification allocates once (the pseudo-command's name, copied into the [`CallbackCommand`]),
//! hashes the body once per key of the app (the keys' HMAC pads are hashed when configured, not per
//! callback) and skims the body once for the routing pair and the callback times. Decoding reads
//! the body once more and allocates the string fields it keeps.
//!
//! [`RejectionKind::MethodNotAllowed`]: crate::RejectionKind::MethodNotAllowed
//! [`RejectionKind::BodyTooLarge`]: crate::RejectionKind::BodyTooLarge
//! [`RejectionKind::BodyTimeout`]: crate::RejectionKind::BodyTimeout
//! [`CallbackMeta`]: crate::CallbackMeta
//! [`Rejection`]: crate::Rejection
//! [`DeliveryKey::of`]: crate::meta::DeliveryKey::of
//! [`CallbackCommand`]: crate::CallbackCommand
//! [`Config::trtc_key`]: crate::Config::trtc_key
//! [`Config::trtc_app_key`]: crate::Config::trtc_app_key
//! [`Config::trtc_keys`]: crate::Config::trtc_keys

use serde::Deserialize;

use crate::reject::{Rejection, RejectionKind};

mod answer;
mod event;
mod key;
mod sign;
mod verify;

#[cfg(test)]
mod tests;

pub use crate::config::trtc_keys::KeySets;
pub(crate) use answer::ack_response;
pub use answer::{ok_response, rejection_response, OK_BODY};
pub use event::{
    EnterReason, EventCode, EventInfo, EventKind, ExitReason, Role, RoomId, TrtcEvent,
};
pub use key::delivery_key;
pub use sign::sign;
pub use verify::verify;
pub(crate) use verify::verify_event;

/// The prefix of every TRTC pseudo-command (`TRTC.1.104`...): a route on it takes every TRTC
/// callback. No Tencent `CallbackCommand` starts with it.
pub const COMMAND_PREFIX: &str = "TRTC.";

/// Decodes a JSON object body into `T`, refusing anything that is not an object or not UTF-8; the
/// error's text is bounded (a decoder's message may quote the body).
pub(crate) fn decode_object<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Rejection> {
    crate::event::check_object(body)?;
    // The whole body is UTF-8, as Tencent sends it, also in the fields skipped unread (which the
    // decoder would not look at); the decoder then reads it as a `str`.
    let text = std::str::from_utf8(body).map_err(|e| {
        Rejection::with_detail(
            RejectionKind::MalformedBody,
            format_args!("body is not UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    serde_json::from_str(text).map_err(|e| {
        Rejection::with_detail(RejectionKind::MalformedBody, crate::value::capped(e, 256))
    })
}
