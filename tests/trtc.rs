//! TRTC's room and media event callbacks through the layer and a real axum stack: verified on their own
//! path, delivered by the same routes as the one-URL callbacks (typed, raw, the notification hook, an
//! extension, departures), de-duplicated by the event and not the body, and answered in TRTC's
//! dialect.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::routing::any;
use axum::{Extension, Router};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tencent_room_callback::departure::{Cause, Change, Changes, Source};
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::trtc::{self, EventKind, TrtcEvent};
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, Command, Config, Dedup, HandlerError, RawCallback,
};
use tower::ServiceExt;

const APP: u64 = 1400000000;
const KEY: &str = "123654";
/// Tencent's own signed sample (protocol.md §7): real newlines and tabs, `RoomId` a number.
const VECTOR: &str = "{\n\t\"EventGroupId\":\t2,\n\t\"EventType\":\t204,\n\t\"CallbackTs\":\t1664209748188,\n\t\"EventInfo\":\t{\n\t\t\"RoomId\":\t8489,\n\t\t\"EventTs\":\t1664209748,\n\t\t\"EventMsTs\":\t1664209748180,\n\t\t\"UserId\":\t\"user_85034614\",\n\t\t\"Reason\":\t0\n\t}\n}";
const VECTOR_SIGN: &str = "kkoFeO3Oh2ZHnjtg8tEAQhtXK16/KI05W3BQff8IvGA=";
/// The sample's `CallbackTs`, in seconds: the test's clock.
const NOW: u64 = 1664209748;

/// A configuration whose clock reads the samples' time, with `KEY` as every app's key.
fn config() -> Config {
    Config::new(APP)
        .trtc_key(KEY)
        .unwrap()
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
}

/// An exit (104) of `user` from string room `room` with `reason`, sent at `callback_ms`.
fn exit(room: &str, user: &str, reason: u32, callback_ms: u64) -> String {
    format!(
        "{{\n\t\"EventGroupId\":\t1,\n\t\"EventType\":\t104,\n\t\"CallbackTs\":\t{callback_ms},\n\t\"EventInfo\":\t{{\n\t\t\"RoomId\":\t\"{room}\",\n\t\t\"EventTs\":\t\"1664209748\",\n\t\t\"EventMsTs\":\t1664209748180,\n\t\t\"UserId\":\t\"{user}\",\n\t\t\"Reason\":\t{reason}\n\t}}\n}}"
    )
}

fn post(app: u64, sign: Option<&str>, body: &str) -> Request<Body> {
    let mut req = Request::post("/trtc")
        .header("Content-Type", "application/json")
        .header("SdkAppId", app.to_string());
    if let Some(sign) = sign {
        req = req.header("Sign", sign);
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

fn signed(body: &str) -> Request<Body> {
    post(APP, Some(&trtc::sign(KEY, body.as_bytes())), body)
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn app_route() -> Router {
    Router::new().fallback(any(|| async { (StatusCode::NOT_FOUND, "the app") }))
}

type Seen = Arc<Mutex<Vec<(String, TrtcEvent)>>>;

fn typed_app(config: Config) -> (Router, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let handler = move |event: TrtcEvent, meta: CallbackMeta| {
        log.lock()
            .unwrap()
            .push((meta.command.as_str().to_owned(), event));
        async { Ok::<(), HandlerError>(()) }
    };
    let app = app_route().layer(
        CallbackLayer::new(config)
            .path("/callback")
            .trtc_path("/trtc")
            .on(handler),
    );
    (app, seen)
}

#[tokio::test]
async fn tencents_signed_sample_reaches_a_typed_handler() {
    let (app, seen) = typed_app(config());
    assert_eq!(trtc::sign(KEY, VECTOR.as_bytes()), VECTOR_SIGN);
    let (status, body) = send(&app, post(APP, Some(VECTOR_SIGN), VECTOR)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"code":0}"#));
    let seen = seen.lock().unwrap();
    let [(command, event)] = &seen[..] else {
        panic!("{seen:?}")
    };
    assert_eq!(command, "TRTC.2.204");
    assert_eq!(event.kind, EventKind::StopAudio);
    assert_eq!(event.room_id().as_number(), Some(8489));
}

#[tokio::test]
async fn every_refusal_is_answered_in_trtcs_dialect() {
    let (app, seen) = typed_app(config());
    // Unsigned, wrongly signed, another app's: one and the same answer.
    let bad = send(&app, post(APP, Some("AAAA"), VECTOR)).await;
    assert_eq!(bad.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        bad.1,
        r#"{"code":401,"message":"callback layer: Sign does not match"}"#
    );
    let stranger = send(&app, post(7, Some(VECTOR_SIGN), VECTOR)).await;
    assert_eq!(stranger, bad);
    let unsigned = send(&app, post(APP, None, VECTOR)).await;
    assert_eq!(unsigned.0, StatusCode::UNAUTHORIZED);
    // A body changed after signing (the escaped text Tencent's web page shows, say).
    let escaped = VECTOR.replace('\n', "\\n").replace('\t', "\\t");
    assert_eq!(
        send(&app, post(APP, Some(VECTOR_SIGN), &escaped)).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Stale: sent 6 minutes before the clock.
    let stale = exit("r1", "u1", 1, (NOW - 360) * 1000);
    let (status, body) = send(&app, signed(&stale)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body.starts_with(r#"{"code":401,"message":"callback layer: "#),
        "{body}"
    );
    // Not a TRTC event; another method; too large.
    let (status, body) = send(&app, signed(r#"{"RoomId":"r"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let get = Request::get("/trtc").body(Body::empty()).unwrap();
    let res = app.clone().oneshot(get).await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "POST");
    let big = "x".repeat(Config::DEFAULT_BODY_LIMIT + 1);
    assert_eq!(
        send(&app, signed(&big)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert!(seen.lock().unwrap().is_empty());
    // Without any key, Sign is not checked; an unknown app is then told so.
    let (open, _) = typed_app(Config::new(APP).clock(|| UNIX_EPOCH + Duration::from_secs(NOW)));
    assert_eq!(send(&open, post(APP, None, VECTOR)).await.0, StatusCode::OK);
    assert_eq!(
        send(&open, post(7, None, VECTOR)).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_event_no_route_takes_is_acknowledged_and_the_one_url_is_untouched() {
    // Only a raw route for exits: a media event is verified and acknowledged, not delivered.
    let got: Arc<Mutex<Vec<RawCallback>>> = Arc::default();
    let log = got.clone();
    let app = app_route().layer(
        CallbackLayer::new(config())
            .path("/callback")
            .trtc_path("/trtc")
            .on_command("TRTC.1.104", move |cb: RawCallback| {
                log.lock().unwrap().push(cb);
                async { Ok::<_, HandlerError>(Ack::ok()) }
            }),
    );
    assert_eq!(
        send(&app, post(APP, Some(VECTOR_SIGN), VECTOR)).await,
        (StatusCode::OK, r#"{"code":0}"#.to_owned())
    );
    assert!(got.lock().unwrap().is_empty());
    let body = exit("r1", "u1", 1, NOW * 1000);
    assert_eq!(send(&app, signed(&body)).await.0, StatusCode::OK);
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].meta.command.as_str(), "TRTC.1.104");
        assert_eq!(got[0].body, body.as_bytes());
    }
    // Another path is the app's, and the one URL keeps its own dialect.
    let other = Request::post("/elsewhere")
        .body(Body::from(VECTOR))
        .unwrap();
    assert_eq!(send(&app, other).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_retry_with_a_new_callback_ts_is_the_same_event() {
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = calls.clone();
    let app = app_route().layer(
        CallbackLayer::new(config())
            .trtc_path("/trtc")
            .on_notifications(move |cb: RawCallback| {
                log.lock().unwrap().push(cb.key().to_string());
                async { Ok::<_, HandlerError>(Ack::ok()) }
            })
            .dedup(Dedup::default()),
    );
    // Tencent's retries: at once, then every 10 s, each with its own CallbackTs.
    for ms in [NOW * 1000, NOW * 1000 + 15, NOW * 1000 + 10_015] {
        let (status, body) = send(&app, signed(&exit("r1", "u1", 1, ms))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"code":0}"#));
    }
    assert_eq!(calls.lock().unwrap().len(), 1);
    // Another user is another event.
    send(&app, signed(&exit("r1", "u2", 1, NOW * 1000))).await;
    assert_eq!(calls.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn one_departure_handler_for_both_dialects() {
    let changes: Arc<Mutex<Vec<Change>>> = Arc::default();
    let log = changes.clone();
    let app = app_route().layer(
        CallbackLayer::new(config())
            .path("/callback")
            .trtc_path("/trtc")
            .on(move |c: Changes, _: CallbackMeta| {
                log.lock().unwrap().extend(c.0);
                async { Ok::<(), HandlerError>(()) }
            }),
    );
    // A TRTC exit for a timeout (reason 2), then a Room leave of two members, kicked.
    assert_eq!(
        send(&app, signed(&exit("12345", "u1", 2, NOW * 1000)))
            .await
            .0,
        StatusCode::OK
    );
    let leave = CallbackRequest::raw(
        Command::MemberLeave,
        r#"{"RoomId":"r9","Type":"Kicked","MemberList_Account":["a","b"],"EventTime":1670574414123}"#,
    )
    .build::<Body>();
    assert_eq!(send(&app, leave).await.0, StatusCode::OK);
    let changes = changes.lock().unwrap();
    let lines: Vec<String> = changes
        .iter()
        .map(|c| serde_json::to_string(c).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            r#"{"source":"trtc","app":1400000000,"room":"12345","user":"u1","cause":"timeout","at_ms":1664209748180}"#,
            r#"{"source":"room","app":1400000000,"room":"r9","user":"a","cause":"kicked","at_ms":1670574414123}"#,
            r#"{"source":"room","app":1400000000,"room":"r9","user":"b","cause":"kicked","at_ms":1670574414123}"#,
        ]
    );
    let Change::Departure(first) = &changes[0] else {
        panic!()
    };
    assert_eq!((first.source, first.cause), (Source::Trtc, Cause::Timeout));
}

#[tokio::test]
async fn an_extension_route_hands_the_event_to_the_app() {
    let app = Router::new()
        .fallback(any(
            |event: Option<Extension<TrtcEvent>>, meta: Option<Extension<CallbackMeta>>| async move {
                match (event, meta) {
                    (Some(Extension(e)), Some(Extension(m))) => {
                        (StatusCode::OK, format!("{} {:?}", m.command, e.kind))
                    }
                    _ => (StatusCode::NOT_FOUND, "the app".to_owned()),
                }
            },
        ))
        .layer(
            CallbackLayer::new(config())
                .trtc_path("/trtc")
                .extension::<TrtcEvent>(),
        );
    assert_eq!(
        send(&app, post(APP, Some(VECTOR_SIGN), VECTOR)).await,
        (StatusCode::OK, "TRTC.2.204 StopAudio".to_owned())
    );
}
