//! The layer in a production-style stack: `cargo run --example tower_http`.
//!
//! An axum app whose middleware is one `ServiceBuilder`, from the outside in:
//!
//! 1. tower-http's `TraceLayer`: one span per request, callbacks included, with its status and latency.
//!    Its span records the method and the **path only**: the default span (`TraceLayer::new_for_http()`)
//!    records the whole URI, and with callback authentication the query carries `Sign` and
//!    `RequestTime`, a signature that stays valid for the whole time window: keep it out of the logs;
//! 2. `CallbackLayer`, scoped to `/callback`, in handler mode for `Room.CallbackAfterMemberLeave`;
//! 3. tower-http's `CompressionLayer` (gzip), for the app's own answers.
//!
//! The callback layer sits *outside* the compression layer: its answers carry a `ResponseBody` (the
//! inner service's body, or the layer's own bytes), so it can wrap layers that change the response body.
//! The app's answers are compressed for a client that accepts gzip; the acknowledgments of the callbacks
//! the layer handles stay plain JSON, whatever the client's `Accept-Encoding`.
//!
//! Tencent stops waiting after about 2 s: answer before that. The body must arrive within 0.5 s
//! (`Config::body_timeout`, answered 408), and the handler is a `ServiceHandler`: a `tower` service
//! wrapped by tower's own middleware, with a 1 s deadline and a limit of 64 events in progress at once
//! (load shedding beyond that). A late or refused event is answered 503 with a FAIL acknowledgment, so
//! that Tencent's retry, where enabled, can deliver it again. A leave in room `slow` makes the handler
//! take 3 s, to show the deadline at work. Logs go to stderr (`RUST_LOG`, default
//! `info,tower_http=debug`). Ctrl-C or SIGTERM stops it cleanly.
//!
//! Environment (a variable set but wrong stops it with one line on stderr that names it):
//! - `ROOM_CALLBACK_ADDR` (default `127.0.0.1:3002`)
//! - `ROOM_CALLBACK_SDKAPPID` (default `1400000000`)
//! - `ROOM_CALLBACK_TOKEN` (optional): verify `Sign` / `RequestTime` with it.
//!
//! Try it:
//!
//! ```text
//! curl -i --compressed -X POST 'http://127.0.0.1:3002/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json' \
//!      -d '{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123}'
//! # 200 {"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}   (not compressed)
//!
//! curl -i -X POST 'http://127.0.0.1:3002/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave' \
//!      -d '{"RoomId":"slow","MemberList_Account":["user1"],"EventTime":1670574414123}'
//! # after 1 s: 503 {"ActionStatus":"FAIL","ErrorInfo":"callback layer: the receiver cannot take the event now, retry later","ErrorCode":50301}
//!
//! curl -i -X POST 'http://127.0.0.1:3002/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave' -d '[]'
//! # 400 {"ActionStatus":"FAIL","ErrorInfo":"callback layer: the body is not a valid callback event: body is not a JSON object","ErrorCode":40006}
//!
//! curl -i --compressed -X POST 'http://127.0.0.1:3002/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberEnter' -d '{}'
//! # 404 from the app (not a command this receiver handles), content-encoding: gzip
//! ```

mod common;

use std::process::ExitCode;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::{routing::any, BoxError, Router};
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, HandlerError, MemberLeave, ServiceHandler,
};
use tower::load_shed::error::Overloaded;
use tower::timeout::error::Elapsed;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

/// How long the body of a callback may take to arrive.
const BODY_DEADLINE: Duration = Duration::from_millis(500);
/// How long the handler may take: with the body's, within 1.5 s, well inside Tencent's 2 s.
const HANDLER_DEADLINE: Duration = Duration::from_secs(1);
/// How many events may be in progress at once; beyond that, events are refused at once.
const MAX_IN_FLIGHT: usize = 64;

/// The handler, as a `tower` service of `(event, metadata)`.
async fn on_leave((event, meta): (MemberLeave, CallbackMeta)) -> Result<(), HandlerError> {
    if event.room_id == "slow" {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    tracing::info!(
        target: "example",
        sdk_app_id = meta.sdk_app_id,
        room = %event.room_id,
        members = ?event.members,
        "members left"
    );
    Ok(())
}

/// The middleware's errors, back into the handler's: too late or too busy is "unavailable" (503, so that
/// Tencent may retry); the handler's own errors come back as they were.
fn late_or_busy(error: BoxError) -> HandlerError {
    if error.is::<Elapsed>() || error.is::<Overloaded>() {
        HandlerError::unavailable(error)
    } else {
        HandlerError::new(error)
    }
}

/// The app's answer to anything the layer did not intercept.
async fn not_handled() -> (StatusCode, Ack) {
    (
        StatusCode::NOT_FOUND,
        Ack::fail(40401, "no handler for this command"),
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logs("info,tower_http=debug");

    let common::Settings {
        addr,
        sdk_app_id,
        config,
    } = common::Settings::from_env("127.0.0.1:3002")?;
    let config = config.body_timeout(Some(BODY_DEADLINE));

    // The handler behind tower's middleware: a deadline, a concurrency limit, load shedding.
    let handler = ServiceBuilder::new()
        .map_err(late_or_busy)
        .load_shed()
        .concurrency_limit(MAX_IN_FLIGHT)
        .timeout(HANDLER_DEADLINE)
        .service_fn(on_leave);

    let middleware = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                // Not the query: it may carry a valid Sign.
                tracing::info_span!("request", method = %req.method(), path = req.uri().path())
            }),
        )
        .layer(
            CallbackLayer::new(config)
                .path("/callback")
                .on(ServiceHandler::new(handler)),
        )
        .layer(CompressionLayer::new());

    let app = Router::new()
        .route("/callback", any(not_handled))
        .fallback(not_handled)
        .layer(middleware);

    let listener = common::listen(&addr).await?;
    tracing::info!(target: "example", addr = %listener.local_addr()?, sdk_app_id, "listening on /callback; Ctrl-C or SIGTERM to stop");
    axum::serve(listener, app)
        .with_graceful_shutdown(common::shutdown())
        .await?;
    tracing::info!(target: "example", "stopped");
    Ok(())
}
