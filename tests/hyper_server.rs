//! The layer behind a real hyper 1 server on 127.0.0.1, driven by a real hyper client over loopback.
//!
//! - Handler mode straight on `Request<hyper::body::Incoming>`, around a `tower::service_fn` inner
//!   service, served with `hyper_util::server::conn::auto::Builder`.
//! - Extensions mode: the `Incoming` body mapped to `axum::body::Body` with
//!   `ServiceBuilder::map_request` in front of an axum `Router`; and the same router served by
//!   `axum::serve`.
//! - A body that stops arriving, sent over a raw TCP socket: 408.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};

const APP: u64 = 1400000000;
const QUERY: &str = "SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=10.1.2.3&OptPlatform=Android";
const BODY: &str = r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Kicked","MemberList_Account":["user1","user2"],"Reason":"xxxx","EventTime":1670574414123}"#;

/// Serves `svc` on 127.0.0.1 (any free port) with hyper-util's auto (HTTP/1 and HTTP/2) connection
/// builder, one task per connection. The server task ends with the test's runtime.
async fn serve<S, B>(svc: S) -> SocketAddr
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let svc = svc.clone();
            tokio::spawn(async move {
                // `oneshot` readies the clone it calls.
                let svc = hyper::service::service_fn(move |req| svc.clone().oneshot(req));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends a request and returns the status, headers and collected body.
async fn send(
    client: &HttpClient,
    method: &str,
    uri: String,
    body: impl Into<Bytes>,
) -> (StatusCode, http::HeaderMap, Bytes) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(body.into()))
        .unwrap();
    // Bounds against hanging (a failure, not a timing assertion).
    let within = std::time::Duration::from_secs(10);
    let res = tokio::time::timeout(within, client.request(req))
        .await
        .expect("no answer within 10 s")
        .unwrap();
    let (parts, body) = res.into_parts();
    let body = tokio::time::timeout(within, body.collect())
        .await
        .expect("the answer's body did not end within 10 s")
        .unwrap()
        .to_bytes();
    (parts.status, parts.headers, body)
}

fn fail_code(headers: &http::HeaderMap, body: &[u8]) -> i64 {
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let ack: Ack = serde_json::from_slice(body).unwrap();
    assert!(!ack.is_ok());
    ack.error_code()
}

type Seen = Arc<Mutex<Vec<(MemberLeave, CallbackMeta)>>>;

/// The inner service of the handler-mode server: echoes what it gets, with its status 299 to tell it
/// apart from the layer's answers.
async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let mut text = format!("{} {} ", parts.method, parts.uri).into_bytes();
    text.extend_from_slice(&body);
    Ok(Response::builder()
        .status(299)
        .body(Full::new(Bytes::from(text)))
        .unwrap())
}

#[tokio::test]
async fn handler_mode_on_incoming_over_loopback() {
    let seen = Seen::default();
    let s = seen.clone();
    let layer = CallbackLayer::new(Config::new(APP).body_limit(1024))
        .verify_unrouted(true)
        .on(move |event: MemberLeave, meta: CallbackMeta| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push((event, meta));
                Ok::<(), HandlerError>(())
            }
        });
    // Handler mode takes hyper's `Incoming` body as it is.
    let svc = ServiceBuilder::new().layer(layer).service(service_fn(echo));
    let addr = serve(svc).await;
    let client = client();

    // A callback: answered OK by the layer, the event handed to the handler.
    let (status, headers, body) =
        send(&client, "POST", format!("http://{addr}/cb?{QUERY}"), BODY).await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(&body[..], Ack::OK_BODY);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let (event, meta) = &seen[0];
        assert_eq!(event.room_id, "rid-123");
        assert_eq!(event.members, ["user1", "user2"]);
        assert_eq!(meta.sdk_app_id, APP);
        assert_eq!(
            meta.client_ip.as_ref().and_then(|ip| ip.ip()),
            Some("10.1.2.3".parse().unwrap())
        );
    }

    // Rejections, over the same client (and so, where kept alive, the same connection).
    let other_app = QUERY.replace("SdkAppid=1400000000", "SdkAppid=1400000001");
    let (status, headers, body) = send(
        &client,
        "POST",
        format!("http://{addr}/cb?{other_app}"),
        BODY,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(fail_code(&headers, &body), 40301);

    let (status, headers, body) =
        send(&client, "GET", format!("http://{addr}/cb?{QUERY}"), "").await;
    assert_eq!(status, 405);
    assert_eq!(headers[header::ALLOW], "POST");
    assert_eq!(fail_code(&headers, &body), 40501);

    let (status, headers, body) = send(
        &client,
        "POST",
        format!("http://{addr}/cb?{QUERY}"),
        r#"{"RoomId":"r"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(fail_code(&headers, &body), 40006);

    // Content-Length over the limit: refused from the head.
    let big = Bytes::from(format!("{{\"pad\":\"{}\"}}", "x".repeat(2000)));
    let (status, headers, body) = send(
        &client,
        "POST",
        format!("http://{addr}/cb?{QUERY}"),
        big.clone(),
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(fail_code(&headers, &body), 41301);

    // Pass-through: the inner service gets the request and reads its body itself.
    let uri =
        format!("http://{addr}/cb?SdkAppid={APP}&CallbackCommand=Room.CallbackAfterMemberEnter");
    let (status, _, body) = send(&client, "POST", uri, "hello inner").await;
    assert_eq!(status, 299);
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!(
            "POST /cb?SdkAppid={APP}&CallbackCommand=Room.CallbackAfterMemberEnter hello inner"
        )
    );
    let (status, _, body) = send(
        &client,
        "PUT",
        format!("http://{addr}/elsewhere"),
        big.clone(),
    )
    .await;
    assert_eq!(status, 299, "the body limit applies to callbacks only");
    assert_eq!(body.len(), "PUT /elsewhere ".len() + big.len());

    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "no rejected request reached the handler"
    );
}

/// The extensions-mode app: an axum route reading the event, its metadata and the original body.
fn extensions_router(seen: Seen) -> Router {
    Router::new()
        .route(
            "/cb",
            post(
                move |Extension(event): Extension<MemberLeave>,
                      Extension(meta): Extension<CallbackMeta>,
                      body: String| async move {
                    assert_eq!(body, BODY, "the original body, byte for byte");
                    seen.lock().unwrap().push((event, meta));
                    Ack::ok()
                },
            ),
        )
        .route(
            "/other",
            post(|body: String| async move { format!("other: {body}") }),
        )
}

async fn check_extensions_server(addr: SocketAddr, seen: &Seen) {
    let client = client();
    let (status, headers, body) =
        send(&client, "POST", format!("http://{addr}/cb?{QUERY}"), BODY).await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(&body[..], Ack::OK_BODY);
    assert_eq!(seen.lock().unwrap()[0].0.room_id, "rid-123");
    assert_eq!(seen.lock().unwrap()[0].1.sdk_app_id, APP);

    let (status, headers, body) = send(
        &client,
        "POST",
        format!("http://{addr}/cb?CallbackCommand=Room.CallbackAfterMemberLeave"),
        BODY,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(fail_code(&headers, &body), 40002);

    let (status, _, body) = send(&client, "POST", format!("http://{addr}/other?a=b"), "hi").await;
    assert_eq!(status, 200);
    assert_eq!(&body[..], b"other: hi");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn extensions_mode_over_loopback_with_map_request() {
    let seen = Seen::default();
    let svc = ServiceBuilder::new()
        .map_request(|req: Request<Incoming>| req.map(axum::body::Body::new))
        .layer(
            CallbackLayer::new(Config::new(APP))
                .verify_unrouted(true)
                .extension::<MemberLeave>(),
        )
        .service(extensions_router(seen.clone()));
    let addr = serve(svc).await;
    check_extensions_server(addr, &seen).await;
}

#[tokio::test]
async fn extensions_mode_over_loopback_with_axum_serve() {
    let seen = Seen::default();
    let app = extensions_router(seen.clone()).layer(
        CallbackLayer::new(Config::new(APP))
            .verify_unrouted(true)
            .extension::<MemberLeave>(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    check_extensions_server(addr, &seen).await;
}

/// Reads one HTTP/1.1 response (head and `Content-Length` body) from a raw socket.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a full answer: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .expect("a content-length");
            if buf.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                return (status, text[end + 4..end + 4 + len].to_owned());
            }
        }
    }
}

/// On tokio's paused clock: once the server has read what was sent and the runtime is idle, time
/// jumps to the 50 ms body timeout (the 30 s bound against hanging is on the same clock, and later).
#[tokio::test(start_paused = true)]
async fn a_body_that_stops_arriving_is_408() {
    let layer = CallbackLayer::new(Config::new(APP).body_timeout(Some(Duration::from_millis(50))))
        .verify_unrouted(true)
        .on(|_: MemberLeave, _: CallbackMeta| async { Ok::<(), HandlerError>(()) });
    let svc =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(|_: Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
            }));
    let addr = serve(svc).await;
    let start = tokio::time::Instant::now();

    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /cb?{QUERY} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        BODY.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Half the body, then nothing.
    stream
        .write_all(&BODY.as_bytes()[..BODY.len() / 2])
        .await
        .unwrap();
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), read_response(&mut stream))
        .await
        .expect("the server answers once the body timeout passes");
    assert_eq!(status, 408);
    assert!(start.elapsed() >= Duration::from_millis(50));
    let ack: Ack = serde_json::from_str(&body).unwrap();
    assert_eq!(ack.error_code(), 40801);
}
