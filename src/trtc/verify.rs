//! Verification of a TRTC callback: `SdkAppId`, then `Sign` over the raw body, then `CallbackTs`.

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use crate::config::Config;
use crate::meta::CallbackMeta;
use crate::reject::{Rejection, RejectionKind};
use crate::value::{flex, parse_digits, EventTime, UnixSeconds};

use super::event::EventCode;

/// The `SdkAppId` header (names are case-insensitive; `http` keeps them in lower case).
static SDK_APP_ID: HeaderName = HeaderName::from_static("sdkappid");
/// The `Sign` header.
static SIGN: HeaderName = HeaderName::from_static("sign");

/// What verification reads of the body, once the signature holds: the routing pair and the callback
/// times. `EventInfo` and every other field are skipped unread.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "EventGroupId", deserialize_with = "flex::u32")]
    group: u32,
    #[serde(rename = "EventType", deserialize_with = "flex::u32")]
    event_type: u32,
    #[serde(rename = "CallbackTs", default)]
    callback_ts: Option<EventTime>,
    #[serde(rename = "CallbackMsTs", default)]
    callback_ms_ts: Option<EventTime>,
}

/// The one value of header `name`: `None` when absent, `Err` when given twice with different values.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h HeaderValue>, ()> {
    let mut all = headers.get_all(name).iter();
    let first = all.next();
    match first {
        Some(first) if all.any(|other| other != first) => Err(()),
        _ => Ok(first),
    }
}

/// The app a TRTC callback names in its `SdkAppId` header.
fn sdk_app_id(headers: &HeaderMap) -> Result<u64, Rejection> {
    let value = single(headers, &SDK_APP_ID).map_err(|()| {
        Rejection::with_detail(
            RejectionKind::MalformedSdkAppId,
            "the SdkAppId header is given twice with different values",
        )
    })?;
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or(Rejection::new(RejectionKind::MissingSdkAppId))?;
    value.to_str().ok().and_then(parse_digits).ok_or_else(|| {
        Rejection::with_detail(
            RejectionKind::MalformedSdkAppId,
            format_args!(
                "{}",
                crate::value::Quoted(&String::from_utf8_lossy(value.as_bytes()))
            ),
        )
    })
}

/// Verifies a TRTC room or media event callback (protocol.md §7) without HTTP: the request's headers
/// and its body bytes, as received (the layer's method and body-size checks come first, as for the
/// one-URL callbacks).
///
/// In order, reading nothing of the body before the signature holds:
///
/// 1. `SdkAppId` (header): present (400 [`MissingSdkAppId`](RejectionKind::MissingSdkAppId)),
///    decimal (400 [`MalformedSdkAppId`](RejectionKind::MalformedSdkAppId), also when given twice
///    with different values).
/// 2. The app. One the [`Config`] does not know is refused: with 403
///    ([`UnknownSdkAppId`](RejectionKind::UnknownSdkAppId)) when no TRTC key is configured anywhere
///    (there is no secret to keep, and `Sign` is not looked at); otherwise exactly as a configured
///    app's unsigned or wrongly signed callback is (401, the same bytes, after the same work), so
///    that answers do not tell which apps a receiver serves. The reason goes to the trace only.
/// 3. `Sign` (header), when the app has a key (its own set, else the default set:
///    [`Config::trtc_app_key`], [`Config::trtc_key`]): present (401
///    [`MissingSignature`](RejectionKind::MissingSignature)) and
///    `base64(HMAC-SHA256(key, body))` for one of the app's keys, compared in constant time (401
///    [`BadSignature`](RejectionKind::BadSignature)). An app without a key is not checked: Tencent
///    signs only for apps with a callback key.
/// 4. The body: a JSON object with `EventGroupId` and `EventType` (400
///    [`MalformedBody`](RejectionKind::MalformedBody)); `EventInfo` and the rest are not read here.
/// 5. Freshness: `CallbackTs` and `CallbackMsTs` (milliseconds), each when present, within the
///    window of the configuration's clock, either direction (default ±5 minutes, edges inside:
///    [`Config::trtc_window`]); outside, 401
///    [`StaleRequestTime`](RejectionKind::StaleRequestTime). The event's own `EventTs` /
///    `EventMsTs` are never checked (an event may be older than its retry). Checked with or without
///    a key: Tencent stamps each attempt and gives up after a minute.
///
/// The metadata: the app, the pseudo-command `TRTC.<EventGroupId>.<EventType>` as
/// [`CallbackMeta::command`] (see [`EventCode`]), no client IP or platform (TRTC sends none), and
/// `CallbackTs` (else `CallbackMsTs`) in seconds as `request_time`.
///
/// Every group is verified alike (recording, AI... too): decode a room or media event with
/// [`TrtcEvent::from_json`](super::TrtcEvent::from_json), key it with
/// [`delivery_key`](super::delivery_key).
///
/// # Errors
/// The [`Rejection`] to answer with ([`rejection_response`](super::rejection_response)).
pub fn verify(
    config: &Config,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<CallbackMeta, Rejection> {
    verify_event(config, headers, body).map(|(meta, _)| meta)
}

/// [`verify`], and the typed event when the body is one (a room or media event): what the layer calls,
/// so that a typed event's body is read once, not once to verify it and again to decode it.
pub(crate) fn verify_event(
    config: &Config,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(CallbackMeta, Option<super::TrtcEvent>), Rejection> {
    let sdk_app_id = sdk_app_id(headers)?;
    // Two different `Sign`s: no single signature to check, so none matches.
    let sign = single(headers, &SIGN)
        .map(|v| v.map(HeaderValue::as_bytes))
        .unwrap_or(Some(b""));
    let known = config.knows(sdk_app_id);
    let table = config.trtc.keys.snapshot();

    if !known {
        if !table.any() {
            // No key anywhere: nothing to keep secret.
            return Err(Rejection::with_detail(
                RejectionKind::UnknownSdkAppId,
                format_args!("{sdk_app_id}"),
            ));
        }
        // Checked as a configured app's callback whose key set nobody knows: it fails where a
        // configured app's unsigned or wrongly signed callback fails, with the same answer.
        let rejection = match sign {
            None => Rejection::new(RejectionKind::MissingSignature),
            Some(sign) => {
                let _ = super::sign::verify(&[], body, sign);
                Rejection::new(RejectionKind::BadSignature)
            }
        };
        return Err(rejection.noted(format_args!(
            "SdkAppId {sdk_app_id} is not an app of this receiver"
        )));
    }

    let keys = table.effective(sdk_app_id);
    if !keys.is_empty() {
        let sign = sign.ok_or(Rejection::new(RejectionKind::MissingSignature))?;
        if !super::sign::verify(keys, body, sign) {
            return Err(Rejection::new(RejectionKind::BadSignature));
        }
    }
    drop(table);

    // A room or media event's body read whole at once; any other's (or one that is not a typed event's
    // shape) as its envelope only.
    let (envelope, event) = match super::decode_object::<super::event::Wire>(body) {
        Ok(wire) => {
            let envelope = Envelope {
                group: wire.group,
                event_type: wire.event_type,
                callback_ts: wire.callback_ts,
                callback_ms_ts: wire.callback_ms_ts,
            };
            (envelope, super::TrtcEvent::try_from(wire).ok())
        }
        Err(_) => (super::decode_object(body)?, None),
    };
    if let Some(ts) = envelope.callback_ts {
        check_fresh(config, "CallbackTs", ts)?;
    }
    if let Some(ts) = envelope.callback_ms_ts {
        check_fresh(config, "CallbackMsTs", ts)?;
    }
    let request_time = envelope
        .callback_ts
        .or(envelope.callback_ms_ts)
        .map(|ts| UnixSeconds::from_secs(ts.as_millis() / 1000));

    let meta = CallbackMeta {
        sdk_app_id,
        command: EventCode::new(envelope.group, envelope.event_type).command(),
        client_ip: None,
        platform: None,
        request_time,
    };
    Ok((meta, event))
}

/// A callback time (`name`, milliseconds) must be within the window of now, either direction; the
/// edges are inside.
fn check_fresh(config: &Config, name: &str, ts: EventTime) -> Result<(), Rejection> {
    let now = config
        .now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    let now = u64::try_from(now).unwrap_or(u64::MAX);
    let window = u64::try_from(config.trtc.window.as_millis()).unwrap_or(u64::MAX);
    let distance = now.abs_diff(ts.as_millis());
    if distance > window {
        return Err(Rejection::with_detail(
            RejectionKind::StaleRequestTime,
            format_args!(
                "{name} {} is {distance} ms from this receiver's clock (window {window} ms)",
                ts.as_millis()
            ),
        ));
    }
    Ok(())
}
