use axum::{body::Body, routing::post, Extension, Router};
use http::Request;
use http_body_util::BodyExt;
use std::sync::{Arc, Mutex};
use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, MemberLeave};
use tower::ServiceExt;

const Q: &str = "/cb?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS";
const BODY: &str = r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}"#;

#[tokio::test]
async fn handler_mode_through_axum() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let app: Router = Router::new()
        .route("/cb", post(|| async { "inner" }))
        .layer(CallbackLayer::new(Config::new(1400000000)).on(
            move |e: MemberLeave, _m: CallbackMeta| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().push(e.room_id);
                    Ok(())
                }
            },
        ));
    let res = app
        .clone()
        .oneshot(Request::post(Q).body(Body::from(BODY)).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let b = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&b[..], tencent_room_callback::Ack::OK_BODY);
    assert_eq!(*seen.lock().unwrap(), vec!["rid-123".to_string()]);
    let res = app
        .oneshot(Request::post("/cb").body(Body::from("x")).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        &res.into_body().collect().await.unwrap().to_bytes()[..],
        b"inner"
    );
}

/// The route the extensions-mode tests mount: it counts its calls, records what it got, and answers a
/// body of its own (distinct from the layer's acknowledgment), so a test sees the route really ran.
/// What the extensions-mode route saw, call by call: the event's room, the meta's app, the raw body.
type RouteCalls = Arc<Mutex<Vec<(Option<String>, Option<u64>, String)>>>;

fn extension_app(calls: RouteCalls) -> Router {
    Router::new()
        .route(
            "/cb",
            post(
                move |e: Option<Extension<MemberLeave>>,
                      m: Option<Extension<CallbackMeta>>,
                      body: String| async move {
                    let room = e.map(|Extension(e)| e.room_id);
                    let answer = format!("route saw {room:?}");
                    calls
                        .lock()
                        .unwrap()
                        .push((room, m.map(|Extension(m)| m.sdk_app_id), body));
                    answer
                },
            ),
        )
        .layer(CallbackLayer::new(Config::new(1400000000)).extension::<MemberLeave>())
}

#[tokio::test]
async fn extension_mode_through_axum() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let res = extension_app(calls.clone())
        .oneshot(Request::post(Q).body(Body::from(BODY)).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        &res.into_body().collect().await.unwrap().to_bytes()[..],
        br#"route saw Some("rid-123")"#
    );
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 1, "the route runs exactly once");
    let (room, app, body) = &calls[0];
    assert_eq!(room.as_deref(), Some("rid-123"));
    assert_eq!(*app, Some(1400000000));
    assert_eq!(body, BODY, "the original body is still readable");
}

/// A POST to the same route without `CallbackCommand` is not a callback: it reaches the route without
/// the extensions (and with its body untouched).
#[tokio::test]
async fn extension_mode_passes_a_request_without_callback_command_without_extensions() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let res = extension_app(calls.clone())
        .oneshot(
            Request::post("/cb?SdkAppid=1400000000&contenttype=json")
                .body(Body::from(BODY))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        &res.into_body().collect().await.unwrap().to_bytes()[..],
        b"route saw None"
    );
    let calls = calls.lock().unwrap();
    assert_eq!(*calls, [(None, None, BODY.to_string())]);
}
