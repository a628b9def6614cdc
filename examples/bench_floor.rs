//! A comparison server for `scripts/loadtest.sh`: the floor of any HTTP receiver.
//!
//! Not an example to follow: it exists only to measure the callback layer against it. A bare hyper
//! HTTP/1 server that answers every request with the static OK acknowledgment, without reading the
//! body, checking anything or decoding anything.
//!
//! `BENCH_MODE` picks what the same server does before that answer, to split the costs apart:
//! - `static` (default): nothing, the body is not even read;
//! - `decode`: collects the body and decodes it into `MemberLeave` with `serde_json::from_slice`;
//! - `layer`: [`CallbackLayer`] in front (handler mode, scoped to `/callback` as in
//!   `examples/server.rs`, a handler that does nothing), nothing else changed (no axum, no printing):
//!   the layer's own cost over loopback.
//!
//! `BENCH_ADDR` (default `127.0.0.1:3002`).

use std::convert::Infallible;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
use tower::{service_fn, Layer};

const OK_BODY: &[u8] = br#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}"#;

async fn answer<B>(_req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::from_static(OK_BODY)));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(res)
}

async fn decode_then_answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    use http_body_util::BodyExt;
    if let Ok(body) = req.into_body().collect().await {
        let event = serde_json::from_slice::<MemberLeave>(&body.to_bytes());
        drop(std::hint::black_box(event));
    }
    answer(Request::new(())).await
}

async fn on_leave(event: MemberLeave, _meta: CallbackMeta) -> Result<(), HandlerError> {
    drop(std::hint::black_box(event));
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // An error that stops it is one sentence on stderr (Display, not Debug), then exit 1.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_floor: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("BENCH_ADDR").unwrap_or_else(|_| "127.0.0.1:3002".into());
    let mode = std::env::var("BENCH_MODE").unwrap_or_else(|_| "static".into());
    if !["static", "decode", "layer"].contains(&mode.as_str()) {
        return Err(format!("BENCH_MODE must be static, decode or layer, not {mode:?}").into());
    }
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("BENCH_ADDR: cannot listen on {addr}: {e}"))?;
    eprintln!("bare hyper ({mode}) on {}", listener.local_addr()?);
    let layer = CallbackLayer::new(Config::new(1400000000))
        .path("/callback")
        .on(on_leave);
    loop {
        let (stream, _) = listener.accept().await?;
        let io = TokioIo::new(stream);
        let http = http1::Builder::new();
        match mode.as_str() {
            "layer" => {
                let svc = TowerToHyperService::new(layer.layer(service_fn(answer)));
                tokio::spawn(http.serve_connection(io, svc));
            }
            "decode" => {
                let svc = hyper::service::service_fn(decode_then_answer);
                tokio::spawn(http.serve_connection(io, svc));
            }
            _ => {
                let svc = hyper::service::service_fn(answer);
                tokio::spawn(http.serve_connection(io, svc));
            }
        }
    }
}
