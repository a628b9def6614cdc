//! A comparison receiver for `scripts/loadtest.sh`: what a user writes by hand instead of the layer.
//!
//! Not an example to follow: it exists only to measure the callback layer against it. An axum route
//! with `Query<HashMap<String, String>>` and `Json<MemberLeave>` extractors, the same SDKAppID check as
//! the layer (no signature), and the same work as `examples/server.rs` once the event is decoded: one
//! JSON line per event on stdout, then the OK acknowledgment from a serde struct.
//!
//! `BENCH_ADDR` (default `127.0.0.1:3001`).

use std::collections::HashMap;
use std::io::Write;

use axum::extract::{Json, Query};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde::Serialize;
use tencent_room_callback::MemberLeave;

const APP: u64 = 1400000000;

/// The acknowledgment, as a user would write it.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct Answer {
    ActionStatus: &'static str,
    ErrorInfo: &'static str,
    ErrorCode: i64,
}

async fn callback(
    Query(query): Query<HashMap<String, String>>,
    Json(event): Json<MemberLeave>,
) -> Result<Json<Answer>, StatusCode> {
    let app: u64 = query
        .get("SdkAppid")
        .and_then(|v| v.parse().ok())
        .ok_or(StatusCode::BAD_REQUEST)?;
    if app != APP {
        return Err(StatusCode::FORBIDDEN);
    }
    // What examples/server.rs does with each event: one JSON line on stdout.
    let mut line = serde_json::to_vec(&event).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    out.write_all(&line)
        .and_then(|()| out.flush())
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(Answer {
        ActionStatus: "OK",
        ErrorInfo: "",
        ErrorCode: 0,
    }))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // An error that stops it is one sentence on stderr (Display, not Debug), then exit 1.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_handwritten: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("BENCH_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let app = Router::new().route("/callback", post(callback));
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("BENCH_ADDR: cannot listen on {addr}: {e}"))?;
    eprintln!("hand-written axum receiver on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
