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
//! exits. A crash, though, loses what is still queued: when that matters, persist the event in the
//! handler before answering OK (see the `queue` module docs).
//!
//! Environment:
//! - `ROOM_CALLBACK_ADDR` (default `127.0.0.1:3000`)
//! - `ROOM_CALLBACK_SDKAPPID` (default `1400000000`)
//! - `ROOM_CALLBACK_TOKEN` (optional): verify `Sign` / `RequestTime` with it.
//! - `QUEUE_CAPACITY` (default 64): events held before answering 503.
//! - `WORK_MS` (default 3000): simulated work per event, longer than Tencent's 2 s on purpose.
//!
//! Try it with `cargo run --example send -- http://127.0.0.1:3000/callback`, several times quickly:
//! each is answered at once while the worker takes `WORK_MS` per event. With `QUEUE_CAPACITY=1` the
//! third quick send is answered 503.

use std::time::Duration;

use axum::{http::StatusCode, routing::any, Router};
use tencent_room_callback::{queue, Ack, CallbackLayer, CommandSet, Config, RoomEvent};
use tokio::sync::oneshot;
use tracing_subscriber::EnvFilter;

fn env<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name} is not a valid value: {v:?}")),
        Err(_) => Ok(default),
    }
}

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
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let addr: String = env("ROOM_CALLBACK_ADDR", "127.0.0.1:3000".to_owned())?;
    let app_id: u64 = env("ROOM_CALLBACK_SDKAPPID", 1400000000)?;
    let capacity: usize = env("QUEUE_CAPACITY", 64)?;
    let work = Duration::from_millis(env("WORK_MS", 3000)?);
    if capacity == 0 {
        return Err("QUEUE_CAPACITY must be at least 1".into());
    }
    let mut config = Config::new(app_id);
    if let Some(token) = std::env::var("ROOM_CALLBACK_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    {
        config = config.token(token)?;
    }

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

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(
        addr = %listener.local_addr()?,
        capacity,
        work_ms = work.as_millis() as u64,
        "listening for Room callbacks on /callback"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
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

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
