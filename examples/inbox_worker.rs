//! A receiver whose work is slower than Tencent's 2 s budget, on a durable inbox:
//! `cargo run --example inbox_worker`.
//!
//! The layer stores every verified "after" callback in the embedded [`Inbox`] (a redb file in
//! `INBOX_DIR`) and answers OK only once the event is synced to disk; a worker then handles the stored
//! events at its own pace (simulated here by a sleep), retrying failures with backoff. A crash or a
//! `kill -9` loses nothing that was acknowledged: the next start hands the remaining events to the
//! worker. The layer is scoped to `/callback`; everything else reaches the app, which answers 404 with
//! a FAIL acknowledgment.
//!
//! On Ctrl-C or SIGTERM: the server stops accepting and finishes the requests in flight, then the worker
//! gets up to 10 s to finish the events it holds; what it has not finished stays in the inbox for the
//! next start. Exit 0.
//!
//! Environment (a variable set but wrong stops it with one line on stderr that names it):
//! - `ROOM_CALLBACK_ADDR` (default `127.0.0.1:3000`)
//! - `ROOM_CALLBACK_SDKAPPID` (default `1400000000`)
//! - `ROOM_CALLBACK_TOKEN` (optional): verify `Sign` / `RequestTime` with it.
//! - `INBOX_DIR` (default `./callback-inbox`): the inbox's directory.
//! - `WORK_MS` (default 3000): simulated work per event, longer than Tencent's 2 s on purpose.
//!
//! Try it with `cargo run --example send -- http://127.0.0.1:3000/callback`, several times quickly:
//! each is answered at once (a copy of the same callback is answered OK and not stored again) while the
//! worker takes `WORK_MS` per event; stop and start the example in between, nothing acknowledged is
//! lost.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use axum::{http::StatusCode, routing::any, Router};
use tencent_room_callback::{Ack, CallbackLayer, HandlerError};
use tencent_room_callback_inbox::{Inbox, InboxEvent};

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
    } = common::Settings::from_env("127.0.0.1:3000")?;
    let work = Duration::from_millis(common::number("WORK_MS", 3000)?);
    let dir = match std::env::var("INBOX_DIR") {
        Ok(dir) if dir.trim().is_empty() => {
            return Err(common::Startup::from("INBOX_DIR is set but empty".to_owned()).into())
        }
        Ok(dir) => dir,
        Err(_) => "./callback-inbox".to_owned(),
    };
    let inbox =
        Inbox::open(&dir).map_err(|e| common::Startup::from(format!("INBOX_DIR: {dir}: {e}")))?;
    let listener = common::listen(&addr).await?;

    let worker = inbox
        .worker(move |event: InboxEvent| async move {
            // The slow part: what would be a database write or a remote call.
            tokio::time::sleep(work).await;
            tracing::info!(
                id = %event.id(),
                command = %event.meta().command,
                room = event.room().unwrap_or(""),
                attempt = event.attempt(),
                "processed"
            );
            Ok::<(), HandlerError>(())
        })
        .concurrency(4)
        .ordered_by_room(true)
        .start();

    let app = Router::new()
        .route("/callback", any(not_a_callback))
        .fallback(not_a_callback)
        .layer(
            CallbackLayer::new(config)
                .path("/callback")
                .on_notifications(inbox.clone()),
        );

    tracing::info!(
        addr = %listener.local_addr()?,
        sdk_app_id,
        inbox = %dir,
        waiting = inbox.depth().await?.pending,
        work_ms = work.as_millis() as u64,
        "listening for callbacks on /callback"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            common::shutdown().await;
            tracing::info!("shutting down: finishing requests in flight");
        })
        .await?;

    let report = worker.shutdown(Duration::from_secs(10)).await;
    tracing::info!(
        finished = report.finished,
        left_for_next_start = report.returned,
        "stopped"
    );
    // The file written clean and unlocked, so that the next start needs no repair.
    inbox.close().await?;
    Ok(())
}

/// Everything the layer does not intercept.
async fn not_a_callback() -> (StatusCode, Ack) {
    (
        StatusCode::NOT_FOUND,
        Ack::fail(40401, "no handler for this command"),
    )
}
