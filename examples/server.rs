//! The receiver: `cargo run --example server`.
//!
//! An axum app behind the callback layer in handler mode, for all six Room commands, scoped to
//! `/callback` with `CallbackLayer::path`. Each accepted event is printed on stdout as one line of JSON
//! with Tencent's field names; logs go to stderr. Requests the layer does not intercept (another
//! command, or any request to another path, whatever its query: `GET /healthz?CallbackCommand=..` is the
//! app's own) reach the app's routes, which answer 404 with a FAIL acknowledgment. Ctrl-C or SIGTERM
//! stops it cleanly.
//!
//! Environment:
//! - `ROOM_CALLBACK_ADDR` (default `127.0.0.1:3000`)
//! - `ROOM_CALLBACK_SDKAPPID` (default `1400000000`)
//! - `ROOM_CALLBACK_TOKEN` (optional): verify `Sign` / `RequestTime` with it.
//!
//! Try it with `cargo run --example send -- http://127.0.0.1:3000/callback`.

use std::io::Write;

use axum::{http::StatusCode, routing::any, Router};
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, CommandSet, Config, HandlerError, RoomEvent,
};
use tracing_subscriber::EnvFilter;

/// Prints the event as one JSON line on stdout.
async fn print_event(event: RoomEvent, _meta: CallbackMeta) -> Result<(), HandlerError> {
    let mut line = serde_json::to_vec(&event)?;
    line.push(b'\n');
    // One write per line, under the lock: lines from concurrent requests never interleave.
    let mut out = std::io::stdout().lock();
    out.write_all(&line)?;
    out.flush()?;
    Ok(())
}

/// The app's own route: anything the layer did not intercept.
async fn no_handler() -> (StatusCode, Ack) {
    (
        StatusCode::NOT_FOUND,
        Ack::fail(40401, "no handler for this command"),
    )
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

    let addr = std::env::var("ROOM_CALLBACK_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
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
    let authenticated = config.authenticates();

    let app = Router::new()
        .route("/callback", any(no_handler))
        .fallback(no_handler)
        .layer(
            CallbackLayer::new(config)
                .path("/callback")
                .on_any(CommandSet::ALL, print_event),
        );

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(
        addr = %listener.local_addr()?,
        sdk_app_id = app_id,
        authenticated,
        "listening for Room callbacks on /callback"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    tracing::info!("stopped");
    Ok(())
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
}
