//! A receiver whose work is slower than Tencent's 2 s budget: `cargo run --example queue_worker`.
//!
//! The layer's handler is a bounded [`queue`]: a callback is answered OK as soon as its event is *in the
//! queue*, and 503 with a FAIL acknowledgment when the queue is full (backpressure: Tencent's retry,
//! where enabled, delivers it again) — never OK for an event that was then dropped. A worker task takes
//! the events one at a time and does the slow part (simulated here by a sleep). The layer is scoped to
//! `/callback`; everything else reaches the app, which answers 404 with a FAIL acknowledgment.
//!
//! On Ctrl-C or SIGTERM: the server stops accepting and finishes the requests in flight, then the worker
//! closes the queue and drains it, so every event that was acknowledged is processed before the process
//! exits 0. A crash, though, loses what is still queued: when that matters, persist the event in the
//! handler before answering OK (see the `queue` module docs).
//!
//! Environment (a variable set but wrong stops it with one line on stderr that names it):
//! - `ROOM_CALLBACK_ADDR` (default `127.0.0.1:3000`)
//! - `ROOM_CALLBACK_SDKAPPID` (default `1400000000`)
//! - `ROOM_CALLBACK_TOKEN` (optional): verify `Sign` / `RequestTime` with it.
//! - `QUEUE_CAPACITY` (default 64): events held before answering 503.
//! - `WORK_MS` (default 3000): simulated work per event, longer than Tencent's 2 s on purpose.
//!
//! Try it with `cargo run --example send -- http://127.0.0.1:3000/callback`, several times quickly:
//! each is answered at once while the worker takes `WORK_MS` per event. With `QUEUE_CAPACITY=1` the
//! third quick send is answered 503.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use axum::{http::StatusCode, routing::any, Router};
use tencent_room_callback::{queue, Ack, CallbackLayer, CommandSet, RoomEvent};
use tokio::sync::oneshot;
use tracing_subscriber::EnvFilter;

/// The slow part: what would be a database write or a remote call.
async fn process(event: &RoomEvent, work: Duration) {
    tokio::time::sleep(work).await;
    tracing::info!(
        command = %event.command(),
        room = event.room_id().unwrap_or(""),
        key = %event.idempotency_key(),
        "processed"
    );
}

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let common::Settings {
        addr,
        sdk_app_id,
        config,
    } = common::Settings::from_env("127.0.0.1:3000")?;
    let capacity: usize = common::number("QUEUE_CAPACITY", 64)?;
    let work = Duration::from_millis(common::number("WORK_MS", 3000)?);
    if capacity == 0 {
        return Err("QUEUE_CAPACITY must be at least 1, not 0".into());
    }
    // Before the worker starts: a failure to listen then stops the example with nothing to drain.
    let listener = common::listen(&addr).await?;

    let (handler, mut events) = queue::<RoomEvent>(capacity);

    // The worker: one event at a time, at its own pace. On shutdown it closes the queue (late callbacks
    // get 503) and drains what was already acknowledged.
    let (stop, mut stopped) = oneshot::channel::<()>();
    let worker = tokio::spawn(async move {
        let mut done = 0usize;
        loop {
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                next = events.recv() => match next {
                    Some((event, _meta)) => {
                        process(&event, work).await;
                        done += 1;
                    }
                    None => return done,
                },
            }
        }
        events.close();
        tracing::info!(waiting = events.len(), "draining the queue");
        while let Some((event, _meta)) = events.recv().await {
            process(&event, work).await;
            done += 1;
        }
        done
    });

    let app = Router::new()
        .route("/callback", any(not_a_callback))
        .fallback(not_a_callback)
        .layer(
            CallbackLayer::new(config)
                .path("/callback")
                .on_any(CommandSet::ALL, handler),
        );

    tracing::info!(
        addr = %listener.local_addr()?,
        sdk_app_id,
        capacity,
        work_ms = work.as_millis() as u64,
        "listening for Room callbacks on /callback"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            common::shutdown().await;
            tracing::info!("shutting down: finishing requests in flight");
        })
        .await?;

    // No request is in flight any more: let the worker finish what was acknowledged.
    let _ = stop.send(());
    let processed = worker.await?;
    tracing::info!(processed, "stopped; every acknowledged event was processed");
    Ok(())
}

/// Everything the layer does not intercept.
async fn not_a_callback() -> (StatusCode, Ack) {
    (
        StatusCode::NOT_FOUND,
        Ack::fail(40401, "no handler for this command"),
    )
}
