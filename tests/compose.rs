//! The layer composes anywhere in a tower stack, proven over loopback.
//!
//! The matrix: each tower-http layer (`TraceLayer`, `CompressionLayer`, `RequestBodyLimitLayer`,
//! `TimeoutLayer`, `CorsLayer`, `CatchPanicLayer`, `SetResponseHeaderLayer`) × both positions (the
//! callback layer outside it, and inside it) × the three ways to apply a layer (`Router::layer`,
//! `Router::route_layer`, `tower::ServiceBuilder` around the whole router) × handler and extensions
//! mode: 84 stacks, each served by a real hyper-util `auto` server on 127.0.0.1 and checked with an
//! HTTP/1.1 client and an HTTP/2 (prior knowledge) client, 168 checks in all. Each check sends a valid
//! callback (200, the exact OK bytes, the event delivered), another app's callback (403, 40301, nothing
//! delivered) and requests that are not callbacks (the app's own answers, untouched), and asserts
//! what the tower-http layer does to each answer: it acts on an answer when it is outside the callback
//! layer or when the app made the answer (the callback layer's own answers never pass through a layer
//! inside it). Layer-specific checks: gzip answers that decode to the same bytes, the set header, the
//! CORS header, what `TraceLayer` saw, 413/41301 for a body over the limits, 500 for panics (50002 for
//! a panicking handler) with the server still serving.
//!
//! Then targeted tests of the 0.2 composition features: path scoping in the README's app, extensions
//! mode straight on hyper's `Incoming`, a handler that is not `Clone`, and a `ServiceHandler` behind
//! tower's load shedding, concurrency limit and timeout.
//!
//! Every network step is bounded by [`WITHIN`], so a broken combination fails instead of hanging.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Router};
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Version};
use http_body::{Body as HttpBody, Frame};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tencent_room_callback::service::RequestBody;
use tencent_room_callback::testing::{fixtures, CallbackRequest};
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, Config, Handler, HandlerError, MemberLeave, ServiceHandler,
};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::util::BoxCloneService;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::decompression::Decompression;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{OnRequest, TraceLayer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The app the layers serve, and another one.
const APP: u64 = 1_400_000_000;
const OTHER_APP: u64 = 1_400_000_001;
/// The bound on every network step: a failure, not a timing assertion.
const WITHIN: Duration = Duration::from_secs(10);
/// The callback layer's own body limit in the matrix, and the tower-http limit in front of or behind it.
const CALLBACK_LIMIT: usize = 4096;
const TOWER_LIMIT: usize = 1024;
/// A body over both limits.
const BIG: usize = 8 * 1024;
/// The app's own answers: longer than 32 bytes, so that `CompressionLayer` compresses them too.
const HEALTHZ: &str = "healthz: the app's own answer, passed through untouched";
const OTHER: &str = "other: the app's own answer to POST /other, untouched";
const APP_CALLBACK: &str = "the app's own /callback route, which no callback may reach";
/// A room whose handler (or extension route) panics.
const PANIC_ROOM: &str = "panic";
/// The message of every panic this file causes on purpose (kept out of the test output).
const DELIBERATE: &str = "deliberate panic in tests/compose.rs";
/// `CatchPanicLayer`'s answer to a panic (with status 500).
const CAUGHT: &str = "Service panicked";
const X_STACK: HeaderName = HeaderName::from_static("x-stack");
const ORIGIN: &str = "https://example.com";

// ---------------------------------------------------------------------------------------------------
// The matrix's dimensions.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tower {
    Trace,
    Compression,
    BodyLimit,
    Timeout,
    Cors,
    CatchPanic,
    SetHeader,
}

impl fmt::Display for Tower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tower::Trace => "TraceLayer",
            Tower::Compression => "CompressionLayer",
            Tower::BodyLimit => "RequestBodyLimitLayer",
            Tower::Timeout => "TimeoutLayer",
            Tower::Cors => "CorsLayer",
            Tower::CatchPanic => "CatchPanicLayer",
            Tower::SetHeader => "SetResponseHeaderLayer",
        })
    }
}

/// Where the callback layer sits relative to the tower-http layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    CallbackOutside,
    CallbackInside,
}

const POSITIONS: [Position; 2] = [Position::CallbackOutside, Position::CallbackInside];

/// How the two layers are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    RouterLayer,
    RouteLayer,
    ServiceBuilder,
}

const WAYS: [Way; 3] = [Way::RouterLayer, Way::RouteLayer, Way::ServiceBuilder];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Handler,
    Extensions,
}

const MODES: [Mode; 2] = [Mode::Handler, Mode::Extensions];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Http {
    H1,
    H2,
}

const HTTPS: [Http; 2] = [Http::H1, Http::H2];

impl Http {
    fn version(self) -> Version {
        match self {
            Http::H1 => Version::HTTP_11,
            Http::H2 => Version::HTTP_2,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Http::H1 => "h1",
            Http::H2 => "h2",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Combo {
    tower: Tower,
    position: Position,
    way: Way,
    mode: Mode,
}

/// Who made an answer: the callback layer itself, or the app behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Layer,
    App,
}

impl Combo {
    /// Whether the tower-http layer sees the request and acts on the answer: always when it is outside
    /// the callback layer; inside it, only for what the callback layer passes to the app.
    fn tower_sees(self, source: Source) -> bool {
        self.position == Position::CallbackInside || source == Source::App
    }

    /// Who answers a valid callback.
    fn ok_source(self) -> Source {
        match self.mode {
            Mode::Handler => Source::Layer,
            Mode::Extensions => Source::App,
        }
    }

    fn label(self, http: Http) -> String {
        let position = match self.position {
            Position::CallbackOutside => format!("callback layer outside {}", self.tower),
            Position::CallbackInside => format!("callback layer inside {}", self.tower),
        };
        let way = match self.way {
            Way::RouterLayer => "Router::layer",
            Way::RouteLayer => "Router::route_layer",
            Way::ServiceBuilder => "ServiceBuilder around the Router",
        };
        let mode = match self.mode {
            Mode::Handler => "handler mode",
            Mode::Extensions => "extensions mode",
        };
        let http = match http {
            Http::H1 => "HTTP/1.1",
            Http::H2 => "HTTP/2",
        };
        format!("[{} | {position} | {way} | {mode} | {http}]", self.tower)
    }
}

// ---------------------------------------------------------------------------------------------------
// What the handlers, routes and tower-http layers saw.

/// A log shared with a handler, a route or a layer; each check takes what was added since the last.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    fn assert_empty(&self, what: &str) {
        assert_eq!(
            self.take(),
            [] as [String; 0],
            "{what}: nothing may be delivered"
        );
    }
}

/// How a delivered event is logged: its room, the app and the client IP from its metadata.
fn seen(event: &MemberLeave, meta: &CallbackMeta) -> String {
    let ip = meta.client_ip.as_ref().and_then(|ip| ip.ip());
    format!("{} app={} ip={ip:?}", event.room_id, meta.sdk_app_id)
}

/// The log entry of a callback for `room` sent by [`callback`].
fn delivered(room: &str) -> String {
    format!("{room} app={APP} ip=Some(1.2.3.4)")
}

/// `TraceLayer`'s `on_request`, logging the method and path of every request the layer sees.
#[derive(Clone)]
struct TraceSeen(Log);

impl<B> OnRequest<B> for TraceSeen {
    fn on_request(&mut self, req: &Request<B>, _: &tracing::Span) {
        self.0
            .push(format!("{} {}", req.method(), req.uri().path()));
    }
}

/// Keeps the panics this file causes on purpose out of the output; every other panic (a failed
/// assertion) is reported by the default hook, as usual.
fn quiet_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if !message.is_some_and(|m| m.contains(DELIBERATE)) {
                default(info);
            }
        }));
    });
}

// ---------------------------------------------------------------------------------------------------
// The app, the callback layers, and the stacks.

/// The handler of handler mode: logs the event; panics in room [`PANIC_ROOM`].
fn handler(log: &Log) -> impl Handler<MemberLeave> {
    let log = log.clone();
    move |event: MemberLeave, meta: CallbackMeta| {
        log.push(seen(&event, &meta));
        async move {
            if event.room_id == PANIC_ROOM {
                panic!("{DELIBERATE}");
            }
            Ok::<(), HandlerError>(())
        }
    }
}

/// The `/callback` route of extensions mode: an axum handler reading the event and its metadata from
/// the extensions, answering the OK acknowledgment; panics in room [`PANIC_ROOM`].
fn extension_route(log: &Log) -> MethodRouter {
    let log = log.clone();
    post(
        move |Extension(event): Extension<MemberLeave>,
              Extension(meta): Extension<CallbackMeta>| {
            let log = log.clone();
            async move {
                log.push(seen(&event, &meta));
                if event.room_id == PANIC_ROOM {
                    panic!("{DELIBERATE}");
                }
                Ack::ok()
            }
        },
    )
}

async fn panics() -> &'static str {
    panic!("{DELIBERATE}")
}

/// The app: `/callback` (a route no callback may reach in handler mode, the extension route in
/// extensions mode), `/healthz`, `/other` and `/panic`.
fn app(mode: Mode, log: &Log) -> Router {
    let callback = match mode {
        Mode::Handler => {
            let log = log.clone();
            post(move || {
                log.push("the app's /callback route".to_owned());
                async { APP_CALLBACK }
            })
        }
        Mode::Extensions => extension_route(log),
    };
    Router::new()
        .route("/callback", callback)
        .route("/healthz", get(|| async { HEALTHZ }))
        .route("/other", post(|| async { OTHER }))
        .route("/panic", get(panics))
}

fn config() -> Config {
    Config::new(APP).body_limit(CALLBACK_LIMIT)
}

/// What every stack is served as: one type, so that the server is compiled once. (Its error is an
/// `io::Error` rather than a `BoxError`, which the spawned connection future cannot be proven `Send`
/// with: "implementation of `From` is not general enough".)
type Svc = BoxCloneService<Request<Incoming>, Response<Body>, std::io::Error>;

fn boxed<S, B>(svc: S) -> Svc
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    BoxCloneService::new(
        svc.map_response(|res: Response<B>| res.map(Body::new))
            .map_err(std::io::Error::other),
    )
}

/// One stack: `$app` with the callback layer and the tower-http layer applied `$way`, in `$position`.
/// (`TimeoutLayer` and `CorsLayer` need their inner response body to be `Default`: `ResponseBody` is,
/// whatever the inner body.)
macro_rules! compose {
    ($way:expr, $position:expr, $app:expr, $callback:expr, $tower:expr) => {{
        let (app, callback, tower) = ($app, $callback, $tower);
        match ($way, $position) {
            (Way::RouterLayer, Position::CallbackOutside) => {
                boxed(app.layer(tower).layer(callback))
            }
            (Way::RouterLayer, Position::CallbackInside) => boxed(app.layer(callback).layer(tower)),
            (Way::RouteLayer, Position::CallbackOutside) => {
                boxed(app.route_layer(tower).route_layer(callback))
            }
            (Way::RouteLayer, Position::CallbackInside) => {
                boxed(app.route_layer(callback).route_layer(tower))
            }
            (Way::ServiceBuilder, Position::CallbackOutside) => boxed(
                ServiceBuilder::new()
                    .layer(callback)
                    .layer(tower)
                    .service(app),
            ),
            (Way::ServiceBuilder, Position::CallbackInside) => boxed(
                ServiceBuilder::new()
                    .layer(tower)
                    .layer(callback)
                    .service(app),
            ),
        }
    }};
}

/// A test running the 12 stacks of one tower-http layer (3 ways × 2 positions × 2 modes), each
/// checked with both HTTP versions. `|$trace| $make` makes the tower-http layer; `$trace` is the log
/// `TraceLayer` writes to.
macro_rules! matrix {
    ($test:ident, $tower:expr, |$trace:ident| $make:expr) => {
        #[tokio::test]
        async fn $test() {
            let mut stacks = 0;
            for way in WAYS {
                for position in POSITIONS {
                    for mode in MODES {
                        let combo = Combo {
                            tower: $tower,
                            position,
                            way,
                            mode,
                        };
                        let (log, trace_log) = (Log::default(), Log::default());
                        let $trace = &trace_log;
                        let svc = match mode {
                            Mode::Handler => {
                                let callback = CallbackLayer::new(config())
                                    .path("/callback")
                                    .on(handler(&log));
                                compose!(way, position, app(mode, &log), callback, $make)
                            }
                            Mode::Extensions => {
                                let callback = CallbackLayer::new(config())
                                    .path("/callback")
                                    .extension::<MemberLeave>();
                                compose!(way, position, app(mode, &log), callback, $make)
                            }
                        };
                        check_stack(combo, svc, &log, &trace_log).await;
                        stacks += 1;
                    }
                }
            }
            assert_eq!(stacks, 12);
        }
    };
}

matrix!(trace_layer, Tower::Trace, |trace| {
    TraceLayer::new_for_http().on_request(TraceSeen(trace.clone()))
});
matrix!(compression_layer, Tower::Compression, |_trace| {
    CompressionLayer::new()
});
matrix!(request_body_limit_layer, Tower::BodyLimit, |_trace| {
    RequestBodyLimitLayer::new(TOWER_LIMIT)
});
matrix!(timeout_layer, Tower::Timeout, |_trace| {
    // Longer than every bound here: it never fires, it only has to compose.
    TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60))
});
matrix!(cors_layer, Tower::Cors, |_trace| CorsLayer::new()
    .allow_origin(Any));
matrix!(catch_panic_layer, Tower::CatchPanic, |_trace| {
    CatchPanicLayer::new()
});
matrix!(set_response_header_layer, Tower::SetHeader, |_trace| {
    SetResponseHeaderLayer::overriding(X_STACK, HeaderValue::from_static("composed"))
});

// ---------------------------------------------------------------------------------------------------
// Serving and sending.

/// A hyper-util `auto` server (HTTP/1 and HTTP/2) on 127.0.0.1; stopped, connections and all, when
/// dropped.
struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(svc: Svc) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        // Dropped with this task: the connections end with the server.
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            let svc = TowerToHyperService::new(svc.clone());
            connections.spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Server { addr, task }
}

type ClientBody = BoxBody<Bytes, BoxError>;
/// A hyper-util client speaking one HTTP version: HTTP/1.1, or HTTP/2 with prior knowledge.
struct HttpClient {
    http: Http,
    client: Client<HttpConnector, ClientBody>,
}

fn client(http: Http) -> HttpClient {
    let mut builder = Client::builder(TokioExecutor::new());
    if http == Http::H2 {
        builder.http2_only(true);
    }
    // Without it, a small request's last write waits for a delayed ACK (40 ms a request).
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    HttpClient {
        http,
        client: builder.build(connector),
    }
}

fn empty() -> ClientBody {
    Empty::new().map_err(|e| match e {}).boxed()
}

/// A body sent in chunks, of no declared size: chunked with HTTP/1.1, no `content-length` with HTTP/2.
struct Chunks(VecDeque<Bytes>);

impl HttpBody for Chunks {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(self.get_mut().0.pop_front().map(|c| Ok(Frame::data(c))))
    }
}

fn streamed(bytes: &Bytes) -> ClientBody {
    Chunks(bytes.chunks(1000).map(Bytes::copy_from_slice).collect()).boxed()
}

/// A callback as Tencent sends it (`ClientIP=1.2.3.4&OptPlatform=Web`) for a leave in `room`.
fn callback(room: &str, app: u64) -> CallbackRequest {
    let mut event = fixtures::member_leave();
    event.room_id = room.to_owned();
    CallbackRequest::new(event)
        .sdk_app_id(app)
        .client_ip("1.2.3.4")
        .platform("Web")
}

/// A callback for `room` whose body is over [`BIG`] bytes.
fn big_callback(room: &str) -> CallbackRequest {
    let mut event = fixtures::member_leave();
    event.room_id = room.to_owned();
    event.reason = Some("x".repeat(BIG));
    CallbackRequest::new(event)
        .client_ip("1.2.3.4")
        .platform("Web")
}

fn build(req: &CallbackRequest) -> Request<ClientBody> {
    req.build::<Full<Bytes>>()
        .map(|b| b.map_err(|e| match e {}).boxed())
}

/// An answer, its body collected (and decompressed when it came gzip-encoded).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The FAIL acknowledgment this answer carries.
    fn fail(&self, ctx: &str) -> Ack {
        assert_eq!(
            self.header(header::CONTENT_TYPE),
            Some("application/json"),
            "{ctx}: a FAIL ack's content type"
        );
        let ack: Ack = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{ctx}: not an ack ({e}): {:?}", self.text()));
        assert!(!ack.is_ok(), "{ctx}: {ack:?}");
        ack
    }

    fn assert_ok_ack(&self, ctx: &str) {
        assert_eq!(self.status, StatusCode::OK, "{ctx}: {:?}", self.text());
        assert_eq!(&self.body[..], Ack::OK_BODY, "{ctx}: {:?}", self.text());
        assert_eq!(
            self.header(header::CONTENT_TYPE),
            Some("application/json"),
            "{ctx}: the OK ack's content type"
        );
    }

    fn assert_app(&self, ctx: &str, body: &str) {
        assert_eq!(self.status, StatusCode::OK, "{ctx}: {:?}", self.text());
        assert_eq!(self.text(), body, "{ctx}: the app's own answer");
        assert_eq!(
            self.header(header::CONTENT_TYPE),
            Some("text/plain; charset=utf-8"),
            "{ctx}: the app's own content type"
        );
    }
}

/// Sends `req` (within [`WITHIN`]) and collects the answer, gunzipped when it is gzip-encoded.
async fn send(ctx: &str, client: &HttpClient, req: Request<ClientBody>) -> Answer {
    let res = tokio::time::timeout(WITHIN, client.client.request(req))
        .await
        .unwrap_or_else(|_| panic!("{ctx}: no answer within {WITHIN:?}"))
        .unwrap_or_else(|e| panic!("{ctx}: the request failed: {e:?}"));
    let (parts, body) = res.into_parts();
    let body = tokio::time::timeout(WITHIN, body.collect())
        .await
        .unwrap_or_else(|_| panic!("{ctx}: the answer's body did not end within {WITHIN:?}"))
        .unwrap_or_else(|e| panic!("{ctx}: the answer's body failed: {e:?}"))
        .to_bytes();
    let body = match parts.headers.get(header::CONTENT_ENCODING) {
        Some(v) if v == "gzip" => gunzip(ctx, body).await,
        Some(v) => panic!("{ctx}: unexpected content-encoding {v:?}"),
        None => body,
    };
    assert_eq!(parts.version, client.http.version(), "{ctx}: the version");
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// Decodes a gzip body with tower-http's own decompression, on a response that carries it.
async fn gunzip(ctx: &str, body: Bytes) -> Bytes {
    let mut res = Response::new(Full::new(body));
    res.headers_mut()
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    let mut res = Some(res);
    let decompress = Decompression::new(service_fn(move |_: Request<()>| {
        std::future::ready(Ok::<_, Infallible>(res.take().expect("called once")))
    }));
    let res = decompress.oneshot(Request::new(())).await.unwrap();
    assert!(
        res.headers().get(header::CONTENT_ENCODING).is_none(),
        "{ctx}: not decoded"
    );
    tokio::time::timeout(WITHIN, res.into_body().collect())
        .await
        .unwrap_or_else(|_| panic!("{ctx}: gunzip did not end"))
        .unwrap_or_else(|e| panic!("{ctx}: not gzip: {e:?}"))
        .to_bytes()
}

// ---------------------------------------------------------------------------------------------------
// One stack's checks.

/// A client of one stack with one HTTP version; every request carries `Origin` and
/// `Accept-Encoding: gzip`, for `CorsLayer` and `CompressionLayer` to act on.
struct Peer<'a> {
    combo: Combo,
    http: Http,
    addr: SocketAddr,
    client: HttpClient,
    log: &'a Log,
    trace: &'a Log,
}

impl Peer<'_> {
    fn ctx(&self, what: &str) -> String {
        format!("{} {what}", self.combo.label(self.http))
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends `req` on the shared connection, or on one of its own (for a request whose body the server
    /// may leave unread, after which an HTTP/1.1 connection closes).
    async fn send(&self, what: &str, mut req: Request<ClientBody>, fresh: bool) -> Answer {
        let ctx = self.ctx(what);
        req.headers_mut()
            .insert(header::ORIGIN, HeaderValue::from_static(ORIGIN));
        req.headers_mut()
            .insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        if fresh {
            send(&ctx, &client(self.http), req).await
        } else {
            send(&ctx, &self.client, req).await
        }
    }

    /// Checks what the tower-http layer did to an answer made by `source` to `method path`, and what
    /// the handler or route saw (`delivered`).
    fn check(
        &self,
        what: &str,
        answer: &Answer,
        source: Source,
        request: &str,
        delivered: &[String],
    ) {
        let ctx = self.ctx(what);
        let tower = self.combo.tower;
        let sees = self.combo.tower_sees(source);
        assert_eq!(
            self.log.take(),
            delivered,
            "{ctx}: what the handler or the app's /callback route saw"
        );
        // Compressed when the compression layer saw the answer (every answer here is over 32 bytes).
        let gzip = answer.header(header::CONTENT_ENCODING).is_some();
        assert_eq!(
            gzip,
            tower == Tower::Compression && sees,
            "{ctx}: gzip-encoded?"
        );
        assert_eq!(
            answer.header(&X_STACK),
            (tower == Tower::SetHeader && sees).then_some("composed"),
            "{ctx}: x-stack"
        );
        assert_eq!(
            answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            (tower == Tower::Cors && sees).then_some("*"),
            "{ctx}: access-control-allow-origin"
        );
        let traced: &[_] = if tower == Tower::Trace && sees {
            &[request.to_owned()]
        } else {
            &[]
        };
        assert_eq!(self.trace.take(), traced, "{ctx}: what TraceLayer saw");
    }

    async fn valid_callback(&self, room: &str) {
        let what = "a valid callback";
        let req = build(&callback(room, APP).url(self.url("/callback")));
        let answer = self.send(what, req, false).await;
        answer.assert_ok_ack(&self.ctx(what));
        let source = self.combo.ok_source();
        self.check(what, &answer, source, "POST /callback", &[delivered(room)]);
    }

    async fn another_apps_callback(&self) {
        let what = "another app's callback";
        let req = build(&callback("rid-other-app", OTHER_APP).url(self.url("/callback")));
        let answer = self.send(what, req, false).await;
        let ctx = self.ctx(what);
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{ctx}: {:?}",
            answer.text()
        );
        assert_eq!(answer.fail(&ctx).error_code(), 40301, "{ctx}");
        self.check(what, &answer, Source::Layer, "POST /callback", &[]);
    }

    async fn not_callbacks(&self) {
        let what = "GET /healthz with a callback query";
        let query = callback("rid-healthz", APP).query();
        let req = Request::get(self.url(&format!("/healthz?{query}")))
            .body(empty())
            .unwrap();
        let answer = self.send(what, req, false).await;
        answer.assert_app(&self.ctx(what), HEALTHZ);
        self.check(what, &answer, Source::App, "GET /healthz", &[]);

        let what = "a valid callback POSTed to /other";
        let req = build(&callback("rid-other-path", APP).url(self.url("/other")));
        let answer = self.send(what, req, false).await;
        answer.assert_app(&self.ctx(what), OTHER);
        self.check(what, &answer, Source::App, "POST /other", &[]);
    }

    /// `RequestBodyLimitLayer`: a callback over both limits is 413 with ErrorCode 41301, from the
    /// callback layer's own limit behind the tower-http one, from the tower-http limit's body error in
    /// front of it.
    async fn too_large(&self) {
        let big = big_callback("rid-big").url(self.url("/callback"));
        let what = "a streamed callback body over both limits";
        let mut req = build(&big);
        req.headers_mut().remove(header::CONTENT_LENGTH);
        *req.body_mut() = streamed(big.body());
        let answer = self.send(what, req, true).await;
        let ctx = self.ctx(what);
        assert_eq!(
            answer.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{ctx}: {:?}",
            answer.text()
        );
        let ack = answer.fail(&ctx);
        assert_eq!(ack.error_code(), 41301, "{ctx}: {ack:?}");
        let why = match self.combo.position {
            Position::CallbackInside => "a body limit in front of this layer was exceeded",
            Position::CallbackOutside => "more than 4096 bytes",
        };
        assert!(ack.error_info().contains(why), "{ctx}: {ack:?}");
        self.check(what, &answer, Source::Layer, "POST /callback", &[]);

        // With its length declared, the outer layer refuses it from the head: the callback layer with
        // a FAIL ack, tower-http's limit with its own text.
        let what = "a declared callback body over both limits";
        let answer = self.send(what, build(&big), true).await;
        let ctx = self.ctx(what);
        assert_eq!(
            answer.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{ctx}: {:?}",
            answer.text()
        );
        match self.combo.position {
            Position::CallbackOutside => assert_eq!(answer.fail(&ctx).error_code(), 41301),
            Position::CallbackInside => assert_eq!(answer.text(), "length limit exceeded", "{ctx}"),
        }
        self.check(what, &answer, Source::Layer, "POST /callback", &[]);
    }

    /// `CatchPanicLayer`: a panicking handler is caught by the callback layer (500, 50002), a panicking
    /// route by `CatchPanicLayer` (500); the server keeps serving.
    async fn panics(&self, room_after: &str) {
        let what = "a callback whose handler or route panics";
        let req = build(&callback(PANIC_ROOM, APP).url(self.url("/callback")));
        let answer = self.send(what, req, false).await;
        let ctx = self.ctx(what);
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{ctx}: {:?}",
            answer.text()
        );
        match self.combo.mode {
            // Caught by the callback layer, wherever `CatchPanicLayer` is.
            Mode::Handler => assert_eq!(answer.fail(&ctx).error_code(), 50002, "{ctx}"),
            // The app's route: caught by `CatchPanicLayer`, wherever the callback layer is.
            Mode::Extensions => assert_eq!(answer.text(), CAUGHT, "{ctx}"),
        }
        let source = self.combo.ok_source();
        self.check(
            what,
            &answer,
            source,
            "POST /callback",
            &[delivered(PANIC_ROOM)],
        );

        let what = "GET /panic";
        let req = Request::get(self.url("/panic")).body(empty()).unwrap();
        let answer = self.send(what, req, false).await;
        let ctx = self.ctx(what);
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{ctx}: {:?}",
            answer.text()
        );
        assert_eq!(answer.text(), CAUGHT, "{ctx}");
        self.check(what, &answer, Source::App, "GET /panic", &[]);

        self.valid_callback(room_after).await;
    }
}

async fn check_stack(combo: Combo, svc: Svc, log: &Log, trace: &Log) {
    quiet_deliberate_panics();
    let server = serve(svc).await;
    for http in HTTPS {
        let peer = Peer {
            combo,
            http,
            addr: server.addr,
            client: client(http),
            log,
            trace,
        };
        let tag = http.tag();
        peer.valid_callback(&format!("rid-{tag}")).await;
        peer.another_apps_callback().await;
        peer.not_callbacks().await;
        match combo.tower {
            Tower::BodyLimit => peer.too_large().await,
            Tower::CatchPanic => peer.panics(&format!("rid-{tag}-after-panic")).await,
            _ => {}
        }
        // Still serving.
        peer.valid_callback(&format!("rid-{tag}-again")).await;
    }
}

// ---------------------------------------------------------------------------------------------------
// Targeted tests of the 0.2 composition features.

const TOKEN: &str = "my-callback-token";

/// A handler logging the events it gets.
fn logging(log: &Log) -> impl Handler<MemberLeave> {
    let log = log.clone();
    move |event: MemberLeave, meta: CallbackMeta| {
        log.push(seen(&event, &meta));
        std::future::ready(Ok::<(), HandlerError>(()))
    }
}

/// The README's app: the layer serves `/callback` only; every other path, whatever its query, is the
/// app's.
#[tokio::test]
async fn readme_app_serves_callbacks_at_its_path_only() {
    let log = Log::default();
    let config = Config::new(APP).token(TOKEN).unwrap();
    let app = Router::new()
        .route(
            "/callback",
            post(|| async { "not a callback this app handles" }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .layer(
            CallbackLayer::new(config)
                .path("/callback")
                .on(logging(&log)),
        );
    let server = serve(boxed(app)).await;
    for http in HTTPS {
        let client = client(http);
        let ctx = |what: &str| format!("[README app | {}] {what}", http.tag());
        let url = |path: &str| format!("http://{}{path}", server.addr);

        for query in [
            "CallbackCommand=Room.CallbackAfterMemberLeave".to_owned(),
            callback("rid-healthz", APP).token(TOKEN).query(),
        ] {
            let what = ctx(&format!("GET /healthz?{query}"));
            let req = Request::get(url(&format!("/healthz?{query}")))
                .body(empty())
                .unwrap();
            let answer = send(&what, &client, req).await;
            assert_eq!(answer.status, StatusCode::OK, "{what}");
            assert_eq!(answer.text(), "ok", "{what}");
        }

        for path in ["/", "/other", "//callback", "/callback/extra", "/callback/"] {
            let what = ctx(&format!("a signed callback POSTed to {path:?}"));
            let req = build(&callback("rid-elsewhere", APP).token(TOKEN).url(url(path)));
            let answer = send(&what, &client, req).await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{what}: {:?}",
                answer.text()
            );
            assert_ne!(&answer.body[..], Ack::OK_BODY, "{what}");
            log.assert_empty(&what);
        }

        // The control: at /callback, signed, it is processed; unsigned, refused.
        let what = ctx("a signed callback POSTed to /callback");
        let room = format!("rid-{}", http.tag());
        let req = build(&callback(&room, APP).token(TOKEN).url(url("/callback")));
        send(&what, &client, req).await.assert_ok_ack(&what);
        assert_eq!(log.take(), [delivered(&room)], "{what}");
        let what = ctx("an unsigned callback POSTed to /callback");
        let req = build(&callback(&room, APP).url(url("/callback")));
        let answer = send(&what, &client, req).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(answer.fail(&what).error_code(), 40101, "{what}");
        log.assert_empty(&what);
    }
}

/// Extensions mode straight on hyper's `Incoming`: the inner service is a `tower::service_fn` taking
/// `Request<RequestBody<Incoming>>`, served by hyper-util.
#[tokio::test]
async fn extensions_mode_on_hyper_incoming() {
    let log = Log::default();
    let inner_log = log.clone();
    let inner = service_fn(move |req: Request<RequestBody<Incoming>>| {
        let log = inner_log.clone();
        async move {
            let (parts, body) = req.into_parts();
            let buffered = body.is_buffered();
            let bytes = body.collect().await?.to_bytes();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            match (
                parts.extensions.get::<MemberLeave>(),
                parts.extensions.get::<CallbackMeta>(),
            ) {
                (Some(event), Some(meta)) => {
                    log.push(format!("{} buffered={buffered} {text}", seen(event, meta)));
                    Ok::<_, hyper::Error>(Ack::ok().http_response::<Full<Bytes>>(StatusCode::OK))
                }
                _ => {
                    let echo = format!(
                        "{} {} buffered={buffered} {text}",
                        parts.method,
                        parts.uri.path()
                    );
                    Ok(Response::builder()
                        .status(299)
                        .body(Full::new(Bytes::from(echo)))
                        .unwrap())
                }
            }
        }
    });
    let svc = ServiceBuilder::new()
        .layer(CallbackLayer::new(Config::new(APP)).extension::<MemberLeave>())
        .service(inner);
    let server = serve(boxed(svc)).await;
    for http in HTTPS {
        let client = client(http);
        let ctx = |what: &str| format!("[extensions on Incoming | {}] {what}", http.tag());
        let url = |path: &str| format!("http://{}{path}", server.addr);

        let what = ctx("a valid callback");
        let room = format!("rid-{}", http.tag());
        let request = callback(&room, APP).url(url("/callback"));
        send(&what, &client, build(&request))
            .await
            .assert_ok_ack(&what);
        let body = String::from_utf8_lossy(request.body()).into_owned();
        assert_eq!(
            log.take(),
            [format!("{} buffered=true {body}", delivered(&room))],
            "{what}: the inner service gets the event, its metadata and the body as read"
        );

        let what = ctx("a valid callback, its body streamed");
        let mut req = build(&request);
        req.headers_mut().remove(header::CONTENT_LENGTH);
        *req.body_mut() = streamed(request.body());
        send(&what, &client, req).await.assert_ok_ack(&what);
        assert_eq!(
            log.take(),
            [format!("{} buffered=true {body}", delivered(&room))],
            "{what}"
        );

        let what = ctx("another app's callback");
        let req = build(&callback(&room, OTHER_APP).url(url("/callback")));
        let answer = send(&what, &client, req).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{what}");
        assert_eq!(answer.fail(&what).error_code(), 40301, "{what}");
        log.assert_empty(&what);

        let what = ctx("a POST that is not a callback");
        let req = Request::post(url("/other?x=1"))
            .body(streamed(&Bytes::from_static(b"hello, untouched")))
            .unwrap();
        let answer = send(&what, &client, req).await;
        assert_eq!(answer.status, 299, "{what}");
        assert_eq!(
            answer.text(),
            "POST /other buffered=false hello, untouched",
            "{what}: the original body, unread by the layer"
        );
    }
}

/// A handler that is a closure owning a `std::sync::Mutex` (so not `Clone`) goes through
/// `Router::layer` and keeps its state across callbacks.
#[tokio::test]
async fn a_handler_that_is_not_clone_works_through_router_layer() {
    let log = Log::default();
    // Owned by the closure, which is therefore not `Clone` (`Mutex` is not).
    let count = Mutex::new(0_u32);
    let handler = {
        let log = log.clone();
        move |event: MemberLeave, _: CallbackMeta| {
            let mut count = count.lock().unwrap();
            *count += 1;
            log.push(format!("{} #{count}", event.room_id));
            std::future::ready(Ok::<(), HandlerError>(()))
        }
    };

    let app = Router::new()
        .route("/healthz", get(|| async { HEALTHZ }))
        .layer(
            CallbackLayer::new(Config::new(APP))
                .path("/callback")
                .on(handler),
        );
    let server = serve(boxed(app)).await;
    let mut n = 0;
    for http in HTTPS {
        let client = client(http);
        for room in ["rid-a", "rid-b"] {
            n += 1;
            let what = format!("[non-Clone handler | {}] callback {room}", http.tag());
            let url = format!("http://{}/callback", server.addr);
            let req = build(&callback(room, APP).url(url));
            send(&what, &client, req).await.assert_ok_ack(&what);
            assert_eq!(log.take(), [format!("{room} #{n}")], "{what}");
        }
    }
}

/// A `ServiceHandler` behind the tower stack its docs suggest (503 for what is shed or late), with
/// one slot; events for rooms named `slow*` signal `started`, then wait for a permit of `gate`.
fn guarded(
    timeout: Duration,
    log: &Log,
    started: &Arc<tokio::sync::Notify>,
    gate: &Arc<tokio::sync::Semaphore>,
) -> impl Handler<MemberLeave> {
    let (log, started, gate) = (log.clone(), started.clone(), gate.clone());
    let svc = ServiceBuilder::new()
        .map_err(HandlerError::unavailable)
        .load_shed()
        .concurrency_limit(1)
        .timeout(timeout)
        .service_fn(move |(event, meta): (MemberLeave, CallbackMeta)| {
            let (log, started, gate) = (log.clone(), started.clone(), gate.clone());
            async move {
                if event.room_id.starts_with("slow") {
                    started.notify_one();
                    gate.acquire().await.unwrap().forget();
                }
                log.push(seen(&event, &meta));
                Ok::<(), HandlerError>(())
            }
        });
    ServiceHandler::new(svc)
}

fn guarded_app(handler: impl Handler<MemberLeave>) -> Svc {
    let app = Router::new()
        .route("/healthz", get(|| async { HEALTHZ }))
        .layer(
            CallbackLayer::new(Config::new(APP))
                .path("/callback")
                .on(handler),
        );
    boxed(app)
}

/// With its one slot held by a slow event, the load-shedding `ServiceHandler` refuses a second one at
/// once with 503 (50301); the first answers 200 when it is let go, and the slot is free again.
#[tokio::test]
async fn service_handler_sheds_load_with_503() {
    let log = Log::default();
    let started = Arc::new(tokio::sync::Notify::new());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let server = serve(guarded_app(guarded(WITHIN * 3, &log, &started, &gate))).await;
    for http in HTTPS {
        let ctx = |what: &str| format!("[ServiceHandler, load shed | {}] {what}", http.tag());
        let url = format!("http://{}/callback", server.addr);
        let slow_room = format!("slow-{}", http.tag());
        let slow = tokio::spawn({
            let (req, what) = (
                build(&callback(&slow_room, APP).url(&url)),
                ctx("the slow callback"),
            );
            let client = client(http);
            async move { send(&what, &client, req).await }
        });
        tokio::time::timeout(WITHIN, started.notified())
            .await
            .unwrap_or_else(|_| panic!("{}", ctx("the slow handler did not start")));

        let what = ctx("a second callback while the slot is held");
        let client = client(http);
        let req = build(&callback("rid-shed", APP).url(&url));
        let answer = send(&what, &client, req).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {:?}",
            answer.text()
        );
        assert_eq!(answer.fail(&what).error_code(), 50301, "{what}");
        log.assert_empty(&what);

        gate.add_permits(1);
        let what = ctx("the slow callback, let go");
        let answer = tokio::time::timeout(WITHIN, slow).await.unwrap().unwrap();
        answer.assert_ok_ack(&what);
        assert_eq!(log.take(), [delivered(&slow_room)], "{what}");

        let what = ctx("a callback once the slot is free");
        let room = format!("rid-{}", http.tag());
        let req = build(&callback(&room, APP).url(&url));
        send(&what, &client, req).await.assert_ok_ack(&what);
        assert_eq!(log.take(), [delivered(&room)], "{what}");
    }
}

/// A handler slower than the tower timeout around the `ServiceHandler` answers 503 (50301) when the
/// timeout fires (real time: a short timeout, a handler that waits for ever).
#[tokio::test]
async fn service_handler_slower_than_its_timeout_answers_503() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let log = Log::default();
    let started = Arc::new(tokio::sync::Notify::new());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let server = serve(guarded_app(guarded(TIMEOUT, &log, &started, &gate))).await;
    for http in HTTPS {
        let ctx = |what: &str| format!("[ServiceHandler, timeout | {}] {what}", http.tag());
        let url = format!("http://{}/callback", server.addr);
        let client = client(http);

        let what = ctx("a callback whose handler never finishes");
        let req = build(&callback(&format!("slow-{}", http.tag()), APP).url(&url));
        let t0 = Instant::now();
        let answer = send(&what, &client, req).await;
        let took = t0.elapsed();
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {:?}",
            answer.text()
        );
        assert_eq!(answer.fail(&what).error_code(), 50301, "{what}");
        assert!(
            took >= TIMEOUT,
            "{what}: answered after {took:?}, before the timeout"
        );
        log.assert_empty(&what);

        // The timed-out event's slot is free again.
        let what = ctx("a callback after the timeout");
        let room = format!("rid-{}", http.tag());
        let req = build(&callback(&room, APP).url(&url));
        send(&what, &client, req).await.assert_ok_ack(&what);
        assert_eq!(log.take(), [delivered(&room)], "{what}");
    }
}
