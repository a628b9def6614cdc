//! Extensions mode with axum: `cargo run --example extensions`.
//!
//! The layer verifies and decodes `Room.CallbackAfterMemberLeave` callbacks, then hands them to the app's
//! own axum handler in the request's extensions: the event as `Extension<MemberLeave>`, the query's
//! metadata as `Extension<CallbackMeta>`, the original body still readable. The handler answers with
//! [`Ack`], which is the acknowledgment Tencent expects. The layer is scoped to `/callback`
//! (`CallbackLayer::path`): any other request, and any request to another path whatever its query,
//! reaches the router untouched, and the app answers 404 with a FAIL acknowledgment. Ctrl-C or SIGTERM
//! stops it cleanly.
//!
//! Environment (a variable set but wrong stops it with one line on stderr that names it):
//! - `ROOM_CALLBACK_ADDR` (default `127.0.0.1:3003`)
//! - `ROOM_CALLBACK_SDKAPPID` (default `1400000000`)
//! - `ROOM_CALLBACK_TOKEN` (optional): verify `Sign` / `RequestTime` with it.
//!
//! Try it:
//!
//! ```text
//! curl -i -X POST 'http://127.0.0.1:3003/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=127.0.0.1&OptPlatform=Web' \
//!      -H 'Content-Type: application/json' \
//!      -d '{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"bye","EventTime":1670574414123}'
//! # 200 {"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}
//!
//! curl -i 'http://127.0.0.1:3003/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave'
//! # 405, Allow: POST, a FAIL acknowledgment with ErrorCode 40501
//! ```
//!
//! Or `cargo run --example send -- http://127.0.0.1:3003/callback` (a member-leave callback by default).

mod common;

use std::process::ExitCode;

use axum::{http::StatusCode, routing::post, Extension, Router};
use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Event, MemberLeave};

/// The app's handler for verified leave callbacks.
///
/// A POST to `/callback` that is *not* a leave callback is not intercepted and arrives here without the
/// extensions: taking them as `Option` answers such a request with a FAIL acknowledgment instead of
/// axum's 500 "Missing request extension".
async fn on_leave(
    event: Option<Extension<MemberLeave>>,
    meta: Option<Extension<CallbackMeta>>,
    body: String,
) -> Result<Ack, (StatusCode, Ack)> {
    let (Some(Extension(event)), Some(Extension(meta))) = (event, meta) else {
        return Err(not_handled().await);
    };
    let members: Vec<&str> = event.members.iter().map(|m| m.as_str()).collect();
    println!(
        "app {}: {} left room {} ({:?}); {} bytes of JSON; event key {}",
        meta.sdk_app_id,
        members.join(", "),
        event.room_id,
        event.kind,
        body.len(),
        event.event_key(),
    );
    Ok(Ack::ok())
}

/// Anything the layer did not take: not a leave callback.
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
    let common::Settings {
        addr,
        sdk_app_id,
        config,
    } = common::Settings::from_env("127.0.0.1:3003")?;

    let app = Router::new()
        .route("/callback", post(on_leave))
        .fallback(not_handled)
        .layer(
            CallbackLayer::new(config)
                .path("/callback")
                .extension::<MemberLeave>(),
        );

    let listener = common::listen(&addr).await?;
    eprintln!(
        "listening on http://{}/callback (SDKAppID {sdk_app_id}); Ctrl-C or SIGTERM to stop",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(common::shutdown())
        .await?;
    eprintln!("stopped");
    Ok(())
}
