//! In-process cost of one callback: the layer against what a user would write instead.
//!
//! ```text
//! cargo bench --bench intercept -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Contenders, all given the same request (method, URI, headers and body bytes, as a `Full<Bytes>`):
//!
//! - `layer`: [`CallbackLayer`] in handler mode around a `service_fn` (never reached), no token;
//!   `layer_signed` is the same with a token, so `Sign` and `RequestTime` are checked too;
//!   `layer_in_router` is the layer on an axum `Router` route, scoped to `/callback`, as in
//!   `examples/server.rs`; `trtc_signed` is the layer's TRTC path given an exit event (104) of the
//!   same size as the leave sample, pretty-printed as Tencent sends it and signed with a key (`Sign`
//!   over the body checked, the event decoded into a [`TrtcEvent`], answered `{"code":0}`): the issue's
//!   bound is `trtc_signed` within 1.3× `layer_signed`, here with the CPU's SHA instructions, which
//!   `scripts/instructions.sh` (valgrind) cannot use.
//! - `axum_handwritten`: an axum route with `Query<HashMap<String, String>>` and `Json<MemberLeave>`
//!   extractors, the same SDKAppID check, answering the same JSON from a serde struct.
//! - `floor`: a `service_fn` that collects the body, runs `serde_json::from_slice` into the same struct
//!   and returns the static acknowledgment. No check at all: the least any receiver can do.
//!
//! Every contender decodes into [`MemberLeave`], hands it to `black_box`, answers 200 with
//! `Content-Type: application/json` and the OK acknowledgment (checked once before measuring), and is
//! called with `ready().call()` on one service kept across iterations, on a current-thread runtime. The
//! response body is drained. Building the request is not measured (`iter_batched`).
//!
//! Groups: `leave_sample` (the documented leave sample), `passthrough` (a request the layer does not
//! intercept, with and without the layer, in front of a bare function and of an axum app) and
//! `body_size` (leave events of 1 to 5,000 members).
//!
//! In `passthrough`, besides `layer` (every path served, the query looked at), `layer_path` is the
//! layer scoped to `/callback` (the request's path is compared, its query not looked at), and
//! `layer_16k_handler` the `layer` contender with a handler whose future holds 16 KiB: the handler's
//! future lives in the allocation made for an intercepted callback only, so a passed-through request
//! costs the same whatever the handlers (the two response futures are checked to be the same size).

use std::collections::HashMap;
use std::convert::Infallible;
use std::hint::black_box;
use std::pin::pin;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Json, Query};
use axum::http::StatusCode;
use axum::routing::{any, post};
use axum::Router;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use http::{Method, Request, Response, Uri};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use serde::Serialize;
use tencent_room_callback::service::ResponseBody;
use tencent_room_callback::testing::signature;
use tencent_room_callback::trtc::{self, TrtcEvent};
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, Config, Handler, HandlerError, MemberLeave,
};
use tokio::runtime::Runtime;
use tower::{service_fn, Layer, Service, ServiceExt};

const APP: u64 = 1400000000;
const TOKEN: &str = "bench-callback-token";
const TRTC_KEY: &str = "benchTrtcKey123";
const PATH_AND_QUERY: &str = "/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS";
/// The documented `Room.CallbackAfterMemberLeave` sample (protocol.md §3.1).
const SAMPLE: &str = r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}"#;

type Req = Request<Full<Bytes>>;

/// A leave event like the sample, with `members` members.
fn leave_body(members: usize) -> Bytes {
    if members == 1 {
        return Bytes::from_static(SAMPLE.as_bytes());
    }
    let list: Vec<String> = (0..members).map(|i| format!("\"user{i:06}\"")).collect();
    Bytes::from(format!(
        r#"{{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":[{}],"Reason":"xxxx","EventTime":1670574414123}}"#,
        list.join(",")
    ))
}

/// A request as hyper would hand it over: the head Tencent sends and the body in one chunk.
fn request(method: Method, uri: &Uri, body: &Bytes) -> Req {
    Request::builder()
        .method(method)
        .uri(uri.clone())
        .header(HOST, "127.0.0.1:3000")
        .header(USER_AGENT, "Tencent-Callback")
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_LENGTH, body.len())
        .body(Full::new(body.clone()))
        .expect("a valid request")
}

/// The signed variant of the callback URI, for a token-checking layer: signed now, so the window holds.
fn signed_uri() -> Uri {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
        .to_string();
    let sign = signature(TOKEN, &now);
    format!("{PATH_AND_QUERY}&RequestTime={now}&Sign={sign}")
        .parse()
        .expect("a valid URI")
}

/// A TRTC exit (104) sent now, pretty-printed with tabs as Tencent sends it, as `SdkAppId` and `Sign`
/// headers on a POST to `/trtc`: the leave sample's size (checked in `leave_sample`).
fn trtc_request() -> Req {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis();
    let body = Bytes::from(format!(
        "{{\n\t\"EventGroupId\":\t1,\n\t\"EventType\":\t104,\n\t\"CallbackTs\":\t{ms},\n\t\"EventInfo\":\t{{\n\t\t\"RoomId\":\t\"rid-123\",\n\t\t\"EventTs\":\t{},\n\t\t\"EventMsTs\":\t{ms},\n\t\t\"UserId\":\t\"user1\",\n\t\t\"Role\":\t20,\n\t\t\"Reason\":\t1\n\t}}\n}}",
        ms / 1000
    ));
    Request::post("/trtc")
        .header(HOST, "127.0.0.1:3000")
        .header(USER_AGENT, "Tencent-Callback")
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_LENGTH, body.len())
        .header("SdkAppId", APP.to_string())
        .header("Sign", trtc::sign(TRTC_KEY, &body))
        .body(Full::new(body))
        .expect("a valid request")
}

async fn on_trtc(event: TrtcEvent, _meta: CallbackMeta) -> Result<(), HandlerError> {
    black_box(event);
    Ok(())
}

/// Reads the whole response body, as the server writing it out would.
async fn drain<B: Body>(body: B) {
    let mut body = pin!(body);
    while let Some(frame) = body.frame().await {
        black_box(frame.ok());
    }
}

/// One request through `svc`, its answer drained.
async fn call<S, B>(svc: &mut S, req: Req)
where
    S: Service<Req, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body,
{
    let res = svc.ready().await.unwrap().call(req).await.unwrap();
    drain(res.into_body()).await;
}

/// Checks once, before measuring, that `svc` answers `status` with `body` (when given).
fn check<S, B>(rt: &Runtime, svc: &mut S, req: Req, status: u16, body: Option<&[u8]>)
where
    S: Service<Req, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body,
    B::Error: std::fmt::Debug,
{
    rt.block_on(async {
        let res = svc.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(res.status(), status);
        let got = res.into_body().collect().await.unwrap().to_bytes();
        if let Some(body) = body {
            assert_eq!(&got[..], body);
        }
    });
}

// ---- the contenders -------------------------------------------------------------------------------

/// The handler given to the layer: the same minimal work as the others.
async fn on_leave(event: MemberLeave, _meta: CallbackMeta) -> Result<(), HandlerError> {
    black_box(&event);
    Ok(())
}

/// A handler whose future holds 16 KiB: a buffer kept across an `.await`.
async fn on_leave_16k(event: MemberLeave, _meta: CallbackMeta) -> Result<(), HandlerError> {
    let scratch = [0u8; 16 * 1024];
    tokio::task::yield_now().await;
    black_box(&scratch);
    black_box(&event);
    Ok(())
}

/// The size of the futures a handler returns.
fn handler_future_size<E, F, Fut>(_: &F) -> usize
where
    F: Fn(E, CallbackMeta) -> Fut,
{
    std::mem::size_of::<Fut>()
}

/// The size of a service's response future.
fn response_future_size<S: Service<Req>>(_: &S) -> usize {
    std::mem::size_of::<S::Future>()
}

/// What the layer's inner service answers (it is reached only by pass-through requests).
async fn app_route(_req: Req) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"app"))))
}

/// The layer's answers: the inner service's body or the layer's own bytes.
type LayerResponse = Response<ResponseBody<Full<Bytes>>>;

fn layer(config: Config) -> impl Service<Req, Response = LayerResponse, Error = Infallible> {
    layer_with(CallbackLayer::new(config), on_leave)
}

fn layer_with(
    layer: CallbackLayer,
    handler: impl Handler<MemberLeave>,
) -> impl Service<Req, Response = LayerResponse, Error = Infallible> {
    layer.on(handler).layer(service_fn(app_route))
}

/// An app's own routes, for requests the layer passes through.
fn app_router() -> Router {
    Router::new()
        .route("/health", any(|| async { "app" }))
        .route("/items", any(|| async { "app" }))
}

fn layer_in_router() -> Router {
    Router::new()
        .route(
            "/callback",
            any(|| async { (StatusCode::NOT_FOUND, "app") }),
        )
        .layer(
            CallbackLayer::new(Config::new(APP))
                .path("/callback")
                .on(on_leave),
        )
}

/// The acknowledgment as a user would write it for the hand-written route.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct Answer {
    ActionStatus: &'static str,
    ErrorInfo: &'static str,
    ErrorCode: i64,
}

async fn handwritten(
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
    black_box(&event);
    Ok(Json(Answer {
        ActionStatus: "OK",
        ErrorInfo: "",
        ErrorCode: 0,
    }))
}

fn axum_handwritten() -> Router {
    Router::new().route("/callback", post(handwritten))
}

async fn floor_fn(req: Req) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req.into_body().collect().await?.to_bytes();
    let Ok(event) = serde_json::from_slice::<MemberLeave>(&body) else {
        let mut res = Response::new(Full::default());
        *res.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(res);
    };
    black_box(&event);
    let mut res = Response::new(Full::new(Bytes::from_static(Ack::OK_BODY)));
    res.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

// ---- the groups -----------------------------------------------------------------------------------

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Registers one contender: checked once, then measured on fresh requests from `make`.
macro_rules! contender {
    ($group:expr, $id:expr, $rt:expr, $svc:expr, $make:expr, $status:expr, $body:expr) => {{
        let rt = &$rt;
        let mut svc = $svc;
        let make = $make;
        check(rt, &mut svc, make(), $status, $body);
        $group.bench_function($id, |b| {
            b.iter_batched(
                &make,
                |req| rt.block_on(call(&mut svc, req)),
                BatchSize::SmallInput,
            )
        });
    }};
}

fn leave_sample(c: &mut Criterion) {
    let rt = runtime();
    let uri = Uri::from_static(PATH_AND_QUERY);
    let body = leave_body(1);
    let make = || request(Method::POST, &uri, &body);
    let ok = Some(Ack::OK_BODY);
    let mut g = c.benchmark_group("leave_sample");
    g.throughput(Throughput::Elements(1));
    contender!(g, "layer", rt, layer(Config::new(APP)), make, 200, ok);
    let signed = Config::new(APP).token(TOKEN).expect("a token");
    // Signed at each request's creation: the time window always holds, whatever the run's length.
    let make_signed = || request(Method::POST, &signed_uri(), &body);
    contender!(g, "layer_signed", rt, layer(signed), make_signed, 200, ok);
    let trtc_body = trtc_request().into_body();
    assert!(
        trtc_body
            .size_hint()
            .exact()
            .map(|n| n.abs_diff(body.len() as u64))
            <= Some(40),
        "the TRTC exit is about the leave sample's size"
    );
    let trtc_layer = CallbackLayer::new(Config::new(APP).trtc_key(TRTC_KEY).expect("a key"))
        .trtc_path("/trtc")
        .on(on_trtc)
        .layer(service_fn(app_route));
    contender!(
        g,
        "trtc_signed",
        rt,
        trtc_layer,
        trtc_request,
        200,
        Some(trtc::OK_BODY)
    );
    contender!(g, "layer_in_router", rt, layer_in_router(), make, 200, ok);
    contender!(g, "axum_handwritten", rt, axum_handwritten(), make, 200, ok);
    contender!(g, "floor", rt, service_fn(floor_fn), make, 200, ok);
    g.finish();
}

fn passthrough(c: &mut Criterion) {
    let rt = runtime();
    // The handler's future is not part of a passed-through request's.
    assert!(handler_future_size(&on_leave_16k) >= 16 * 1024);
    assert_eq!(
        response_future_size(&layer(Config::new(APP))),
        response_future_size(&layer_with(
            CallbackLayer::new(Config::new(APP)),
            on_leave_16k
        )),
    );
    let mut g = c.benchmark_group("passthrough");
    for (name, uri) in [
        ("no_query", "/health"),
        ("query", "/items?page=2&sort=name&filter=active&limit=50"),
    ] {
        let uri = Uri::from_static(uri);
        let make = || request(Method::GET, &uri, &Bytes::new());
        let app = Some(&b"app"[..]);
        contender!(
            g,
            BenchmarkId::new("no_layer", name),
            rt,
            service_fn(app_route),
            make,
            200,
            app
        );
        contender!(
            g,
            BenchmarkId::new("layer", name),
            rt,
            layer(Config::new(APP)),
            make,
            200,
            app
        );
        contender!(
            g,
            BenchmarkId::new("layer_path", name),
            rt,
            layer_with(
                CallbackLayer::new(Config::new(APP)).path("/callback"),
                on_leave
            ),
            make,
            200,
            app
        );
        contender!(
            g,
            BenchmarkId::new("layer_16k_handler", name),
            rt,
            layer_with(CallbackLayer::new(Config::new(APP)), on_leave_16k),
            make,
            200,
            app
        );
        // The same, in front of an axum app instead of a bare function.
        contender!(
            g,
            BenchmarkId::new("no_layer_router", name),
            rt,
            app_router(),
            make,
            200,
            app
        );
        contender!(
            g,
            BenchmarkId::new("layer_router", name),
            rt,
            CallbackLayer::new(Config::new(APP))
                .on(on_leave)
                .layer(app_router()),
            make,
            200,
            app
        );
    }
    g.finish();
}

fn body_size(c: &mut Criterion) {
    let rt = runtime();
    let uri = Uri::from_static(PATH_AND_QUERY);
    let ok = Some(Ack::OK_BODY);
    let mut g = c.benchmark_group("body_size");
    for members in [1, 100, 1000, 5000] {
        let body = leave_body(members);
        let make = || request(Method::POST, &uri, &body);
        g.throughput(Throughput::Bytes(body.len() as u64));
        contender!(
            g,
            BenchmarkId::new("layer", members),
            rt,
            layer(Config::new(APP)),
            make,
            200,
            ok
        );
        contender!(
            g,
            BenchmarkId::new("axum_handwritten", members),
            rt,
            axum_handwritten(),
            make,
            200,
            ok
        );
        contender!(
            g,
            BenchmarkId::new("floor", members),
            rt,
            service_fn(floor_fn),
            make,
            200,
            ok
        );
    }
    g.finish();
}

criterion_group!(benches, leave_sample, passthrough, body_size);
criterion_main!(benches);
