//! The layer in a production-style stack: `cargo run --example tower_http`.
//!
//! An axum app whose middleware is, from the outside in:
//!
//! 1. tower-http's `TraceLayer` (one span per request, with its status and latency). Its span records the
//!    method and the **path only**: the default span (`TraceLayer::new_for_http()`) records the whole URI,
//!    and with callback authentication the query carries `Sign` and `RequestTime`, a signature that
//!    stays valid for the whole time window: keep it out of the logs;
//! 2. a 1.5 s deadline (`tower::timeout`), turned into a 503 FAIL acknowledgment by axum's
//!    `HandleErrorLayer`: Tencent stops waiting after about 2 s, so answer before that;
//! 3. `CallbackLayer` in handler mode for `Room.CallbackAfterMemberLeave`.
//!
//! A leave in room `slow` makes the handler take 3 s, to show the deadline at work. Logs go to stderr
//! (`RUST_LOG`, default `info,tower_http=debug`).
//!
//! Environment:
//! - `ROOM_CALLBACK_ADDR` (default `127.0.0.1:3002`)
//! - `ROOM_CALLBACK_SDKAPPID` (default `1400000000`)
//! - `ROOM_CALLBACK_TOKEN` (optional): verify `Sign` / `RequestTime` with it.
//!
//! Try it:
//!
//! ```text
//! curl -i -X POST 'http://127.0.0.1:3002/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json' \
//!      -d '{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123}'
//! # 200 {"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}
//!
//! curl -i -X POST 'http://127.0.0.1:3002/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave' \
//!      -d '{"RoomId":"slow","MemberList_Account":["user1"],"EventTime":1670574414123}'
//! # after 1.5 s: 503 {"ActionStatus":"FAIL","ErrorInfo":"the receiver did not answer in time","ErrorCode":50302}
//!
//! curl -i -X POST 'http://127.0.0.1:3002/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave' -d '[]'
//! # 400 {"ActionStatus":"FAIL","ErrorInfo":"the body is not a valid callback event: body is not a JSON object","ErrorCode":40006}
//! ```

use std::time::Duration;

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::http::{Request, StatusCode};
use axum::{routing::any, BoxError, Router};
use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

/// How long a request may take, body and handler included.
const DEADLINE: Duration = Duration::from_millis(1500);

async fn on_leave(event: MemberLeave, meta: CallbackMeta) -> Result<(), HandlerError> {
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

/// Turns the timeout's error into an answer Tencent can read.
async fn on_middleware_error(error: BoxError) -> (StatusCode, Ack) {
    if error.is::<tower::timeout::error::Elapsed>() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Ack::fail(50302, "the receiver did not answer in time"),
        )
    } else {
        tracing::error!(target: "example", %error, "middleware error");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Ack::fail(50003, "internal error"),
        )
    }
}

/// Anything the layer did not intercept.
async fn not_handled() -> (StatusCode, Ack) {
    (
        StatusCode::NOT_FOUND,
        Ack::fail(40401, "no handler for this request"),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=debug")),
        )
        .init();

    let addr = std::env::var("ROOM_CALLBACK_ADDR").unwrap_or_else(|_| "127.0.0.1:3002".into());
    let app_id: u64 = match std::env::var("ROOM_CALLBACK_SDKAPPID") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("ROOM_CALLBACK_SDKAPPID is not a number: {v:?}"))?,
        Err(_) => 1400000000,
    };
    let mut config = Config::new(app_id);
    if let Some(token) = std::env::var("ROOM_CALLBACK_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    {
        config = config.token(token)?;
    }

    let middleware = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                // Not the query: it may carry a valid Sign.
                tracing::info_span!("request", method = %req.method(), path = req.uri().path())
            }),
        )
        .layer(HandleErrorLayer::new(on_middleware_error))
        .timeout(DEADLINE)
        .layer(CallbackLayer::new(config).on(on_leave));

    let app = Router::new()
        .route("/callback", any(not_handled))
        .fallback(not_handled)
        .layer(middleware);

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(target: "example", addr = %listener.local_addr()?, sdk_app_id = app_id, "listening on /callback; Ctrl-C to stop");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
