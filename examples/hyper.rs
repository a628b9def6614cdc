//! A bare hyper 1 server, no framework: `cargo run --example hyper`.
//!
//! `CallbackLayer`, scoped to `/callback`, wraps a `tower::service_fn` and receives hyper's own
//! `Request<Incoming>`. Its two modes, side by side:
//!
//! - handler mode: member leave callbacks go to an async handler and are acknowledged by the layer;
//! - extensions mode: member enter callbacks are verified and decoded by the layer, then handed to the
//!   inner service in the request's extensions; the inner service answers the acknowledgment itself.
//!
//! With an extensions route the inner service receives `Request<RequestBody<Incoming>>`: hyper's body,
//! untouched, for a request the layer passes through, or the bytes the layer read for a forwarded
//! callback. Any other request reaches the inner service, which answers 404 with a FAIL acknowledgment.
//! Ctrl-C or SIGTERM stops accepting, lets the open connections finish their requests, then exits 0.
//! The layer's trace events go to stderr (`RUST_LOG` filters them; default `info`).
//!
//! Environment (a variable set but wrong stops it with one line on stderr that names it):
//! - `ROOM_CALLBACK_ADDR` (default `127.0.0.1:3001`)
//! - `ROOM_CALLBACK_SDKAPPID` (default `1400000000`)
//! - `ROOM_CALLBACK_TOKEN` (optional): verify `Sign` / `RequestTime` with it.
//!
//! Try it:
//!
//! ```text
//! curl -i -X POST 'http://127.0.0.1:3001/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=127.0.0.1&OptPlatform=Web' \
//!      -d '{"RoomId":"rid-123","MemberList_Account":["user1","user2"],"Type":"Kicked","EventTime":1670574414123}'
//! # 200 {"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}, from the layer
//!
//! curl -i -X POST 'http://127.0.0.1:3001/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberEnter' \
//!      -d '{"RoomId":"rid-123","MemberList_Account":["user3"],"EventTime":1670574414123}'
//! # 200 {"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}, from the inner service
//!
//! curl -i -X POST 'http://127.0.0.1:3001/callback?SdkAppid=42&CallbackCommand=Room.CallbackAfterMemberLeave' -d '{}'
//! # 403 {"ActionStatus":"FAIL","ErrorInfo":"callback layer: SdkAppid is not an app of this receiver: 42","ErrorCode":40301}
//!
//! curl -i 'http://127.0.0.1:3001/health?CallbackCommand=Room.CallbackAfterMemberLeave'
//! # 404 from the inner service: not the callback path
//! ```

mod common;

use std::convert::Infallible;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tencent_room_callback::service::RequestBody;
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, HandlerError, MemberEnter, MemberLeave,
};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::{service_fn, ServiceBuilder, ServiceExt};

async fn on_leave(event: MemberLeave, meta: CallbackMeta) -> Result<(), HandlerError> {
    println!(
        "app {}: {:?} left room {} ({:?})",
        meta.sdk_app_id, event.members, event.room_id, event.kind
    );
    Ok(())
}

/// The inner service: member enter callbacks, verified and decoded by the layer, in the extensions; and
/// everything the layer did not intercept.
async fn app(req: Request<RequestBody<Incoming>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let extensions = req.extensions();
    if let (Some(event), Some(meta)) = (
        extensions.get::<MemberEnter>(),
        extensions.get::<CallbackMeta>(),
    ) {
        println!(
            "app {}: {:?} entered room {}",
            meta.sdk_app_id, event.members, event.room_id
        );
        return Ok(Ack::ok().http_response(StatusCode::OK));
    }
    Ok(Ack::fail(40401, "no handler for this command").http_response(StatusCode::NOT_FOUND))
}

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logs("info");

    let common::Settings {
        addr,
        sdk_app_id,
        config,
    } = common::Settings::from_env("127.0.0.1:3001")?;

    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config)
                .path("/callback")
                .on(on_leave)
                .extension::<MemberEnter>(),
        )
        .service(service_fn(app));

    let listener = common::listen(&addr).await?;
    tracing::info!(addr = %listener.local_addr()?, sdk_app_id, "listening on /callback; Ctrl-C or SIGTERM to stop");

    // Every connection watches this; Ctrl-C or SIGTERM flips it.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let shutdown = common::shutdown();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let svc = svc.clone();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            // `oneshot` readies the clone before calling it.
            let hyper_svc = hyper::service::service_fn(move |req| svc.clone().oneshot(req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), hyper_svc);
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = stop.changed() => {
                    // Finish the request in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
        // Reap finished connections as we go.
        while connections.try_join_next().is_some() {}
    }

    tracing::info!(open = connections.len(), "stopping: no new connections");
    drop(listener);
    let _ = stop_tx.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 10 s; closing them");
    }
    tracing::info!("stopped");
    Ok(())
}
