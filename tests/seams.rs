//! The layer's seams, through a real axum stack: its default scope, its loud refusals, decisions (by
//! table, never to the notification hook, a deadline and a fallback, their copies answered alike), the
//! same body checks for every route, one bound on lists everywhere, any duration taken, and the inner
//! service's readiness given back by every callback a handler takes.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::routing::any;
use axum::Router;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, Command, Config, Dedup, HandlerError, MemberLeave,
    RawCallback,
};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

const APP: u64 = 1400000000;
const BEFORE_SEND: &str = "C2C.CallbackBeforeSendMsg";
const FRIEND_ADD: &str = "Sns.CallbackPrevFriendAdd";
const STATE: &str = "State.StateChange";
const NEW: &str = "Group.CallbackAfterSomethingNew";

/// The app behind the layer: says so, with 404.
fn app_route() -> Router {
    Router::new().fallback(any(|| async { (StatusCode::NOT_FOUND, "the app") }))
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn leave() -> CallbackRequest {
    CallbackRequest::raw(
        Command::MemberLeave,
        r#"{"RoomId":"r","MemberList_Account":["u"],"EventTime":1}"#,
    )
}

/// A callback of any command, with `body`.
fn named(command: &str, body: &str) -> CallbackRequest {
    CallbackRequest::raw(Command::MemberLeave, body.to_owned()).callback_command(command)
}

async fn ok_leave(_: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> {
    Ok(())
}

#[tokio::test]
async fn without_a_path_only_routed_posts_are_taken() {
    let app = app_route().layer(CallbackLayer::new(Config::new(APP)).on(ok_leave));
    // A routed POST on any path is the layer's.
    let req = leave().url("/anywhere").build::<Body>();
    assert_eq!(send(&app, req).await.0, StatusCode::OK);
    // Anything else is the app's, unverified and untouched: another method, another command, another
    // app's SDKAppID on an unrouted command.
    let get = Request::get("/admin/events?CallbackCommand=Room.CallbackAfterMemberLeave")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, get).await,
        (StatusCode::NOT_FOUND, "the app".into())
    );
    let other = named(STATE, "{}")
        .url("/admin")
        .sdk_app_id(7)
        .build::<Body>();
    assert_eq!(
        send(&app, other).await,
        (StatusCode::NOT_FOUND, "the app".into())
    );
    // With a path, everything there that carries a command is the layer's: 405 for a GET, 403 for an
    // unknown app, each saying that the callback layer refused it.
    let scoped = app_route().layer(
        CallbackLayer::new(Config::new(APP))
            .path("/callback")
            .on(ok_leave),
    );
    let get = Request::get("/callback?CallbackCommand=State.StateChange&SdkAppid=1400000000")
        .body(Body::empty())
        .unwrap();
    let (status, body) = send(&scoped, get).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let ack: Ack = serde_json::from_str(&body).unwrap();
    assert_eq!(ack.error_info(), "callback layer: callbacks must be POSTed");
    let stranger = named(STATE, "{}")
        .url("/callback")
        .sdk_app_id(7)
        .build::<Body>();
    let (status, body) = send(&scoped, stranger).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.contains(r#""ErrorInfo":"callback layer: SdkAppid is not an app of this receiver"#)
    );
    // ... and an unrouted command that passes reaches the app with its metadata.
    let verified = named(STATE, "{}").url("/callback").build::<Body>();
    assert_eq!(send(&scoped, verified).await.0, StatusCode::NOT_FOUND);
}

/// The commands a [`recorder`] got.
type Got = Arc<Mutex<Vec<String>>>;

/// A raw handler that records the commands it got and answers OK.
fn recorder() -> (
    Got,
    impl Fn(RawCallback) -> std::future::Ready<Result<Ack, HandlerError>> + Clone,
) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let handler = move |cb: RawCallback| {
        seen.lock()
            .unwrap()
            .push(cb.meta.command.as_str().to_owned());
        std::future::ready(Ok(Ack::ok()))
    };
    (got, handler)
}

#[tokio::test]
async fn decisions_never_reach_the_notification_hook() {
    let (stored, queue) = recorder();
    let (decided, decide) = recorder();
    let layer = CallbackLayer::new(Config::new(APP))
        .path("/callback")
        .on_notifications(queue)
        .on_decisions(decide);
    let app = app_route().layer(layer);
    for command in [STATE, "Room.CallbackAfterMemberLeave"] {
        let body = if command == STATE {
            "{}"
        } else {
            r#"{"RoomId":"r","MemberList_Account":["u"],"EventTime":1}"#
        };
        let req = named(command, body).url("/callback").build::<Body>();
        assert_eq!(send(&app, req).await.0, StatusCode::OK, "{command}");
    }
    for command in [BEFORE_SEND, FRIEND_ADD, "Live.CallbackBeforeSendGift"] {
        let req = named(command, "{}").url("/callback").build::<Body>();
        assert_eq!(send(&app, req).await.0, StatusCode::OK, "{command}");
    }
    // A command in neither table goes on to the app, verified.
    let req = named(NEW, "{}").url("/callback").build::<Body>();
    assert_eq!(send(&app, req).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        *stored.lock().unwrap(),
        [STATE, "Room.CallbackAfterMemberLeave"]
    );
    assert_eq!(
        *decided.lock().unwrap(),
        [BEFORE_SEND, FRIEND_ADD, "Live.CallbackBeforeSendGift"]
    );
}

#[tokio::test]
async fn every_route_checks_the_body_alike() {
    let (got, queue) = recorder();
    let app = app_route().layer(
        CallbackLayer::new(Config::new(APP))
            .path("/callback")
            .on_notifications(queue),
    );
    // A body naming another command, not an object, a Room event that does not decode: 400 with the
    // notification hook as without it, and never handed over.
    for (command, body) in [
        (STATE, r#"{"CallbackCommand":"Group.CallbackAfterSendMsg"}"#),
        (STATE, "[1,2]"),
        (STATE, r#"{"CallbackCommand":1}"#),
        ("Room.CallbackAfterMemberLeave", r#"{"RoomId":5}"#),
    ] {
        let req = named(command, body).url("/callback").build::<Body>();
        let (status, answer) = send(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            answer.contains("callback layer: the body is not a valid callback event"),
            "{answer}"
        );
    }
    // The older spelling of a Room command in the body is that command.
    let req = named(
        "Room.CallbackAfterUpdateRoomInfo",
        r#"{"CallbackCommand":"Room.CallbackUpdateRoomInfo","RoomInfo":{},"EventTime":1}"#,
    )
    .url("/callback")
    .build::<Body>();
    assert_eq!(send(&app, req).await.0, StatusCode::OK);
    assert_eq!(*got.lock().unwrap(), ["Room.CallbackAfterUpdateRoomInfo"]);
}

/// A decision handler that takes `ms`, then refuses.
fn slow_refusal(
    ms: u64,
) -> impl Fn(RawCallback) -> std::pin::Pin<Box<dyn Future<Output = Result<Ack, HandlerError>> + Send>>
       + Clone {
    move |_| {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(Ack::decision(1, "refused"))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_decision_gets_the_fallback_at_the_deadline() {
    // No fallback of our own: a FAIL answer at 1.8 s, so that Tencent applies its own default.
    let app = app_route().layer(
        CallbackLayer::new(Config::new(APP))
            .path("/callback")
            .on_decisions(slow_refusal(3_000)),
    );
    let started = tokio::time::Instant::now();
    let req = named(BEFORE_SEND, "{}").url("/callback").build::<Body>();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("before the decision deadline"), "{body}");
    assert_eq!(started.elapsed(), Duration::from_millis(1_800));
    // With a fallback: that answer, 200, at the deadline.
    let refuse = Ack::decision(1, "moderation unavailable");
    let app = app_route().layer(
        CallbackLayer::new(
            Config::new(APP)
                .decision_deadline(Duration::from_millis(500))
                .decision_fallback(refuse.clone()),
        )
        .path("/callback")
        .on_decisions(slow_refusal(3_000)),
    );
    let started = tokio::time::Instant::now();
    let req = named(BEFORE_SEND, "{}").url("/callback").build::<Body>();
    let (status, body) = send(&app, req).await;
    assert_eq!(
        (status, body.as_bytes()),
        (StatusCode::OK, &refuse.to_bytes()[..])
    );
    assert_eq!(started.elapsed(), Duration::from_millis(500));
    // In time: the handler's own answer.
    let app = app_route().layer(
        CallbackLayer::new(Config::new(APP))
            .path("/callback")
            .on_decisions(slow_refusal(100)),
    );
    let req = named(BEFORE_SEND, "{}").url("/callback").build::<Body>();
    let (status, body) = send(&app, req).await;
    assert_eq!(
        (status, body.as_bytes()),
        (StatusCode::OK, &Ack::decision(1, "refused").to_bytes()[..])
    );
    // A notification has no deadline: its handler takes what it takes.
    let slow = |_: RawCallback| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok::<_, HandlerError>(Ack::ok())
    };
    let app = app_route().layer(
        CallbackLayer::new(Config::new(APP))
            .path("/callback")
            .on_notifications(slow),
    );
    let req = named(STATE, "{}").url("/callback").build::<Body>();
    assert_eq!(send(&app, req).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_failed_or_panicking_decision_gets_the_fallback() {
    let allow = Ack::ok();
    let failing = |_: RawCallback| async { Err::<Ack, _>(HandlerError::msg("down")) };
    let panicking = |_: RawCallback| async {
        if true {
            panic!("in the decision");
        }
        Ok::<Ack, HandlerError>(Ack::ok())
    };
    let config = || Config::new(APP).decision_fallback(allow.clone());
    let fail_app = app_route().layer(
        CallbackLayer::new(config())
            .path("/callback")
            .on_decisions(failing),
    );
    let panic_app = app_route().layer(
        CallbackLayer::new(config())
            .path("/callback")
            .on_decisions(panicking),
    );
    for app in [fail_app, panic_app] {
        let req = named(BEFORE_SEND, "{}").url("/callback").build::<Body>();
        let (status, body) = send(&app, req).await;
        assert_eq!((status, body.as_bytes()), (StatusCode::OK, Ack::OK_BODY));
    }
    // A notification's failure is still a failure.
    let app = app_route().layer(
        CallbackLayer::new(config())
            .path("/callback")
            .on_notifications(failing),
    );
    let req = named(STATE, "{}").url("/callback").build::<Body>();
    assert_eq!(send(&app, req).await.0, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn a_copy_of_a_refused_decision_is_refused_too() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let refuse = move |_: RawCallback| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, HandlerError>(Ack::decision(1, "blocked")) }
    };
    let app = app_route().layer(
        CallbackLayer::new(Config::new(APP))
            .path("/callback")
            .on_decisions(refuse)
            .dedup(Dedup::default()),
    );
    let body = r#"{"From_Account":"spammer","MsgBody":[]}"#;
    let mut answers = Vec::new();
    for _ in 0..3 {
        let req = named(BEFORE_SEND, body).url("/callback").build::<Body>();
        answers.push(send(&app, req).await);
    }
    let refusal = String::from_utf8(Ack::decision(1, "blocked").to_bytes().to_vec()).unwrap();
    assert!(
        answers
            .iter()
            .all(|a| *a == (StatusCode::OK, refusal.clone())),
        "{answers:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn one_bound_on_lists_for_every_route() {
    let members = |n: usize| {
        let list = (0..n)
            .map(|i| format!("\"u{i}\""))
            .collect::<Vec<_>>()
            .join(",");
        format!(r#"{{"RoomId":"r","MemberList_Account":[{list}],"EventTime":1}}"#)
    };
    let decoded = Arc::new(Mutex::new(Vec::new()));
    let seen = decoded.clone();
    let queue = move |cb: RawCallback| {
        // What a queue's worker does later with what it stored: decode with the bound it came with.
        let leave: MemberLeave = cb.decode().unwrap();
        seen.lock()
            .unwrap()
            .push((cb.max_members(), leave.members.len()));
        async { Ok::<_, HandlerError>(Ack::ok()) }
    };
    let config = Config::new(APP).max_members(50_000);
    let typed = app_route().layer(
        CallbackLayer::new(config.clone())
            .path("/callback")
            .on(ok_leave),
    );
    let raw = app_route().layer(
        CallbackLayer::new(config)
            .path("/callback")
            .on_notifications(queue),
    );
    for app in [&typed, &raw] {
        let req = named("Room.CallbackAfterMemberLeave", &members(20_000))
            .url("/callback")
            .build::<Body>();
        assert_eq!(send(app, req).await.0, StatusCode::OK);
        let req = named("Room.CallbackAfterMemberLeave", &members(50_001))
            .url("/callback")
            .build::<Body>();
        let (status, body) = send(app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body.contains("MemberList_Account: the list is longer than 50000 entries"),
            "{body}"
        );
    }
    assert_eq!(*decoded.lock().unwrap(), [(50_000, 20_000)]);
}

#[tokio::test]
async fn any_duration_is_taken() {
    let config = Config::new(APP)
        .window(Duration::MAX)
        .body_timeout(Some(Duration::MAX))
        .decision_deadline(Duration::MAX)
        .token("t")
        .unwrap();
    let (_, decide) = recorder();
    let app = app_route().layer(
        CallbackLayer::new(config)
            .path("/callback")
            .on(ok_leave)
            .on_decisions(decide)
            .dedup(Dedup::new(1, Duration::MAX)),
    );
    for _ in 0..2 {
        let req = leave()
            .url("/callback")
            .token("t")
            .request_time(1)
            .build::<Body>();
        assert_eq!(send(&app, req).await.0, StatusCode::OK);
        let req = named(BEFORE_SEND, "{}")
            .url("/callback")
            .token("t")
            .request_time(u64::MAX / 2)
            .build::<Body>();
        assert_eq!(send(&app, req).await.0, StatusCode::OK);
    }
    // A deadline of zero answers the (default) fallback at once: no panic, no hang.
    let (_, decide) = recorder();
    let app = app_route().layer(
        CallbackLayer::new(Config::new(APP).decision_deadline(Duration::ZERO))
            .path("/callback")
            .on_decisions(move |cb| {
                let answer = decide(cb);
                async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    answer.await
                }
            }),
    );
    let req = named(BEFORE_SEND, "{}").url("/callback").build::<Body>();
    assert_eq!(send(&app, req).await.0, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn trtc_names_are_not_taken_from_a_query() {
    let (got, queue) = recorder();
    let app = app_route().layer(
        CallbackLayer::new(Config::new(APP))
            .path("/callback")
            .on_notifications(queue),
    );
    let req = named("TRTC.1.104", "{}").url("/callback").build::<Body>();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(got.lock().unwrap().is_empty());
}

/// A callback a handler takes gives back the inner service's readiness: behind a concurrency limit of
/// one, a connection that carries a callback does not keep the only permit from another connection.
#[tokio::test]
async fn a_callback_gives_back_the_readiness_it_reserved() {
    let inner = ServiceBuilder::new()
        .concurrency_limit(1)
        .service(app_route());
    let layer = CallbackLayer::new(Config::new(APP))
        .path("/callback")
        .on(ok_leave);
    let mut first = layer.layer(inner.clone());
    let mut second = layer.layer(inner);
    // The first connection readies its service, takes a callback, and keeps its service (keep-alive).
    let res = ServiceExt::<Request<Body>>::ready(&mut first)
        .await
        .unwrap()
        .call(leave().url("/callback").build::<Body>())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The second connection gets the permit at once.
    let waker = std::task::Waker::noop();
    let ready = Service::<Request<Body>>::poll_ready(&mut second, &mut Context::from_waker(waker));
    assert!(matches!(ready, Poll::Ready(Ok(()))), "{ready:?}");
}
