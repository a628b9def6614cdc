//! The inbox tests' app and callbacks: the layer on `/cb` storing what it takes in an inbox, and
//! member-leave callbacks numbered by their `EventTime`.

use std::time::Duration;

use axum::body::Body;
use axum::routing::post;
use axum::Router;
use http::StatusCode;
use http_body_util::BodyExt;
use tencent_room_callback::inbox::{DeadLetter, Inbox, InboxEvent};
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::{CallbackLayer, Command, Config, MemberLeave};
use tower::ServiceExt;

use super::wait::wait_for;

pub const APP: u64 = 1400000000;

/// The layer on `/cb` with `inbox`; what it does not take reaches the app, which answers 404.
pub fn app(inbox: &Inbox) -> Router {
    Router::new()
        .route("/cb", post(|| async { (StatusCode::NOT_FOUND, "the app") }))
        .layer(
            CallbackLayer::new(Config::new(APP))
                .path("/cb")
                .inbox(inbox.clone()),
        )
}

/// Member `u<n>` leaving `room`, at `EventTime` `n`.
pub fn leave(room: &str, n: u64) -> CallbackRequest {
    CallbackRequest::raw(
        Command::MemberLeave,
        format!(r#"{{"RoomId":"{room}","MemberList_Account":["u{n}"],"EventTime":{n}}}"#),
    )
    .url("/cb")
}

/// The app's answer to `req`: its status and body.
pub async fn send(app: &Router, req: &CallbackRequest) -> (StatusCode, String) {
    let res = app.clone().oneshot(req.build::<Body>()).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

pub async fn pending(inbox: &Inbox) -> u64 {
    inbox.depth().await.unwrap().pending
}

/// The number (`EventTime`) of a [`leave`] event.
pub fn n_of(event: &InboxEvent) -> u64 {
    event
        .decode::<MemberLeave>()
        .unwrap()
        .event_time
        .as_millis()
}

/// The inbox's dead letters (up to 10) once there are any; fails after `within`.
pub async fn dead_letters(inbox: &Inbox, within: Duration) -> Vec<DeadLetter> {
    wait_for("a dead letter", within, || {
        let inbox = inbox.clone();
        async move {
            let dead = inbox.dead_letters(10).await.unwrap();
            (!dead.is_empty()).then_some(dead)
        }
    })
    .await
}
