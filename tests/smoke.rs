use axum::{body::Body, routing::post, Extension, Router};
use http::Request;
use http_body_util::BodyExt;
use std::sync::{Arc, Mutex};
use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Config, MemberLeave};
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
    assert_eq!(&b[..], tencent_room_callback::OK_BODY);
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

#[tokio::test]
async fn extension_mode_through_axum() {
    let app: Router = Router::new()
        .route(
            "/cb",
            post(
                |Extension(e): Extension<MemberLeave>,
                 Extension(m): Extension<CallbackMeta>,
                 body: String| async move {
                    assert_eq!(body, BODY);
                    assert_eq!(m.sdk_app_id, 1400000000);
                    assert_eq!(e.members[0], "user1");
                    Ack::ok()
                },
            ),
        )
        .layer(CallbackLayer::new(Config::new(1400000000)).extension::<MemberLeave>());
    let res = app
        .oneshot(Request::post(Q).body(Body::from(BODY)).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        &res.into_body().collect().await.unwrap().to_bytes()[..],
        tencent_room_callback::OK_BODY
    );
}
