//! Every command on the one URL, through a real axum stack: routes by name and prefix with raw bodies
//! (which route wins), before-callback answers with their decision and extra fields (byte for byte),
//! raw bodies that do not decode, and the commands no route takes: verified, then handed to the app with
//! their metadata, or refused.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Extension;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tencent_room_callback::chat::{GroupBeforeSendMsg, MsgElement, SendDecision, SendMsgAnswer};
use tencent_room_callback::testing::signature;
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, Command, Config, HandlerError, MemberLeave, RawCallback,
};
use tower::ServiceExt;

const APP: u64 = 1400000000;
const LEAVE_BODY: &str =
    r#"{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123}"#;
const GROUP_BEFORE: &str = r#"{"CallbackCommand":"Group.CallbackBeforeSendMsg","GroupId":"@TGS#2J4SZEAEL","Type":"Public","From_Account":"jared","Operator_Account":"admin","Random":123456,"OnlineOnlyFlag":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"buy now"}}],"EventTime":"1670574414123"}"#;

type Log = Arc<Mutex<Vec<String>>>;

fn post_to(command: &str, app: u64, body: &str) -> Request<Body> {
    Request::post(format!(
        "/callback?SdkAppid={app}&CallbackCommand={command}&contenttype=json&ClientIP=1.2.3.4&OptPlatform=Web"
    ))
    .body(Body::from(body.to_owned()))
    .unwrap()
}

async fn answer(app: &Router, req: Request<Body>) -> (StatusCode, Bytes) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

fn error_code(body: &[u8]) -> i64 {
    serde_json::from_slice::<Ack>(body).unwrap().error_code()
}

/// A raw route that logs `name: command` and answers OK.
fn logging(
    log: &Log,
    name: &'static str,
) -> impl Fn(RawCallback) -> std::future::Ready<Result<Ack, HandlerError>> + Clone {
    let log = log.clone();
    move |cb: RawCallback| {
        log.lock()
            .unwrap()
            .push(format!("{name}: {}", cb.meta.command));
        std::future::ready(Ok(Ack::ok()))
    }
}

/// The app's own route for what the layer passes on: logs the command it was given (or "none") and
/// the body it read itself.
fn app_route(log: &Log) -> Router {
    let log = log.clone();
    Router::new().route(
        "/callback",
        post(move |meta: Option<Extension<CallbackMeta>>, body: Bytes| {
            let log = log.clone();
            async move {
                let command = meta.map_or("none".to_string(), |Extension(m)| {
                    format!("{} of app {}", m.command, m.sdk_app_id)
                });
                log.lock()
                    .unwrap()
                    .push(format!("app: {command}, {} bytes", body.len()));
                (StatusCode::ACCEPTED, "the app's")
            }
        }),
    )
}

#[tokio::test]
async fn the_best_route_takes_each_command() {
    let log: Log = Arc::default();
    let typed = {
        let log = log.clone();
        move |e: MemberLeave, _: CallbackMeta| {
            log.lock().unwrap().push(format!("typed: {}", e.room_id));
            async { Ok::<(), HandlerError>(()) }
        }
    };
    let app = app_route(&log).layer(
        CallbackLayer::new(Config::new(APP))
            .path("/callback")
            .on(typed)
            .on_prefix("Room.", logging(&log, "room prefix"))
            .on_prefix("Group.", logging(&log, "group prefix"))
            .on_prefix("Group.CallbackBefore", logging(&log, "longer prefix"))
            .on_command("Group.CallbackAfterSendMsg", logging(&log, "exact"))
            // Registered last, still loses to the exact name and the longer prefix.
            .on_prefix("G", logging(&log, "short prefix")),
    );
    let cases = [
        ("Room.CallbackAfterMemberLeave", "typed: rid-123"),
        (
            "Room.CallbackAfterMemberEnter",
            "room prefix: Room.CallbackAfterMemberEnter",
        ),
        (
            "Group.CallbackAfterSendMsg",
            "exact: Group.CallbackAfterSendMsg",
        ),
        (
            "Group.CallbackBeforeSendMsg",
            "longer prefix: Group.CallbackBeforeSendMsg",
        ),
        (
            "Group.CallbackAfterMemberExit",
            "group prefix: Group.CallbackAfterMemberExit",
        ),
        ("GroupX.Anything", "short prefix: GroupX.Anything"),
        (
            "State.StateChange",
            "app: State.StateChange of app 1400000000, 77 bytes",
        ),
    ];
    for (command, want) in cases {
        let (status, body) = answer(&app, post_to(command, APP, LEAVE_BODY)).await;
        let last = log.lock().unwrap().pop();
        assert_eq!(last.as_deref(), Some(want), "{command}");
        if want.starts_with("app:") {
            assert_eq!(
                (status, &body[..]),
                (StatusCode::ACCEPTED, &b"the app's"[..])
            );
        } else {
            assert_eq!(
                (status, &body[..]),
                (StatusCode::OK, Ack::OK_BODY),
                "{command}"
            );
        }
    }
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_before_callback_is_answered_with_its_decision_byte_for_byte() {
    let app = Router::new().layer(
        CallbackLayer::new(Config::new(APP))
            .path("/callback")
            .on_command(
                "Group.CallbackBeforeSendMsg",
                |cb: RawCallback| async move {
                    let msg: GroupBeforeSendMsg = cb.json()?;
                    let spam = msg.msg_body.iter().any(|e| e.as_text() == Some("buy now"));
                    Ok::<Ack, HandlerError>(if spam {
                        SendMsgAnswer::allow()
                            .with_msg_body(vec![MsgElement::from_text("***")])
                            .into()
                    } else {
                        SendMsgAnswer::allow().into()
                    })
                },
            )
            .on_command("C2C.CallbackBeforeSendMsg", |_: RawCallback| async {
                Ok::<Ack, HandlerError>(SendMsgAnswer::new(SendDecision::Drop).into())
            })
            .on_command("Group.CallbackBeforeCreateGroup", |_: RawCallback| async {
                Ack::decision(1, "no new groups today")
                    .with_field("CloudCustomData", "kept")
                    .map_err(HandlerError::new)
            }),
    );
    let (status, body) = answer(
        &app,
        post_to("Group.CallbackBeforeSendMsg", APP, GROUP_BEFORE),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        &body[..],
        br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"***"}}]}"#
    );
    let clean = GROUP_BEFORE.replace("buy now", "hello");
    let (status, body) = answer(&app, post_to("Group.CallbackBeforeSendMsg", APP, &clean)).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, Ack::OK_BODY));
    let (_, body) = answer(&app, post_to("C2C.CallbackBeforeSendMsg", APP, "{}")).await;
    assert_eq!(
        &body[..],
        br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":2}"#
    );
    let (_, body) = answer(&app, post_to("Group.CallbackBeforeCreateGroup", APP, "{}")).await;
    assert_eq!(
        &body[..],
        br#"{"ActionStatus":"OK","ErrorInfo":"no new groups today","ErrorCode":1,"CloudCustomData":"kept"}"#
    );
}

#[tokio::test]
async fn a_raw_body_that_does_not_decode_is_a_400_not_a_500() {
    let app = Router::new().layer(CallbackLayer::new(Config::new(APP)).on_command(
        "Group.CallbackBeforeSendMsg",
        |cb: RawCallback| async move {
            let _: GroupBeforeSendMsg = cb.json()?;
            Ok::<Ack, HandlerError>(Ack::ok())
        },
    ));
    for body in ["[1,2]", "{\"GroupId\": 5}", "not json", ""] {
        let (status, answer) =
            answer(&app, post_to("Group.CallbackBeforeSendMsg", APP, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(&answer), 40006, "{body}");
    }
    // Another command's name in the body is refused too.
    let wrong = GROUP_BEFORE.replace(
        "Group.CallbackBeforeSendMsg\",\"GroupId",
        "Group.CallbackAfterSendMsg\",\"GroupId",
    );
    let (status, _) = answer(&app, post_to("Group.CallbackBeforeSendMsg", APP, &wrong)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unrouted_commands_are_verified_before_the_app_sees_them() {
    let log: Log = Arc::default();
    let config = Config::new(APP).token("t0ken").unwrap();
    let app = app_route(&log).layer(CallbackLayer::new(config).path("/callback"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = |app_id: u64, token: &str| {
        Request::post(format!(
            "/callback?SdkAppid={app_id}&CallbackCommand=State.StateChange&RequestTime={now}&Sign={}",
            signature(token, &now.to_string())
        ))
        .body(Body::from(r#"{"EventTime":1}"#))
        .unwrap()
    };
    // Verified: the app gets it, with the metadata, and reads the body itself.
    let (status, _) = answer(&app, signed(APP, "t0ken")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        log.lock().unwrap().pop().as_deref(),
        Some("app: State.StateChange of app 1400000000, 15 bytes")
    );
    // Unsigned, wrongly signed, another app's, a GET: refused by the layer, never the app's.
    let unsigned = post_to("State.StateChange", APP, "{}");
    let (status, body) = answer(&app, unsigned).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, 40101)
    );
    let (status, body) = answer(&app, signed(APP, "wrong")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, 40104)
    );
    // An unknown app gets what a wrong signature gets: nothing tells it apart.
    let (status, body) = answer(&app, signed(1400000009, "t0ken")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, 40104)
    );
    let (status, body) = answer(&app, post_to("State.StateChange", 1400000009, "{}")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, 40101)
    );
    let get = Request::get("/callback?SdkAppid=1400000000&CallbackCommand=State.StateChange")
        .body(Body::empty())
        .unwrap();
    assert_eq!(answer(&app, get).await.0, StatusCode::METHOD_NOT_ALLOWED);
    assert!(log.lock().unwrap().is_empty());
    // No CallbackCommand at all: the app's, untouched.
    let plain = Request::post("/callback?SdkAppid=1")
        .body(Body::from("x"))
        .unwrap();
    assert_eq!(answer(&app, plain).await.0, StatusCode::ACCEPTED);
    assert_eq!(
        log.lock().unwrap().pop().as_deref(),
        Some("app: none, 1 bytes")
    );
}

#[tokio::test]
async fn verify_unrouted_false_lets_unrouted_commands_through_as_in_0_1() {
    let log: Log = Arc::default();
    let config = Config::new(APP).token("t0ken").unwrap();
    let app = app_route(&log).layer(
        CallbackLayer::new(config)
            .path("/callback")
            .verify_unrouted(false)
            .on_any([Command::MemberLeave], |_, _| async {
                Ok::<(), HandlerError>(())
            }),
    );
    let (status, _) = answer(&app, post_to("State.StateChange", 99, "{}")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        log.lock().unwrap().pop().as_deref(),
        Some("app: none, 2 bytes")
    );
    // A routed command is still verified.
    let (status, body) = answer(
        &app,
        post_to("Room.CallbackAfterMemberLeave", APP, LEAVE_BODY),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, 40101)
    );
}
