//! The TRTC dialect end to end, sans-IO: verification rules, events, keys and answers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response};
use http_body_util::Full;
use proptest::prelude::*;

use super::*;
use crate::config::{Config, ConfigError};
use crate::event::{AccountId, EventTime, UnixSeconds};
use crate::meta::CallbackMeta;
use crate::reject::{Rejection, RejectionKind};

const APP: u64 = 1400000000;
const OTHER_APP: u64 = 1400000001;
/// `CallbackTs` of Tencent's vector; the tests' clock reads it unless told otherwise.
const NOW_MS: u64 = 1664209748188;
const KEY: &str = "123654";

/// Tencent's vector (protocol.md §7): the body with real newlines and tabs, and its `Sign` for `KEY`.
const VECTOR_BODY: &str = "{\n\t\"EventGroupId\":\t2,\n\t\"EventType\":\t204,\n\t\"CallbackTs\":\t1664209748188,\n\t\"EventInfo\":\t{\n\t\t\"RoomId\":\t8489,\n\t\t\"EventTs\":\t1664209748,\n\t\t\"EventMsTs\":\t1664209748180,\n\t\t\"UserId\":\t\"user_85034614\",\n\t\t\"Reason\":\t0\n\t}\n}";
const VECTOR_SIGN: &str = "kkoFeO3Oh2ZHnjtg8tEAQhtXK16/KI05W3BQff8IvGA=";

/// A body as Tencent prints it: tab-indented, one field a line. `top` holds the top-level fields
/// after `EventGroupId` and `EventType` (e.g. `"CallbackTs":\t1`), each `(name, JSON value)`.
fn tencent(group: &str, ty: &str, top: &[(&str, &str)], info: &[(&str, &str)]) -> String {
    let mut s = format!("{{\n\t\"EventGroupId\":\t{group},\n\t\"EventType\":\t{ty},\n");
    for (name, value) in top {
        s += &format!("\t\"{name}\":\t{value},\n");
    }
    s += "\t\"EventInfo\":\t{";
    for (i, (name, value)) in info.iter().enumerate() {
        s += if i == 0 { "\n" } else { ",\n" };
        s += &format!("\t\t\"{name}\":\t{value}");
    }
    s += "\n\t}\n}";
    s
}

const TS: (&str, &str) = ("CallbackTs", "1664209748188");

/// An exit event (104) of `user_85034614` from room 8489, sent at `NOW_MS`.
fn exit_body() -> String {
    tencent(
        "1",
        "104",
        &[TS],
        &[
            ("RoomId", "8489"),
            ("EventTs", "1664209748"),
            ("EventMsTs", "1664209748180"),
            ("UserId", "\"user_85034614\""),
            ("Role", "20"),
            ("Reason", "1"),
        ],
    )
}

fn clock_at(ms: u64) -> impl Fn() -> SystemTime + Send + Sync + 'static {
    move || UNIX_EPOCH + Duration::from_millis(ms)
}

/// App `APP`, no key, the clock at `NOW_MS`.
fn open() -> Config {
    Config::new(APP).clock(clock_at(NOW_MS))
}

/// App `APP` with key `KEY` in the default set, the clock at `NOW_MS`.
fn keyed() -> Config {
    open().trtc_key(KEY).unwrap()
}

fn headers(app: Option<&str>, sign: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(app) = app {
        h.insert("SdkAppId", HeaderValue::from_str(app).unwrap());
    }
    if let Some(sign) = sign {
        h.insert("Sign", HeaderValue::from_str(sign).unwrap());
    }
    h
}

/// The headers Tencent sends for `body` of `app` signed with `key`.
fn signed(app: u64, key: &str, body: &str) -> HeaderMap {
    headers(Some(&app.to_string()), Some(&sign(key, body.as_bytes())))
}

fn check(config: &Config, headers: &HeaderMap, body: &str) -> Result<CallbackMeta, Rejection> {
    verify(config, headers, body.as_bytes())
}

fn kind(config: &Config, headers: &HeaderMap, body: &str) -> Result<(), RejectionKind> {
    check(config, headers, body).map(drop).map_err(|r| r.kind())
}

/// The whole answer to a rejection: status, headers and body bytes.
fn answer(r: &Rejection) -> (u16, Vec<(String, String)>, Bytes) {
    let res: Response<Full<Bytes>> = rejection_response(r);
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    (status, headers, crate::ack::futures_body(res.into_body()))
}

// ---------------------------------------------------------------------------------------------
// Signature and verification

#[test]
fn tencent_vector_verifies_with_its_metadata() {
    assert_eq!(sign(KEY, VECTOR_BODY.as_bytes()), VECTOR_SIGN);
    let meta = check(
        &keyed(),
        &headers(Some("1400000000"), Some(VECTOR_SIGN)),
        VECTOR_BODY,
    )
    .unwrap();
    assert_eq!(meta.sdk_app_id, APP);
    assert_eq!(meta.command.as_str(), "TRTC.2.204");
    assert_eq!(meta.command, EventKind::StopAudio.code().command());
    assert_eq!(meta.command.typed(), None);
    assert!(!meta.command.is_decision() && meta.command.is_notification());
    assert_eq!((meta.client_ip, meta.platform), (None, None));
    assert_eq!(meta.request_time, Some(UnixSeconds::from_secs(1664209748)));
    // The vector is a well-formed event too, pretty-printed as sent.
    let e = TrtcEvent::from_json(VECTOR_BODY.as_bytes()).unwrap();
    assert_eq!(e.kind, EventKind::StopAudio);
    assert_eq!(e.info.room_id, RoomId::Number(8489));
    assert_eq!(e.info.reason, Some(0));
    assert_eq!(
        VECTOR_BODY,
        tencent(
            "2",
            "204",
            &[TS],
            &[
                ("RoomId", "8489"),
                ("EventTs", "1664209748"),
                ("EventMsTs", "1664209748180"),
                ("UserId", "\"user_85034614\""),
                ("Reason", "0"),
            ]
        )
    );
}

#[test]
fn the_web_pages_escaped_body_does_not_verify() {
    // The pages print `\n` and `\t` as two characters each: other bytes, another signature.
    let escaped = VECTOR_BODY.replace('\n', "\\n").replace('\t', "\\t");
    assert_ne!(sign(KEY, escaped.as_bytes()), VECTOR_SIGN);
    let h = headers(Some("1400000000"), Some(VECTOR_SIGN));
    assert_eq!(
        kind(&keyed(), &h, &escaped),
        Err(RejectionKind::BadSignature)
    );
    // Nor does the same JSON re-serialized.
    let compact =
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(VECTOR_BODY).unwrap())
            .unwrap();
    assert_eq!(
        kind(&keyed(), &h, &compact),
        Err(RejectionKind::BadSignature)
    );
}

#[test]
fn sdk_app_id_rules() {
    let body = exit_body();
    let c = open().app_id(OTHER_APP);
    let k = |h: &HeaderMap| kind(&c, h, &body);
    assert_eq!(k(&headers(Some("1400000000"), None)), Ok(()));
    assert_eq!(k(&headers(Some("1400000001"), None)), Ok(()));
    assert_eq!(k(&headers(None, None)), Err(RejectionKind::MissingSdkAppId));
    assert_eq!(
        k(&headers(Some(""), None)),
        Err(RejectionKind::MissingSdkAppId)
    );
    for bad in [
        "abc",
        "+1400000000",
        "1400000000 x",
        "-1",
        "1.4e9",
        "99999999999999999999999",
    ] {
        assert_eq!(
            k(&headers(Some(bad), None)),
            Err(RejectionKind::MalformedSdkAppId),
            "{bad}"
        );
    }
    let mut h = HeaderMap::new();
    h.insert("sdkappid", HeaderValue::from_bytes(b"14\xff").unwrap());
    assert_eq!(k(&h), Err(RejectionKind::MalformedSdkAppId));
    // Header names are case-insensitive; the same value twice is one value, two values conflict.
    let mut h = HeaderMap::new();
    h.append("SDKAPPID", HeaderValue::from_static("1400000000"));
    h.append("sdkAppId", HeaderValue::from_static("1400000000"));
    assert_eq!(k(&h), Ok(()));
    h.append("SdkAppId", HeaderValue::from_static("1400000001"));
    assert_eq!(k(&h), Err(RejectionKind::MalformedSdkAppId));
    // A malformed value is quoted briefly.
    let long = "x".repeat(5000);
    let r = check(&c, &headers(Some(&long), None), &body).unwrap_err();
    assert!(r.to_string().len() < 200, "{r}");
    // Another app with no key anywhere: 403, Sign not looked at.
    assert_eq!(
        k(&headers(Some("1400000009"), Some("garbage"))),
        Err(RejectionKind::UnknownSdkAppId)
    );
}

#[test]
fn signature_rules() {
    let body = exit_body();
    let c = keyed();
    let app = Some("1400000000");
    assert_eq!(kind(&c, &signed(APP, KEY, &body), &body), Ok(()));
    assert_eq!(
        kind(&c, &headers(app, None), &body),
        Err(RejectionKind::MissingSignature)
    );
    let right = sign(KEY, body.as_bytes());
    for bad in [
        String::new(),
        "garbage".to_owned(),
        sign("654321", body.as_bytes()),
        sign(KEY, format!("{body} ").as_bytes()),
        right.trim_end_matches('=').to_owned(),
        right.to_lowercase(),
        format!("{right}="),
        hex(&right),
    ] {
        assert_eq!(
            kind(&c, &headers(app, Some(&bad)), &body),
            Err(RejectionKind::BadSignature),
            "{bad}"
        );
    }
    // One byte of the body changed.
    let tampered = body.replacen("8489", "8488", 1);
    assert_eq!(
        kind(&c, &signed(APP, KEY, &body), &tampered),
        Err(RejectionKind::BadSignature)
    );
    // The same Sign twice is one; two different ones match nothing.
    let mut h = signed(APP, KEY, &body);
    h.append("sign", HeaderValue::from_str(&right).unwrap());
    assert_eq!(kind(&c, &h, &body), Ok(()));
    h.append(
        "SIGN",
        HeaderValue::from_str(&sign("other", body.as_bytes())).unwrap(),
    );
    assert_eq!(kind(&c, &h, &body), Err(RejectionKind::BadSignature));
    // No key: Sign is not checked at all.
    assert_eq!(kind(&open(), &headers(app, Some("garbage")), &body), Ok(()));
    // A rejection never carries the expected signature or the key.
    let r = check(&c, &headers(app, Some(&"A".repeat(43))), &body).unwrap_err();
    let text = format!("{r} {r:?} {:?}", answer(&r));
    assert!(!text.contains(&right) && !text.contains(KEY), "{text}");
}

/// `s` as hex, another encoding of a signature.
fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn each_app_is_checked_against_its_own_keys_only() {
    let body = exit_body();
    let c = open()
        .trtc_key("defaultKey")
        .unwrap()
        .trtc_app_key(OTHER_APP, "keyOfB")
        .unwrap()
        .app_id(3);
    let k = |app: u64, key: &str| kind(&c, &signed(app, key, &body), &body);
    assert_eq!(k(APP, "defaultKey"), Ok(()));
    assert_eq!(k(3, "defaultKey"), Ok(()));
    assert_eq!(k(OTHER_APP, "keyOfB"), Ok(()));
    // B's key never verifies A (nor C), the default key never verifies B.
    assert_eq!(k(APP, "keyOfB"), Err(RejectionKind::BadSignature));
    assert_eq!(k(3, "keyOfB"), Err(RejectionKind::BadSignature));
    assert_eq!(k(OTHER_APP, "defaultKey"), Err(RejectionKind::BadSignature));
    // An app with a key of its own only: the others are not checked (Tencent does not sign them).
    let c = open().trtc_app_key(OTHER_APP, "keyOfB").unwrap();
    assert_eq!(kind(&c, &headers(Some("1400000000"), None), &body), Ok(()));
    assert_eq!(
        kind(&c, &headers(Some("1400000001"), None), &body),
        Err(RejectionKind::MissingSignature)
    );
    assert_eq!(kind(&c, &signed(APP, "keyOfB", &body), &body), Ok(()));
}

#[test]
fn keys_rotate_at_run_time() -> Result<(), ConfigError> {
    let body = exit_body();
    let base = open();
    let handle = base.trtc_keys(); // taken before the builder calls below
    let c = base
        .trtc_app_key(APP, "oldKey")?
        .trtc_app_key(APP, "newKey")?;
    let k = |key: &str| kind(&c, &signed(APP, key, &body), &body);
    // Listed twice: both keys, for the switch.
    assert_eq!((k("oldKey"), k("newKey")), (Ok(()), Ok(())));
    handle.set_app(APP, ["newKey"])?;
    assert_eq!(k("oldKey"), Err(RejectionKind::BadSignature));
    assert_eq!(k("newKey"), Ok(()));
    handle.set_app(APP, ["newerKey", "newKey"])?;
    assert_eq!(k("newerKey"), Ok(()));
    // Back to the default set, which is empty: no key for the app, nothing checked.
    assert!(handle.remove_app(APP));
    assert!(!handle.any_key());
    assert_eq!(kind(&c, &headers(Some("1400000000"), None), &body), Ok(()));
    handle.set_default(["defaultKey"])?;
    assert_eq!(
        kind(&c, &headers(Some("1400000000"), None), &body),
        Err(RejectionKind::MissingSignature)
    );
    assert_eq!(k("defaultKey"), Ok(()));
    Ok(())
}

#[test]
fn unknown_apps_answer_exactly_as_bad_signatures() {
    let body = exit_body();
    let c = keyed()
        .app_id(OTHER_APP)
        .trtc_app_key(3, "keyOfThree")
        .unwrap();
    for unknown in [9u64, 1400000009] {
        for sign_of in [
            None,
            Some(String::new()),
            Some("garbage".to_owned()),
            Some(sign(KEY, body.as_bytes())), // the default key
            Some(sign("keyOfThree", body.as_bytes())), // another app's key
            Some(sign("other", body.as_bytes())),
        ] {
            let known_answer = |app: &str| check(&c, &headers(Some(app), sign_of.as_deref()), "{}");
            let stranger = check(
                &c,
                &headers(Some(&unknown.to_string()), sign_of.as_deref()),
                &body,
            )
            .unwrap_err();
            // The known app's callback with the same Sign, when that Sign is wrong for it.
            let wrong_for_known = if sign_of.as_deref() == Some(&sign(KEY, body.as_bytes())) {
                known_answer("3").unwrap_err()
            } else {
                known_answer("1400000000").unwrap_err()
            };
            assert_eq!(stranger.kind(), wrong_for_known.kind(), "{sign_of:?}");
            assert_eq!(answer(&stranger), answer(&wrong_for_known), "{sign_of:?}");
            let (status, _, bytes) = answer(&stranger);
            assert_eq!(status, 401);
            assert!(!String::from_utf8_lossy(&bytes).contains(&unknown.to_string()));
            assert!(stranger
                .note()
                .unwrap()
                .contains("not an app of this receiver"));
        }
    }
    // Without any key anywhere, 403: nothing to hide.
    let r = check(&open(), &headers(Some("9"), Some(VECTOR_SIGN)), &body).unwrap_err();
    assert_eq!(r.kind(), RejectionKind::UnknownSdkAppId);
    assert_eq!(answer(&r).0, 403);
}

#[test]
fn freshness_window_on_callback_times_only() {
    let window = 300_000;
    let at = |now: u64| keyed().clock(clock_at(now));
    let body_with = |top: &[(&str, &str)]| {
        tencent(
            "1",
            "104",
            top,
            &[
                ("RoomId", "1"),
                ("UserId", "\"u\""),
                ("EventTs", "1"),
                ("EventMsTs", "1000"),
            ],
        )
    };
    let k = |c: &Config, body: &str| kind(c, &signed(APP, KEY, body), body);
    let ts = |v: u64| v.to_string();
    for name in ["CallbackTs", "CallbackMsTs"] {
        let v = ts(NOW_MS);
        let body = body_with(&[(name, &v)]);
        // The edges are inside, either direction; one millisecond past is out.
        assert_eq!(k(&at(NOW_MS + window), &body), Ok(()), "{name}");
        assert_eq!(k(&at(NOW_MS - window), &body), Ok(()), "{name}");
        assert_eq!(
            k(&at(NOW_MS + window + 1), &body),
            Err(RejectionKind::StaleRequestTime),
            "{name}"
        );
        assert_eq!(
            k(&at(NOW_MS - window - 1), &body),
            Err(RejectionKind::StaleRequestTime),
            "{name}"
        );
        // As a string of digits too.
        let quoted = format!("\"{NOW_MS}\"");
        assert_eq!(
            k(&at(NOW_MS), &body_with(&[(name, &quoted)])),
            Ok(()),
            "{name}"
        );
        let meta = check(&at(NOW_MS), &signed(APP, KEY, &body), &body).unwrap();
        assert_eq!(
            meta.request_time,
            Some(UnixSeconds::from_secs(NOW_MS / 1000))
        );
    }
    // Both present: each is checked.
    let now = ts(NOW_MS);
    let old = ts(NOW_MS - window - 1);
    assert_eq!(
        k(
            &at(NOW_MS),
            &body_with(&[("CallbackTs", &now), ("CallbackMsTs", &now)])
        ),
        Ok(())
    );
    assert_eq!(
        k(
            &at(NOW_MS),
            &body_with(&[("CallbackTs", &now), ("CallbackMsTs", &old)])
        ),
        Err(RejectionKind::StaleRequestTime)
    );
    assert_eq!(
        k(
            &at(NOW_MS),
            &body_with(&[("CallbackTs", &old), ("CallbackMsTs", &now)])
        ),
        Err(RejectionKind::StaleRequestTime)
    );
    // Neither: nothing to check, no request time. EventTs / EventMsTs (1970 here) never count.
    let none = body_with(&[]);
    let meta = check(&at(NOW_MS), &signed(APP, KEY, &none), &none).unwrap();
    assert_eq!(meta.request_time, None);
    assert_eq!(k(&at(u64::MAX / 2), &none), Ok(()));
    // Without a key too (Tencent stamps every attempt).
    let stale = body_with(&[("CallbackTs", &old)]);
    assert_eq!(
        kind(&open(), &headers(Some("1400000000"), None), &stale),
        Err(RejectionKind::StaleRequestTime)
    );
    // The signature comes first: a stale body with a bad Sign is a bad signature.
    assert_eq!(
        kind(
            &keyed(),
            &headers(Some("1400000000"), Some(VECTOR_SIGN)),
            &stale
        ),
        Err(RejectionKind::BadSignature)
    );
    // The window is configurable.
    let narrow = keyed().trtc_window(Duration::from_secs(1));
    let near = body_with(&[("CallbackTs", &ts(NOW_MS - 1000))]);
    let far = body_with(&[("CallbackTs", &ts(NOW_MS - 1001))]);
    assert_eq!(k(&narrow, &near), Ok(()));
    assert_eq!(k(&narrow, &far), Err(RejectionKind::StaleRequestTime));
    // The answer says which time and by how much, never a key.
    let r = check(&at(NOW_MS), &signed(APP, KEY, &stale), &stale).unwrap_err();
    assert_eq!(r.to_string(), "RequestTime is outside the allowed window: CallbackTs 1664209448187 is 300001 ms from this receiver's clock (window 300000 ms)");
    // Malformed times are malformed bodies; absurd ones are stale, never a panic.
    for bad in ["-1", "1.5", "\"abc\"", "true", "[]", "99999999999999999999"] {
        assert_eq!(
            k(&at(NOW_MS), &body_with(&[("CallbackTs", bad)])),
            Err(RejectionKind::MalformedBody),
            "{bad}"
        );
    }
    for absurd in ["0", "18446744073709551615"] {
        assert_eq!(
            k(&at(NOW_MS), &body_with(&[("CallbackTs", absurd)])),
            Err(RejectionKind::StaleRequestTime)
        );
    }
    assert_eq!(
        k(
            &keyed().clock(|| UNIX_EPOCH - Duration::from_secs(1)),
            &body_with(&[("CallbackTs", "0")])
        ),
        Ok(())
    );
}

#[test]
fn bodies_that_are_not_trtc_events_are_malformed() {
    let c = keyed();
    for bad in [
        "",
        "  \n\t",
        "null",
        "[1,104]",
        "\"EventGroupId\"",
        "{",
        "{}",
        "{\"EventGroupId\":1}",
        "{\"EventType\":104}",
        "{\"EventGroupId\":\"one\",\"EventType\":104}",
        "{\"EventGroupId\":1,\"EventType\":-104}",
        "{\"EventGroupId\":1,\"EventType\":104.0}",
        "{\"EventGroupId\":1,\"EventType\":4294967296}",
        "{\"EventGroupId\":1,\"EventGroupId\":2,\"EventType\":104}",
        "{\"EventGroupId\":1,\"EventType\":104} trailing",
        "{\"EventGroupId\":1,\"EventType\":104,\"x\":\"\u{0}\"",
    ] {
        let r = check(&c, &signed(APP, KEY, bad), bad).unwrap_err();
        assert_eq!(r.kind(), RejectionKind::MalformedBody, "{bad:?}");
        assert_eq!(answer(&r).0, 400);
    }
    // Invalid UTF-8, signed.
    let bytes = b"{\"EventGroupId\":1,\"EventType\":104,\"X\":\"\xff\"}";
    let h = headers(Some("1400000000"), Some(&sign(KEY, bytes)));
    assert_eq!(
        verify(&c, &h, bytes).unwrap_err().kind(),
        RejectionKind::MalformedBody
    );
    // A long value is never quoted whole.
    let long = format!(
        "{{\"EventGroupId\":\"{}\",\"EventType\":1}}",
        "\u{7f}".repeat(100_000)
    );
    let r = check(&c, &signed(APP, KEY, &long), &long).unwrap_err();
    assert!(answer(&r).2.len() < 400, "{}", answer(&r).2.len());
    // The routing pair is all verification needs: any group, unknown fields, no EventInfo.
    for (body, command) in [
        (
            "{\"EventGroupId\":3,\"EventType\":301,\"New\":[1]}",
            "TRTC.3.301",
        ),
        (
            "{\"EventGroupId\":\"9\",\"EventType\":\"901\"}",
            "TRTC.9.901",
        ),
        (
            "{\"EventGroupId\":1,\"EventType\":106,\"EventInfo\":null}",
            "TRTC.1.106",
        ),
        (
            "{\"EventType\":0,\"EventGroupId\":4294967295}",
            "TRTC.4294967295.0",
        ),
    ] {
        let meta = check(&c, &signed(APP, KEY, body), body).unwrap();
        assert_eq!(meta.command.as_str(), command);
        assert_eq!(
            EventCode::of(&meta.command)
                .map(|c| c.to_string())
                .as_deref(),
            Some(command)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Codes and the pseudo-command

#[test]
fn codes_and_names() {
    let mut seen = std::collections::HashSet::new();
    for &k in EventKind::ALL {
        let code = k.code();
        assert!(seen.insert(code));
        assert_eq!(code.kind(), Some(k));
        assert_eq!(EventKind::from_code(code), Some(k));
        assert_eq!(k.name(), code.to_string());
        assert_eq!(k.to_string(), k.name());
        assert_eq!(code.command().as_str(), k.name());
        assert_eq!(EventCode::parse(k.name()), Some(code));
        assert!(k.name().starts_with(COMMAND_PREFIX));
        assert_eq!(k.is_room(), code.group() == 1);
        assert_eq!(k.is_media(), code.group() == 2);
    }
    assert_eq!(EventKind::ALL.len(), 11);
    assert_eq!(EventKind::ExitRoom.name(), "TRTC.1.104");
    assert_eq!(EventKind::StartSubStream.code(), EventCode::new(2, 205));
    assert_eq!(EventCode::new(3, 301).kind(), None);
    assert_eq!(EventCode::new(1, 106).kind(), None);
    assert_eq!(
        EventCode::new(u32::MAX, u32::MAX).command().as_str(),
        "TRTC.4294967295.4294967295"
    );
    for bad in [
        "",
        "TRTC.",
        "TRTC.1",
        "TRTC.1.",
        "TRTC..104",
        "TRTC.1.104.5",
        "TRTC.01.104",
        "TRTC.1.0104",
        "TRTC.-1.104",
        "TRTC.+1.104",
        "TRTC.4294967296.1",
        "trtc.1.104",
        "Room.CallbackAfterMemberLeave",
        "TRTC.1.104 ",
    ] {
        assert_eq!(EventCode::parse(bad), None, "{bad}");
    }
    assert_eq!(EventCode::parse("TRTC.0.0"), Some(EventCode::new(0, 0)));
    assert_eq!(EventCode::of(&crate::Command::MemberLeave.into()), None);
}

// ---------------------------------------------------------------------------------------------
// Events

fn decode(body: &str) -> Result<TrtcEvent, RejectionKind> {
    TrtcEvent::from_json(body.as_bytes()).map_err(|r| r.kind())
}

#[test]
fn every_typed_event_decodes() {
    for &k in EventKind::ALL {
        let code = k.code();
        let body = tencent(
            &code.group().to_string(),
            &code.event_type().to_string(),
            &[TS],
            &[
                ("RoomId", "\"room-1\""),
                ("EventTs", "1664209748"),
                ("EventMsTs", "1664209748180"),
                ("UserId", "\"u1\""),
            ],
        );
        let e = decode(&body).unwrap();
        assert_eq!(e.kind, k);
        assert_eq!(e.code(), code);
        assert_eq!(e.room_id(), &RoomId::from("room-1"));
        assert_eq!(e.user_id().map(AccountId::as_str), Some("u1"));
        assert_eq!(e.callback_ts, Some(EventTime::from_millis(NOW_MS)));
        assert_eq!(e.info.event_ts, Some(UnixSeconds::from_secs(1664209748)));
        assert_eq!(
            e.info.event_ms_ts,
            Some(EventTime::from_millis(1664209748180))
        );
    }
}

#[test]
fn enter_sample_with_every_field() {
    let body = tencent(
        "1",
        "103",
        &[TS],
        &[
            ("RoomId", "\"living-room\""),
            ("EventTs", "\"1664209748\""),
            ("EventMsTs", "\"1664209748180\""),
            ("UserId", "\"user_1\""),
            ("UniqueId", "1615360520"),
            ("Role", "21"),
            ("TerminalType", "3"),
            ("UserType", "\"6\""),
            ("Reason", "2"),
            ("SomethingNew", "{\"nested\":[1,2]}"),
        ],
    );
    let e = decode(&body).unwrap();
    assert_eq!(e.kind, EventKind::EnterRoom);
    assert_eq!(e.info.event_ts, Some(UnixSeconds::from_secs(1664209748)));
    assert_eq!(
        e.info.event_ms_ts,
        Some(EventTime::from_millis(1664209748180))
    );
    assert_eq!(e.info.unique_id, Some(1615360520));
    assert_eq!(e.info.role, Some(Role::Audience));
    assert_eq!(e.info.terminal_type, Some(3));
    assert_eq!(e.info.user_type, Some(6));
    assert_eq!(e.info.reason, Some(2));
    assert_eq!(e.enter_reason(), Some(EnterReason::NetworkSwitch));
    assert_eq!(e.exit_reason(), None);
    // Back to Tencent's names, numbers as numbers, the unknown field gone.
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"EventGroupId":1,"EventType":103,"CallbackTs":1664209748188,"EventInfo":{"RoomId":"living-room","EventTs":1664209748,"EventMsTs":1664209748180,"UserId":"user_1","UniqueId":1615360520,"Role":21,"TerminalType":3,"UserType":6,"Reason":2}}"#
    );
}

#[test]
fn room_ids_are_kept_exactly() {
    let room =
        |v: &str| decode(&tencent("1", "101", &[], &[("RoomId", v)])).map(|e| e.info.room_id);
    assert_eq!(room("8489"), Ok(RoomId::Number(8489)));
    assert_eq!(room("\"8489\""), Ok(RoomId::String("8489".into())));
    assert_ne!(room("8489"), room("\"8489\""));
    // Past 2^53, where a float would round: exact.
    assert_eq!(
        room("9007199254740993"),
        Ok(RoomId::Number(9_007_199_254_740_993))
    );
    assert_eq!(room("18446744073709551615"), Ok(RoomId::Number(u64::MAX)));
    assert_eq!(room("\"\\u0041b\""), Ok(RoomId::String("Ab".into())));
    for bad in [
        "18446744073709551616",
        "-1",
        "1.0",
        "1e3",
        "true",
        "null",
        "[1]",
        "{}",
    ] {
        assert_eq!(room(bad), Err(RejectionKind::MalformedBody), "{bad}");
    }
    // Serialized as it came: a number as a number, a string as a string.
    for (src, json) in [
        ("9007199254740993", "9007199254740993"),
        ("\"9007199254740993\"", "\"9007199254740993\""),
    ] {
        let e = decode(&tencent("1", "101", &[], &[("RoomId", src)])).unwrap();
        let out = serde_json::to_string(&e).unwrap();
        assert_eq!(
            out,
            format!(r#"{{"EventGroupId":1,"EventType":101,"EventInfo":{{"RoomId":{json}}}}}"#)
        );
        assert_eq!(TrtcEvent::from_json(out.as_bytes()).unwrap(), e);
    }
    let n = RoomId::Number(9_007_199_254_740_993);
    assert_eq!(
        (n.to_string(), n.is_number(), n.as_number(), n.as_string()),
        (
            "9007199254740993".into(),
            true,
            Some(9_007_199_254_740_993),
            None
        )
    );
    let s = RoomId::from("r");
    assert_eq!(
        (s.is_number(), s.as_number(), s.as_string()),
        (false, None, Some("r"))
    );
}

#[test]
fn required_fields() {
    let with =
        |group: &str, ty: &str, info: &[(&str, &str)]| decode(&tencent(group, ty, &[TS], info));
    // RoomId always; UserId on enter and exit only.
    assert_eq!(
        with("1", "104", &[("UserId", "\"u\"")]).unwrap_err(),
        RejectionKind::MalformedBody
    );
    assert_eq!(
        with("1", "104", &[("RoomId", "1")]).unwrap_err(),
        RejectionKind::MalformedBody
    );
    assert_eq!(
        with("1", "103", &[("RoomId", "1"), ("UserId", "null")]).unwrap_err(),
        RejectionKind::MalformedBody
    );
    assert!(with("1", "101", &[("RoomId", "1")]).is_ok());
    assert!(with("1", "102", &[("RoomId", "1")]).is_ok());
    assert!(with("2", "201", &[("RoomId", "1")]).is_ok());
    let missing =
        TrtcEvent::from_json(tencent("1", "104", &[], &[("RoomId", "1")]).as_bytes()).unwrap_err();
    assert!(missing.to_string().contains("UserId"), "{missing}");
    // EventInfo must be an object.
    for info in ["null", "[1,2]", "\"r\"", "7"] {
        let body = format!("{{\"EventGroupId\":1,\"EventType\":101,\"EventInfo\":{info}}}");
        assert_eq!(
            decode(&body).unwrap_err(),
            RejectionKind::MalformedBody,
            "{info}"
        );
    }
    assert_eq!(
        decode("{\"EventGroupId\":1,\"EventType\":101}").unwrap_err(),
        RejectionKind::MalformedBody
    );
    // Groups and types this crate does not type: not a typed event (deliver them raw).
    for (g, t) in [
        ("3", "301"),
        ("9", "901"),
        ("1", "106"),
        ("2", "207"),
        ("0", "0"),
    ] {
        assert_eq!(
            with(g, t, &[("RoomId", "1")]).unwrap_err(),
            RejectionKind::UnknownCommand,
            "{g}.{t}"
        );
    }
    // Fields of the wrong type are refused; a long string is described, not quoted.
    for (name, value) in [
        ("Role", "\"anchor\""),
        ("Reason", "-1"),
        ("UserId", "1.5"),
        ("EventTs", "\"1 \""),
        ("TerminalType", "4294967296"),
        ("UniqueId", "{}"),
    ] {
        let r = with(
            "1",
            "103",
            &[("RoomId", "1"), ("UserId", "\"u\""), (name, value)],
        );
        assert_eq!(
            r.unwrap_err(),
            RejectionKind::MalformedBody,
            "{name}: {value}"
        );
    }
    let long = format!("\"{}\"", "\u{7f}".repeat(100_000));
    for name in ["Role", "EventTs", "Reason"] {
        let body = tencent(
            "1",
            "103",
            &[],
            &[("RoomId", "1"), ("UserId", "\"u\""), (name, &long)],
        );
        let r = TrtcEvent::from_json(body.as_bytes()).unwrap_err();
        assert!(r.to_string().len() < 400, "{name}: {}", r.to_string().len());
    }
    let body = format!("{{\"EventGroupId\":1,\"EventType\":101,\"EventInfo\":{long}}}");
    assert!(
        TrtcEvent::from_json(body.as_bytes())
            .unwrap_err()
            .to_string()
            .len()
            < 400
    );
}

#[test]
fn reasons_keep_the_raw_value_next_to_the_mapping() {
    let exit = |reason: &str| {
        decode(&tencent(
            "1",
            "104",
            &[],
            &[("RoomId", "1"), ("UserId", "\"u\""), ("Reason", reason)],
        ))
        .unwrap()
    };
    for (raw, mapped) in [
        (1, ExitReason::Normal),
        (2, ExitReason::Timeout),
        (3, ExitReason::Removed),
        (4, ExitReason::CrossRoomCancelled),
        (5, ExitReason::ProcessKilled),
        (0, ExitReason::Other(0)),
        (9, ExitReason::Other(9)),
    ] {
        let e = exit(&raw.to_string());
        assert_eq!(e.info.reason, Some(raw));
        assert_eq!(e.exit_reason(), Some(mapped));
        assert_eq!(mapped.code(), raw);
        assert_eq!(ExitReason::from_code(raw), mapped);
        assert_eq!(e.enter_reason(), None);
    }
    assert_eq!(exit("\"2\"").exit_reason(), Some(ExitReason::Timeout));
    let enter = |reason: &str| {
        decode(&tencent(
            "1",
            "103",
            &[],
            &[("RoomId", "1"), ("UserId", "\"u\""), ("Reason", reason)],
        ))
        .unwrap()
    };
    for (raw, mapped) in [
        (1, EnterReason::Normal),
        (2, EnterReason::NetworkSwitch),
        (3, EnterReason::TimeoutRetry),
        (4, EnterReason::CoAnchoring),
        (7, EnterReason::Other(7)),
    ] {
        let e = enter(&raw.to_string());
        assert_eq!(
            (e.info.reason, e.enter_reason(), e.exit_reason()),
            (Some(raw), Some(mapped), None)
        );
        assert_eq!(mapped.code(), raw);
    }
    // No Reason: no mapping; on other events Reason is only raw.
    let e = decode(&tencent(
        "1",
        "104",
        &[],
        &[("RoomId", "1"), ("UserId", "\"u\"")],
    ))
    .unwrap();
    assert_eq!((e.info.reason, e.exit_reason()), (None, None));
    let e = decode(&tencent(
        "2",
        "204",
        &[],
        &[("RoomId", "1"), ("Reason", "1")],
    ))
    .unwrap();
    assert_eq!(
        (e.info.reason, e.exit_reason(), e.enter_reason()),
        (Some(1), None, None)
    );
    // Roles.
    for (raw, role) in [
        (20, Role::Anchor),
        (21, Role::Audience),
        (22, Role::Other(22)),
    ] {
        assert_eq!(Role::from_code(raw), role);
        assert_eq!(role.code(), raw);
        assert_eq!(serde_json::to_string(&role).unwrap(), raw.to_string());
    }
}

#[test]
fn events_round_trip_through_tencents_names() {
    let e = decode(&exit_body()).unwrap();
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(
        json,
        r#"{"EventGroupId":1,"EventType":104,"CallbackTs":1664209748188,"EventInfo":{"RoomId":8489,"EventTs":1664209748,"EventMsTs":1664209748180,"UserId":"user_85034614","Role":20,"Reason":1}}"#
    );
    assert_eq!(TrtcEvent::from_json(json.as_bytes()).unwrap(), e);
    assert_eq!(serde_json::from_str::<TrtcEvent>(&json).unwrap(), e);
    // serde's own path refuses what from_json refuses.
    assert!(serde_json::from_str::<TrtcEvent>(
        r#"{"EventGroupId":3,"EventType":301,"EventInfo":{"RoomId":1}}"#
    )
    .is_err());
    // Built by hand.
    let mut info = EventInfo::new(42);
    info.user_id = Some("u".into());
    let mut e = TrtcEvent::new(EventKind::ExitRoom, info);
    e.callback_ms_ts = Some(EventTime::from_millis(5));
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"EventGroupId":1,"EventType":104,"CallbackMsTs":5,"EventInfo":{"RoomId":42,"UserId":"u"}}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Keys

fn key_of(body: &str) -> crate::meta::DeliveryKey {
    delivery_key(APP, body.as_bytes()).unwrap()
}

#[test]
fn the_key_is_the_event_not_the_delivery() {
    let first = exit_body();
    let k = key_of(&first);
    // A retry: a new CallbackTs, or CallbackMsTs instead, other white space, other field order,
    // an unknown field, EventMsTs as a string, UserId unchanged.
    let retries = [
        first.replace("1664209748188", "1664209758190"),
        first.replace("\"CallbackTs\"", "\"CallbackMsTs\""),
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&first).unwrap()).unwrap(),
        r#"{"EventInfo":{"Reason":1,"Role":20,"UserId":"user_85034614","EventMsTs":"1664209748180","EventTs":"1664209748","RoomId":8489,"New":true},"EventType":104,"CallbackTs":1,"EventGroupId":1}"#.to_owned(),
    ];
    for retry in &retries {
        assert_eq!(key_of(retry), k, "{retry}");
    }
    // Another user, room (a string room of the same digits too), event time, type, group or app.
    let others = [
        first.replace("user_85034614", "user_85034615"),
        first.replace("8489", "8490"),
        first.replace("\t8489", "\t\"8489\""),
        first.replace("1664209748180", "1664209748181"),
        first.replace("104", "103"),
        first.replace("\t1,", "\t2,"),
    ];
    for other in &others {
        assert_ne!(key_of(other), k, "{other}");
    }
    assert_ne!(delivery_key(OTHER_APP, first.as_bytes()).unwrap(), k);
    // The typed event keys the same.
    let e = decode(&first).unwrap();
    assert_eq!(e.delivery_key(APP), k);
    assert_ne!(e.delivery_key(OTHER_APP), k);
    // Not the one-URL body digest.
    assert_ne!(
        crate::meta::DeliveryKey::of(APP, "TRTC.1.104", first.as_bytes()),
        k
    );
}

#[test]
fn keys_without_an_event_time_fall_back_to_event_ts() {
    let with_secs = tencent(
        "1",
        "103",
        &[TS],
        &[
            ("RoomId", "1"),
            ("UserId", "\"u\""),
            ("EventTs", "1664209748"),
        ],
    );
    let k = key_of(&with_secs);
    assert_eq!(
        key_of(
            &with_secs
                .replace("1664209748,", "\"1664209748\",")
                .replace("\t1664209748\n", "\t\"1664209748\"\n")
        ),
        k
    );
    assert_ne!(
        key_of(&with_secs.replace("1664209748\n", "1664209749\n")),
        k
    );
    assert_eq!(decode(&with_secs).unwrap().delivery_key(APP), k);
    // Seconds and milliseconds of the same number are not confused.
    let with_ms = tencent(
        "1",
        "103",
        &[TS],
        &[
            ("RoomId", "1"),
            ("UserId", "\"u\""),
            ("EventMsTs", "1664209748"),
        ],
    );
    assert_ne!(key_of(&with_ms), k);
    let bare = tencent("1", "103", &[TS], &[("RoomId", "1"), ("UserId", "\"u\"")]);
    assert_eq!(decode(&bare).unwrap().delivery_key(APP), key_of(&bare));
}

#[test]
fn other_groups_are_keyed_by_their_event_info() {
    let rec = tencent(
        "3",
        "310",
        &[TS],
        &[
            ("RoomId", "\"r\""),
            ("TaskId", "\"t-1\""),
            ("EventMsTs", "1"),
            ("Payload", "{\"FileName\":\"a.mp4\"}"),
        ],
    );
    let k = key_of(&rec);
    assert_eq!(key_of(&rec.replace("1664209748188", "1664209758188")), k);
    assert_eq!(
        key_of(&rec.replace("\"CallbackTs\"", "\"CallbackMsTs\"")),
        k
    );
    // Two events that differ only in a field the room/media rule does not read: two keys.
    assert_ne!(key_of(&rec.replace("a.mp4", "b.mp4")), k);
    assert_ne!(key_of(&rec.replace("t-1", "t-2")), k);
    assert_ne!(key_of(&rec.replace("310", "311")), k);
    let bare = "{\"EventGroupId\":9,\"EventType\":901}";
    assert_eq!(
        key_of(bare),
        key_of("{\"EventType\":901,\"EventGroupId\":9,\"CallbackMsTs\":5}")
    );
    assert_ne!(
        key_of(bare),
        key_of("{\"EventGroupId\":9,\"EventType\":902}")
    );
}

#[test]
fn the_key_exists_for_every_verified_body() {
    let c = open();
    let h = headers(Some("1400000000"), None);
    for body in [
        "{\"EventGroupId\":1,\"EventType\":104}",
        "{\"EventGroupId\":1,\"EventType\":104,\"EventInfo\":null}",
        "{\"EventGroupId\":1,\"EventType\":104,\"EventInfo\":[8489,\"u\"]}",
        "{\"EventGroupId\":1,\"EventType\":104,\"EventInfo\":{\"RoomId\":1.5}}",
        "{\"EventGroupId\":2,\"EventType\":201,\"EventInfo\":{\"RoomId\":1,\"RoomId\":2}}",
        "{\"EventGroupId\":7,\"EventType\":701,\"EventInfo\":\"x\"}",
    ] {
        assert!(check(&c, &h, body).is_ok(), "{body}");
        assert!(delivery_key(APP, body.as_bytes()).is_ok(), "{body}");
    }
    // An EventInfo of the wrong shape is keyed by its bytes, apart from the well-formed event.
    assert_ne!(
        key_of("{\"EventGroupId\":1,\"EventType\":104,\"EventInfo\":[8489,\"u\"]}"),
        key_of("{\"EventGroupId\":1,\"EventType\":104,\"EventInfo\":{\"RoomId\":8489,\"UserId\":\"u\"}}")
    );
    for bad in ["", "[]", "{}", "{\"EventGroupId\":1}"] {
        assert_eq!(
            delivery_key(APP, bad.as_bytes()).unwrap_err().kind(),
            RejectionKind::MalformedBody
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

#[test]
fn answers() {
    let ok: Response<Full<Bytes>> = ok_response();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(crate::ack::futures_body(ok.into_body()), OK_BODY);
    assert_eq!(OK_BODY, br#"{"code":0}"#);
    for k in crate::reject::tests::ALL_KINDS {
        let r = Rejection::new(k);
        let (status, headers, body) = answer(&r);
        assert_eq!(status, k.status().as_u16());
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["code"], u64::from(status), "{k:?}");
        assert_ne!(value["code"], 0);
        assert_eq!(value["message"], format!("callback layer: {r}"));
        assert_eq!(value.as_object().unwrap().len(), 2);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("content-type"), Some("application/json"));
        assert_eq!(header("allow"), (status == 405).then_some("POST"));
        assert_eq!(
            header("www-authenticate"),
            (status == 401).then_some("TrtcCallbackSign")
        );
    }
    // A long detail stays well under Tencent's 2,000 bytes; quotes are escaped.
    let r = Rejection::with_detail(
        RejectionKind::MalformedBody,
        format!("\"{}", "é".repeat(5000)),
    );
    let (_, headers, body) = answer(&r);
    let size = body.len()
        + headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>();
    assert!(size < 2000, "{size}");
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
    let (status, _, body) = answer(&Rejection::new(RejectionKind::Unavailable));
    assert_eq!(status, 503);
    assert!(body.starts_with(br#"{"code":503,"message":""#));
}

// ---------------------------------------------------------------------------------------------
// No panic, whatever the input; the two keys agree

fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z0-9_]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("null".to_owned()),
        Just("1.5".to_owned()),
        Just("{}".to_owned()),
        Just("[1]".to_owned()),
    ]
}

fn info_field() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            Just("RoomId"),
            Just("UserId"),
            Just("EventTs"),
            Just("EventMsTs"),
            Just("Role"),
            Just("Reason"),
            Just("UniqueId"),
            Just("Other")
        ],
        json_value(),
    )
        .prop_map(|(n, v)| (n.to_owned(), v))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300), sign_it: bool) {
        let c = keyed();
        let h = if sign_it { headers(Some("1400000000"), Some(&sign(KEY, &body))) } else { headers(Some("1400000000"), Some("x")) };
        let _ = verify(&c, &h, &body);
        let _ = verify(&open(), &headers(Some("1400000000"), None), &body);
        let _ = TrtcEvent::from_json(&body);
        let _ = delivery_key(APP, &body);
    }

    #[test]
    fn generated_events_verify_decode_and_key_alike(
        group in prop_oneof![Just(1u32), Just(2), Just(3)],
        ty in prop_oneof![Just(101u32), Just(103), Just(104), Just(201), Just(206), Just(301)],
        ts in prop_oneof![Just(None), (NOW_MS - 300_000..=NOW_MS + 300_000).prop_map(Some)],
        info in proptest::collection::vec(info_field(), 0..6),
    ) {
        let top: Vec<(&str, String)> = ts.map(|t| ("CallbackTs", t.to_string())).into_iter().collect();
        let top: Vec<(&str, &str)> = top.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let info: Vec<(&str, &str)> = info.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let body = tencent(&group.to_string(), &ty.to_string(), &top, &info);
        let c = keyed();
        // Any well-formed envelope verifies when signed, whatever EventInfo holds.
        let meta = check(&c, &signed(APP, KEY, &body), &body);
        prop_assert!(meta.is_ok(), "{:?}", meta);
        let meta = meta.unwrap();
        prop_assert_eq!(meta.command.as_str(), format!("TRTC.{group}.{ty}"));
        let key = delivery_key(APP, body.as_bytes());
        prop_assert!(key.is_ok());
        if let Ok(event) = TrtcEvent::from_json(body.as_bytes()) {
            // Typed: the raw-body key is the typed event's, and the event survives a round trip.
            prop_assert_eq!(event.delivery_key(APP), key.unwrap());
            let again = TrtcEvent::from_json(serde_json::to_string(&event).unwrap().as_bytes()).unwrap();
            prop_assert_eq!(&again, &event);
            prop_assert_eq!(again.delivery_key(APP), event.delivery_key(APP));
        }
    }
}
