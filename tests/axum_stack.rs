//! `CallbackLayer` for `Room.CallbackAfterMemberLeave` inside a real axum `Router`: stacked with
//! `Router::layer`, `Router::route_layer`, `Router::layer(ServiceBuilder)` and `ServiceBuilder` around the
//! whole router, in both delivery modes (a handler, or the event in the request's extensions).
//!
//! Every rejection is checked for its exact status, `Content-Type: application/json`, a FAIL
//! acknowledgment with the documented `ErrorCode` and an `ErrorInfo` that says what was wrong, and for
//! the handler (and the inner route) never being called.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::Request as AxumRequest;
use axum::routing::{any, post};
use axum::{Extension, Router};
use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use tencent_room_callback::event::UnixSeconds;
use tencent_room_callback::meta::{ClientIp, OptPlatform};
use tencent_room_callback::service::ResponseBody;
use tencent_room_callback::testing::signature;
use tencent_room_callback::{
    Ack, CallbackCommand, CallbackLayer, CallbackMeta, Command, Config, Handler, HandlerError,
    MemberLeave,
};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt};

const APP: u64 = 1400000000;
const TOKEN: &str = "xxxxyyyy";
const TIME: u64 = 1669872112;
const SIGN: &str = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";
const CMD: &str = "CallbackCommand=Room.CallbackAfterMemberLeave";
const BODY: &str = r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}"#;

type Svc = BoxCloneService<Request<Body>, Response<Body>, Infallible>;

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `CallbackLayer::new(cfg).on(handler)`.
    Handler,
    /// `CallbackLayer::new(cfg).extension::<MemberLeave>()` and an axum handler reading the extensions.
    Extensions,
}

#[derive(Debug, Clone, Copy)]
enum Stack {
    /// `Router::layer(callback_layer)`.
    Layer,
    /// `Router::route_layer(callback_layer)`.
    RouteLayer,
    /// `Router::layer(ServiceBuilder::new().layer(callback_layer))`.
    RouterServiceBuilder,
    /// `ServiceBuilder::new().layer(callback_layer).service(router)`: around the whole router.
    Outer,
}

const MODES: [Mode; 2] = [Mode::Handler, Mode::Extensions];
const STACKS: [Stack; 4] = [
    Stack::Layer,
    Stack::RouteLayer,
    Stack::RouterServiceBuilder,
    Stack::Outer,
];

/// An event the app got: the event, its metadata, and in extensions mode the raw body.
type Delivered = (MemberLeave, CallbackMeta, Option<String>);

/// What the app saw: calls of the event handler (either mode), calls of the inner routes, the events
/// delivered (with the raw body in extensions mode), and the `CallbackMeta` each call of the `/other`
/// route found in its request's extensions.
#[derive(Clone, Default)]
struct Seen {
    handler: Arc<AtomicUsize>,
    inner: Arc<AtomicUsize>,
    events: Arc<Mutex<Vec<Delivered>>>,
    metas: Arc<Mutex<Vec<Option<CallbackMeta>>>>,
}

impl Seen {
    fn handler_calls(&self) -> usize {
        self.handler.load(SeqCst)
    }
    fn inner_calls(&self) -> usize {
        self.inner.load(SeqCst)
    }
    fn metas(&self) -> Vec<Option<CallbackMeta>> {
        std::mem::take(&mut *self.metas.lock().unwrap())
    }
}

/// The handler-mode handler; its behaviour is picked by the event's `RoomId`.
fn handler(seen: Seen) -> impl Handler<MemberLeave> + Clone {
    move |event: MemberLeave, meta: CallbackMeta| {
        seen.handler.fetch_add(1, SeqCst);
        if event.room_id == "panic-now" {
            panic!("handler panicked before returning its future");
        }
        let seen = seen.clone();
        async move {
            match event.room_id.as_str() {
                "fail" => {
                    return Err(HandlerError::msg(
                        "db at 10.0.0.7 refused: password=hunter2",
                    ))
                }
                "busy" => return Err(HandlerError::unavailable("queue full")),
                "panic" => panic!("handler panicked while running"),
                _ => {}
            }
            seen.events.lock().unwrap().push((event, meta, None));
            Ok(())
        }
    }
}

/// Counts the polls of a request body, carried in the request's extensions.
#[derive(Clone)]
struct Polls(Arc<AtomicUsize>);

/// The inner route for requests the layer passes through: reports what it got, including whether the
/// body had been polled before it was called.
async fn echo(req: AxumRequest) -> String {
    let polled = req.extensions().get::<Polls>().map(|p| p.0.load(SeqCst));
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    format!(
        "{} {} polled-before={polled:?} body={}",
        parts.method,
        parts.uri,
        String::from_utf8_lossy(&body)
    )
}

macro_rules! stacked {
    ($stack:expr, $router:expr, $layer:expr) => {
        match $stack {
            Stack::Layer => BoxCloneService::new($router.layer($layer)),
            Stack::RouteLayer => BoxCloneService::new($router.route_layer($layer)),
            Stack::RouterServiceBuilder => {
                BoxCloneService::new($router.layer(ServiceBuilder::new().layer($layer)))
            }
            // Around the whole router the layer answers its own `ResponseBody`: made an axum `Body`
            // again to fit the one boxed type.
            Stack::Outer => BoxCloneService::new(
                ServiceBuilder::new()
                    .map_response(|res: Response<ResponseBody<Body>>| res.map(Body::new))
                    .layer($layer)
                    .service($router),
            ),
        }
    };
}

fn app(mode: Mode, stack: Stack, config: Config, seen: &Seen) -> Svc {
    let (inner, metas) = (seen.inner.clone(), seen.metas.clone());
    let other = any(move |req: AxumRequest| {
        inner.fetch_add(1, SeqCst);
        let meta = req.extensions().get::<CallbackMeta>().cloned();
        metas.lock().unwrap().push(meta);
        echo(req)
    });
    match mode {
        Mode::Handler => {
            let inner = seen.inner.clone();
            let cb = move || {
                inner.fetch_add(1, SeqCst);
                async { (StatusCode::IM_A_TEAPOT, "inner /cb route") }
            };
            let cb = post(cb);
            let router = Router::new().route("/cb", cb).route("/other", other);
            stacked!(
                stack,
                router,
                CallbackLayer::new(config)
                    .verify_unrouted(true)
                    .on(handler(seen.clone()))
            )
        }
        Mode::Extensions => {
            let s = seen.clone();
            let ext = move |Extension(event): Extension<MemberLeave>,
                            Extension(meta): Extension<CallbackMeta>,
                            body: String| {
                s.handler.fetch_add(1, SeqCst);
                s.events.lock().unwrap().push((event, meta, Some(body)));
                async { Ack::ok() }
            };
            // `post` only: the layer still answers other methods itself, `route_layer` included.
            let cb = post(ext);
            let router = Router::new().route("/cb", cb).route("/other", other);
            stacked!(
                stack,
                router,
                CallbackLayer::new(config)
                    .verify_unrouted(true)
                    .extension::<MemberLeave>()
            )
        }
    }
}

/// The query Tencent sends, plus `extra`.
fn q(extra: &str) -> String {
    format!("SdkAppid={APP}&{CMD}&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS{extra}")
}

fn post_to(query: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(format!("/cb?{query}"))
        .body(body.into())
        .unwrap()
}

/// A configuration with the test-vector token and a clock at `now`.
fn signed_at(now: u64) -> Config {
    Config::new(APP)
        .token(TOKEN)
        .unwrap()
        .clock(move || UNIX_EPOCH + Duration::from_secs(now))
}

fn signed_query() -> String {
    q(&format!("&Sign={SIGN}&RequestTime={TIME}"))
}

/// Checks a rejection's answer and returns its headers.
async fn assert_fail(
    res: Response<Body>,
    status: u16,
    code: i64,
    info: &str,
    ctx: &str,
) -> HeaderMap {
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    assert_eq!(parts.status, status, "{ctx}: status (body {body:?})");
    assert_eq!(
        parts
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
        "{ctx}: content-type"
    );
    let raw: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{ctx}: the answer is not JSON ({e}): {body:?}"));
    let mut keys: Vec<_> = raw.as_object().expect("an object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["ActionStatus", "ErrorCode", "ErrorInfo"], "{ctx}");
    let ack: Ack = serde_json::from_slice(&body).unwrap();
    assert!(!ack.is_ok(), "{ctx}: {body:?}");
    assert_eq!(ack.error_code(), code, "{ctx}: {body:?}");
    assert!(
        ack.error_info().contains(info),
        "{ctx}: ErrorInfo {:?} should mention {info:?}",
        ack.error_info()
    );
    parts.headers
}

/// Sends `make()` through every mode and stack: the answer is the rejection, nothing is called.
async fn rejects(
    config: Config,
    make: impl Fn() -> Request<Body>,
    status: u16,
    code: i64,
    info: &str,
) {
    for mode in MODES {
        for stack in STACKS {
            let seen = Seen::default();
            let ctx = format!("{mode:?}/{stack:?} expecting {code}");
            // A bound against hanging (a stalled body, a lost wake-up), not a timing assertion.
            let res = tokio::time::timeout(
                Duration::from_secs(10),
                app(mode, stack, config.clone(), &seen).oneshot(make()),
            )
            .await
            .unwrap_or_else(|_| panic!("{ctx}: no answer within 10 s"))
            .unwrap();
            let headers = tokio::time::timeout(
                Duration::from_secs(10),
                assert_fail(res, status, code, info, &ctx),
            )
            .await
            .unwrap_or_else(|_| panic!("{ctx}: the answer's body did not end within 10 s"));
            if status == 405 {
                assert_eq!(headers[header::ALLOW], "POST", "{ctx}");
            } else {
                assert!(headers.get(header::ALLOW).is_none(), "{ctx}");
            }
            // Every 401, whatever its kind, names the scheme; no other answer does.
            if status == 401 {
                assert_eq!(
                    headers
                        .get(header::WWW_AUTHENTICATE)
                        .map(|v| v.to_str().unwrap()),
                    Some("TencentCallbackSign"),
                    "{ctx}"
                );
            } else {
                assert!(headers.get(header::WWW_AUTHENTICATE).is_none(), "{ctx}");
            }
            assert_eq!(seen.handler_calls(), 0, "{ctx}: handler called");
            assert_eq!(seen.inner_calls(), 0, "{ctx}: inner route called");
        }
    }
}

/// Sends `make()` through every mode and stack: answered OK by the layer (handler mode) or the
/// extensions handler; returns what the handlers saw.
async fn accepts(config: Config, make: impl Fn() -> Request<Body>) -> Vec<Delivered> {
    let mut all = Vec::new();
    for mode in MODES {
        for stack in STACKS {
            let seen = Seen::default();
            let res = app(mode, stack, config.clone(), &seen)
                .oneshot(make())
                .await
                .unwrap();
            let ctx = format!("{mode:?}/{stack:?}");
            let (parts, body) = res.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            assert_eq!(parts.status, 200, "{ctx}: {body:?}");
            assert_eq!(parts.headers[header::CONTENT_TYPE], "application/json");
            assert_eq!(&body[..], Ack::OK_BODY, "{ctx}");
            assert_eq!(seen.handler_calls(), 1, "{ctx}");
            assert_eq!(seen.inner_calls(), 0, "{ctx}");
            let mut events = seen.events.lock().unwrap();
            assert_eq!(events.len(), 1, "{ctx}");
            let (_, _, raw) = &events[0];
            assert_eq!(raw.is_some(), matches!(mode, Mode::Extensions), "{ctx}");
            all.append(&mut events);
        }
    }
    all
}

// ---- bodies ----

/// A body that must never be read: polling it fails the test.
struct Untouchable {
    hint: SizeHint,
}

impl http_body::Body for Untouchable {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        panic!("the layer polled a body it should have refused from the head alone")
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

/// A body that yields its chunks (or errors) one by one, with no size hint.
struct Chunks(VecDeque<Result<Bytes, io::Error>>);

impl Chunks {
    fn body(chunks: impl IntoIterator<Item = Result<Bytes, io::Error>>) -> Body {
        Body::new(Chunks(chunks.into_iter().collect()))
    }
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(self.0.pop_front().map(|c| c.map(Frame::data)))
    }
}

/// A body that never arrives.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Pending
    }
}

/// A body that counts its polls, in a [`Polls`] the request carries in its extensions.
struct Tracked {
    data: Option<Bytes>,
    polls: Arc<AtomicUsize>,
}

fn tracked(uri: &str, method: Method, body: &'static str) -> (Request<Body>, Arc<AtomicUsize>) {
    let polls = Arc::new(AtomicUsize::new(0));
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::new(Tracked {
            data: Some(Bytes::from_static(body.as_bytes())),
            polls: polls.clone(),
        }))
        .unwrap();
    req.extensions_mut().insert(Polls(polls.clone()));
    (req, polls)
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.polls.fetch_add(1, SeqCst);
        Poll::Ready(self.data.take().map(|d| Ok(Frame::data(d))))
    }
}

// ---- accepted ----

#[tokio::test]
async fn accepts_the_documented_callback_in_every_mode_and_stack() {
    let got = accepts(Config::new(APP), || post_to(&q(""), BODY)).await;
    assert_eq!(got.len(), MODES.len() * STACKS.len());
    for (event, meta, raw) in got {
        assert_eq!(event.room_id, "rid-123");
        assert_eq!(event.members, ["user1"]);
        assert_eq!(event.event_time.as_millis(), 1670574414123);
        assert_eq!(event.reason.as_deref(), Some("xxxx"));
        assert_eq!(meta.sdk_app_id, APP);
        assert_eq!(meta.command.as_str(), "Room.CallbackAfterMemberLeave");
        assert_eq!(
            meta.client_ip,
            Some(ClientIp::Ip("1.2.3.4".parse().unwrap()))
        );
        assert_eq!(meta.platform, Some(OptPlatform::Ios));
        assert_eq!(meta.request_time, None);
        if let Some(raw) = raw {
            // Extensions mode: the inner service reads the original body, byte for byte.
            assert_eq!(raw, BODY);
        }
    }
}

#[tokio::test]
async fn parameter_names_match_in_any_case() {
    for query in [
        format!("sdkappid={APP}&callbackcommand=Room.CallbackAfterMemberLeave"),
        format!("SDKAPPID={APP}&CALLBACKCOMMAND=Room.CallbackAfterMemberLeave"),
        format!("SdkAppId={APP}&CallbackCommand=Room.CallbackAfterMemberLeave"),
        format!("contenttype=json&callbackCommand=Room.CallbackAfterMemberLeave&sdkAppID={APP}"),
        // The same value twice is not a conflict.
        format!("SdkAppid={APP}&sdkappid={APP}&{CMD}"),
    ] {
        let got = accepts(Config::new(APP), || post_to(&query, BODY)).await;
        assert!(got
            .iter()
            .all(|(e, m, _)| e.room_id == "rid-123" && m.sdk_app_id == APP));
    }
}

#[tokio::test]
async fn percent_encoded_command_and_names_are_decoded() {
    for query in [
        format!("SdkAppid={APP}&CallbackCommand=Room%2ECallbackAfterMemberLeave"),
        format!("SdkAppid={APP}&CallbackCommand=%52oom%2eCallbackAfterMemberLeave"),
        format!("SdkAppid={APP}&Callback%43ommand=Room.CallbackAfterMemberLeave"),
        format!("Sdk%41ppid=%31400000000&{CMD}"),
    ] {
        accepts(Config::new(APP), || post_to(&query, BODY)).await;
    }
}

#[tokio::test]
async fn accepts_the_signed_test_vector_at_the_edges_of_the_window() {
    for now in [TIME, TIME - 60, TIME + 60] {
        let got = accepts(signed_at(now), || post_to(&signed_query(), BODY)).await;
        assert!(got
            .iter()
            .all(|(_, m, _)| m.request_time == Some(UnixSeconds::from_secs(TIME))));
    }
}

#[tokio::test]
async fn token_rotation_accepts_either_token() {
    let old_sign = signature("old-token", &TIME.to_string());
    for (tokens, sign) in [
        (["xxxxyyyy", "old-token"], SIGN.to_owned()),
        (["old-token", "xxxxyyyy"], SIGN.to_owned()),
        (["xxxxyyyy", "old-token"], old_sign.clone()),
        (["old-token", "xxxxyyyy"], old_sign.clone()),
    ] {
        let config = Config::new(APP)
            .token(tokens[0])
            .unwrap()
            .token(tokens[1])
            .unwrap()
            .clock(|| UNIX_EPOCH + Duration::from_secs(TIME));
        let query = q(&format!("&Sign={sign}&RequestTime={TIME}"));
        accepts(config, || post_to(&query, BODY)).await;
    }
    // A third token's signature is refused.
    let config = Config::new(APP)
        .token("xxxxyyyy")
        .unwrap()
        .token("old-token")
        .unwrap()
        .clock(|| UNIX_EPOCH + Duration::from_secs(TIME));
    let query = q(&format!(
        "&Sign={}&RequestTime={TIME}",
        signature("third", &TIME.to_string())
    ));
    rejects(config, || post_to(&query, BODY), 401, 40104, "Sign").await;
}

#[tokio::test]
async fn without_a_token_sign_is_not_needed() {
    accepts(Config::new(APP), || {
        post_to(&q("&Sign=garbage&RequestTime=x"), BODY)
    })
    .await;
}

#[tokio::test]
async fn a_second_app_id_is_accepted() {
    let got = accepts(Config::new(1).app_id(APP), || post_to(&q(""), BODY)).await;
    assert!(got.iter().all(|(_, m, _)| m.sdk_app_id == APP));
}

// ---- rejected from the head ----

#[tokio::test]
async fn wrong_method_is_405_with_allow_post() {
    for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
        let make = || {
            Request::builder()
                .method(method.clone())
                .uri(format!("/cb?{}", q("")))
                .body(Body::from(BODY))
                .unwrap()
        };
        rejects(Config::new(APP), make, 405, 40501, "POST").await;
    }
    // The method is checked first: a GET that would fail every other check is still a 405.
    rejects(
        Config::new(APP).token(TOKEN).unwrap(),
        || {
            Request::get(format!("/cb?{CMD}"))
                .body(Body::empty())
                .unwrap()
        },
        405,
        40501,
        "POST",
    )
    .await;
}

#[tokio::test]
async fn sdk_app_id_missing() {
    for query in [
        CMD.to_owned(),
        format!("{CMD}&SdkAppid="),
        format!("{CMD}&SdkAppidX={APP}"),
    ] {
        rejects(
            Config::new(APP),
            || post_to(&query, BODY),
            400,
            40002,
            "SdkAppid",
        )
        .await;
    }
}

#[tokio::test]
async fn sdk_app_id_malformed() {
    for bad in [
        "abc",
        "-1400000000",
        "1400000000x",
        "14e8",
        "%2B1400000000",
        "99999999999999999999999",
    ] {
        let query = format!("SdkAppid={bad}&{CMD}");
        rejects(
            Config::new(APP),
            || post_to(&query, BODY),
            400,
            40003,
            "SdkAppid",
        )
        .await;
    }
}

#[tokio::test]
async fn sdk_app_id_of_another_app() {
    let query = format!("SdkAppid=1400000001&{CMD}");
    rejects(
        Config::new(APP),
        || post_to(&query, BODY),
        403,
        40301,
        "1400000001",
    )
    .await;
}

#[tokio::test]
async fn sdk_app_id_duplicated_with_different_values() {
    for query in [
        format!("SdkAppid={APP}&SdkAppid=1400000001&{CMD}"),
        format!("SdkAppid={APP}&sdkappid=1400000001&{CMD}"),
        format!("SDKAPPID=1400000001&{CMD}&SdkAppid={APP}"),
    ] {
        rejects(
            Config::new(APP),
            || post_to(&query, BODY),
            400,
            40004,
            "SdkAppid",
        )
        .await;
    }
}

#[tokio::test]
async fn command_duplicated_with_different_values() {
    for query in [
        format!("SdkAppid={APP}&{CMD}&CallbackCommand=Room.CallbackAfterMemberEnter"),
        format!("SdkAppid={APP}&callbackcommand=Other&{CMD}"),
        format!("SdkAppid={APP}&{CMD}&CallbackCommand="),
    ] {
        rejects(
            Config::new(APP),
            || post_to(&query, BODY),
            400,
            40004,
            "CallbackCommand",
        )
        .await;
    }
}

#[tokio::test]
async fn sign_or_request_time_missing() {
    for extra in [
        String::new(),
        format!("&Sign={SIGN}"),
        format!("&RequestTime={TIME}"),
        format!("&Sign=&RequestTime={TIME}"),
        format!("&Sign={SIGN}&RequestTime="),
    ] {
        let query = q(&extra);
        rejects(
            signed_at(TIME),
            || post_to(&query, BODY),
            401,
            40101,
            "Sign",
        )
        .await;
    }
}

#[tokio::test]
async fn request_time_malformed() {
    for time in [
        "abc",
        "-1669872112",
        "1669872112.0",
        "1669872112000000000000",
    ] {
        let query = q(&format!("&Sign={SIGN}&RequestTime={time}"));
        rejects(
            signed_at(TIME),
            || post_to(&query, BODY),
            401,
            40102,
            "RequestTime",
        )
        .await;
    }
}

#[tokio::test]
async fn request_time_stale_either_direction() {
    for now in [TIME + 61, TIME - 61, TIME + 3600, 0] {
        rejects(
            signed_at(now),
            || post_to(&signed_query(), BODY),
            401,
            40103,
            "RequestTime",
        )
        .await;
    }
    // A narrower window is honoured.
    rejects(
        signed_at(TIME + 11).window(Duration::from_secs(10)),
        || post_to(&signed_query(), BODY),
        401,
        40103,
        "window 10 s",
    )
    .await;
}

#[tokio::test]
async fn sign_wrong() {
    let mut flipped = SIGN.to_owned();
    flipped.replace_range(63..64, "0");
    for (sign, time) in [
        (flipped.clone(), TIME),
        (SIGN.to_uppercase(), TIME),
        (SIGN[..63].to_owned(), TIME),
        (format!("{SIGN}0"), TIME),
        (String::from("zz"), TIME),
        // The right signature for another second.
        (SIGN.to_owned(), TIME + 1),
        (signature("yyyyxxxx", &TIME.to_string()), TIME),
    ] {
        let query = q(&format!("&Sign={sign}&RequestTime={time}"));
        rejects(
            signed_at(TIME),
            || post_to(&query, BODY),
            401,
            40104,
            "Sign",
        )
        .await;
    }
}

#[tokio::test]
async fn sign_and_request_time_given_twice_differently() {
    for (extra, name) in [
        (format!("&Sign={SIGN}&Sign=00&RequestTime={TIME}"), "Sign"),
        (
            format!("&Sign={SIGN}&RequestTime={TIME}&requesttime=1669872113"),
            "RequestTime",
        ),
    ] {
        let query = q(&extra);
        rejects(signed_at(TIME), || post_to(&query, BODY), 400, 40004, name).await;
    }
}

// ---- rejected on the body ----

#[tokio::test]
async fn declared_length_over_the_limit_is_413_before_reading() {
    let config = Config::new(APP).body_limit(64);
    // `Content-Length` says too much: the body is not polled (polling it panics).
    rejects(
        config.clone(),
        || {
            Request::post(format!("/cb?{}", q("")))
                .header(header::CONTENT_LENGTH, "65")
                .body(Body::new(Untouchable {
                    hint: SizeHint::default(),
                }))
                .unwrap()
        },
        413,
        41301,
        "65 bytes",
    )
    .await;
    // No header, but the body's exact size hint says too much.
    rejects(
        config.clone(),
        || {
            post_to(
                &q(""),
                Body::new(Untouchable {
                    hint: SizeHint::with_exact(1 << 20),
                }),
            )
        },
        413,
        41301,
        "limit 64",
    )
    .await;
    // The default limit is 1 MiB.
    rejects(
        Config::new(APP),
        || {
            Request::post(format!("/cb?{}", q("")))
                .header(header::CONTENT_LENGTH, (1024 * 1024 + 1).to_string())
                .body(Body::new(Untouchable {
                    hint: SizeHint::default(),
                }))
                .unwrap()
        },
        413,
        41301,
        "limit 1048576",
    )
    .await;
}

#[tokio::test]
async fn a_body_exactly_at_the_limit_is_read() {
    let config = Config::new(APP).body_limit(BODY.len());
    accepts(config, || {
        Request::post(format!("/cb?{}", q("")))
            .header(header::CONTENT_LENGTH, BODY.len().to_string())
            .body(Body::from(BODY))
            .unwrap()
    })
    .await;
}

#[tokio::test]
async fn a_streamed_body_growing_past_the_limit_is_413() {
    let config = Config::new(APP).body_limit(64);
    let chunk = Bytes::from(vec![b' '; 40]);
    rejects(
        config.clone(),
        || {
            post_to(
                &q(""),
                Chunks::body([Ok(chunk.clone()), Ok(chunk.clone()), Ok(chunk.clone())]),
            )
        },
        413,
        41301,
        "more than 64 bytes",
    )
    .await;
    // A Content-Length that lies low does not lift the cap.
    rejects(
        config,
        || {
            let mut req = post_to(&q(""), Chunks::body([Ok(chunk.clone()), Ok(chunk.clone())]));
            req.headers_mut()
                .insert(header::CONTENT_LENGTH, "10".parse().unwrap());
            req
        },
        413,
        41301,
        "more than 64 bytes",
    )
    .await;
}

#[tokio::test]
async fn a_chunked_body_under_the_limit_is_reassembled() {
    let (a, b) = BODY.split_at(50);
    let got = accepts(Config::new(APP), || {
        post_to(
            &q(""),
            Chunks::body([
                Ok(Bytes::from_static(a.as_bytes())),
                Ok(Bytes::new()),
                Ok(Bytes::from_static(b.as_bytes())),
            ]),
        )
    })
    .await;
    for (e, _, raw) in got {
        assert_eq!(e.room_id, "rid-123");
        if let Some(raw) = raw {
            assert_eq!(raw, BODY);
        }
    }
}

#[tokio::test]
async fn a_body_read_error_is_400() {
    rejects(
        Config::new(APP),
        || {
            post_to(
                &q(""),
                Chunks::body([
                    Ok(Bytes::from_static(b"{\"RoomId\":")),
                    Err(io::Error::other("connection reset by peer")),
                ]),
            )
        },
        400,
        40005,
        "connection reset by peer",
    )
    .await;
}

/// On tokio's paused clock: nothing else is pending, so time jumps to the 20 ms body timeout at once
/// (before the 10 s bound against hanging, which is on the same clock).
#[tokio::test(start_paused = true)]
async fn a_body_that_never_arrives_is_408() {
    let config = Config::new(APP).body_timeout(Some(Duration::from_millis(20)));
    rejects(
        config,
        || post_to(&q(""), Body::new(Stalled)),
        408,
        40801,
        "in time",
    )
    .await;
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let cases: [(&[u8], &str); 14] = [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"not json", "not a JSON object"),
        (b"[\"rid-123\",[\"user1\"],1670574414123]", "not a JSON object"),
        (b"{\"RoomId\":\"rid-123\"", "EOF while parsing"),
        (br#"{"RoomId":123,"MemberList_Account":["u"],"EventTime":1}"#, "integer `123`, expected a string"),
        (br#"{"RoomId":"r","MemberList_Account":"u","EventTime":1}"#, "expected a list"),
        (br#"{"RoomId":"r","MemberList_Account":["u"],"EventTime":true}"#, "boolean `true`"),
        (br#"{"RoomId":"r","MemberList_Account":["u"],"EventTime":"soon"}"#, "string \"soon\""),
        (br#"{"MemberList_Account":["u"],"EventTime":1}"#, "missing field `RoomId`"),
        (br#"{"RoomId":"r","EventTime":1}"#, "missing field `MemberList_Account`"),
        (br#"{"RoomId":"r","MemberList_Account":["u"]}"#, "missing field `EventTime`"),
        (b"{\"RoomId\":\"r\xff\xfe\",\"MemberList_Account\":[\"u\"],\"EventTime\":1}", "invalid unicode"),
        (
            br#"{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"r","MemberList_Account":["u"],"EventTime":1}"#,
            "Room.CallbackAfterMemberEnter",
        ),
    ];
    for (body, info) in cases {
        rejects(
            Config::new(APP),
            || post_to(&q(""), Bytes::from_static(body)),
            400,
            40006,
            info,
        )
        .await;
    }
}

// ---- the handler fails ----

fn leave_in(room: &str) -> String {
    format!(r#"{{"RoomId":"{room}","MemberList_Account":["user1"],"EventTime":1670574414123}}"#)
}

async fn handler_answer(svc: &Svc, room: &str) -> Response<Body> {
    svc.clone()
        .oneshot(post_to(&q(""), leave_in(room)))
        .await
        .unwrap()
}

#[tokio::test]
async fn handler_errors_answer_500_or_503_without_details() {
    for stack in STACKS {
        let seen = Seen::default();
        let svc = app(Mode::Handler, stack, Config::new(APP), &seen);
        let ctx = format!("{stack:?}");

        let res = handler_answer(&svc, "fail").await;
        assert_fail(res, 500, 50001, "the handler failed", &ctx).await;

        let res = handler_answer(&svc, "busy").await;
        assert_fail(res, 503, 50301, "retry later", &ctx).await;

        assert_eq!(seen.handler_calls(), 2, "{ctx}");
        assert_eq!(seen.inner_calls(), 0, "{ctx}");
    }
}

#[tokio::test]
async fn handler_error_details_stay_inside() {
    let seen = Seen::default();
    let svc = app(Mode::Handler, Stack::Layer, Config::new(APP), &seen);
    let res = handler_answer(&svc, "fail").await;
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(
        !body.contains("hunter2") && !body.contains("10.0.0.7"),
        "{body}"
    );
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_service_keeps_serving() {
    for stack in STACKS {
        let seen = Seen::default();
        let svc = app(Mode::Handler, stack, Config::new(APP), &seen);
        let ctx = format!("{stack:?}");
        for room in ["panic", "panic-now"] {
            let res = handler_answer(&svc, room).await;
            assert_fail(res, 500, 50002, "panicked", &ctx).await;
            // The same service answers the next callback.
            let res = handler_answer(&svc, "after").await;
            assert_eq!(res.status(), 200, "{ctx}");
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], Ack::OK_BODY, "{ctx}");
        }
        assert_eq!(seen.handler_calls(), 4, "{ctx}");
        let rooms: Vec<_> = seen
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|(e, _, _)| e.room_id.clone())
            .collect();
        assert_eq!(rooms, ["after", "after"], "{ctx}");
    }
}

// ---- passed through ----

#[tokio::test]
async fn other_requests_reach_the_inner_service_untouched_and_unread() {
    // No `CallbackCommand` (or an empty one): not a callback, nothing about it is checked (method,
    // app, signature) and nothing is added to it.
    let cases = [
        (Method::POST, "/other".to_owned()),
        (
            Method::POST,
            format!("/other?SdkAppid={APP}&contenttype=json"),
        ),
        (Method::GET, "/other?SdkAppid=1&CallbackCommand=".to_owned()),
        (
            Method::PUT,
            "/other?CallbackCommand=&callbackcommand=&Sign=x".to_owned(),
        ),
        // Parameter names that only look alike, plain or percent-encoded.
        (
            Method::POST,
            format!("/other?SdkAppid={APP}&CallbackCommandX=Room.CallbackAfterMemberLeave"),
        ),
        (
            Method::GET,
            "/other?SdkAppid=1&Callback%43ommand%58=Group.CallbackAfterSendMsg&Callback_Command=x"
                .to_owned(),
        ),
    ];
    for mode in MODES {
        for stack in STACKS {
            for (method, uri) in &cases {
                let seen = Seen::default();
                // With a token and a tiny limit: none of it applies to a pass-through.
                let config = signed_at(TIME).body_limit(1);
                let svc = app(mode, stack, config, &seen);
                let (req, polls) = tracked(uri, method.clone(), "not json at all");
                let res = svc.oneshot(req).await.unwrap();
                let ctx = format!("{mode:?}/{stack:?} {method} {uri}");
                assert_eq!(res.status(), 200, "{ctx}");
                let body = res.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(
                    String::from_utf8_lossy(&body),
                    format!("{method} {uri} polled-before=Some(0) body=not json at all"),
                    "{ctx}"
                );
                assert!(
                    polls.load(SeqCst) > 0,
                    "{ctx}: the inner route read the body"
                );
                assert_eq!(seen.inner_calls(), 1, "{ctx}");
                assert_eq!(seen.handler_calls(), 0, "{ctx}");
                assert_eq!(seen.metas(), [None], "{ctx}: no metadata on a pass-through");
            }
        }
    }
}

/// The answer of `svc` to `req` (within 10 s: a bound against hanging, not a timing assertion).
async fn answer_of(svc: Svc, req: Request<Body>) -> Response<Body> {
    tokio::time::timeout(Duration::from_secs(10), svc.oneshot(req))
        .await
        .expect("an answer within 10 s")
        .unwrap()
}

#[tokio::test]
async fn unrouted_commands_are_verified_then_reach_the_inner_service_with_their_meta() {
    // Commands no route of the layer takes: another Room command, a wrong case (values are
    // case-sensitive), a lookalike, another product's.
    let commands = [
        "Room.CallbackAfterMemberEnter",
        "room.callbackaftermemberleave",
        "Room.CallbackAfterMemberLeaveX",
        "Group.CallbackAfterSendMsg",
    ];
    let signed = format!("&Sign={SIGN}&RequestTime={TIME}");
    for mode in MODES {
        for stack in STACKS {
            for command in commands {
                // Verified and passed on: the body unread by the layer, the verified metadata in the
                // extensions. With a tiny limit: the body is not the layer's to read.
                let seen = Seen::default();
                let svc = app(mode, stack, signed_at(TIME).body_limit(1), &seen);
                let uri = format!(
                    "/other?SdkAppid={APP}&CallbackCommand={command}&ClientIP=1.2.3.4&OptPlatform=iOS{signed}"
                );
                let (req, polls) = tracked(&uri, Method::POST, "not json at all");
                let res = answer_of(svc, req).await;
                let ctx = format!("{mode:?}/{stack:?} {command}");
                assert_eq!(res.status(), 200, "{ctx}");
                let body = res.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(
                    String::from_utf8_lossy(&body),
                    format!("POST {uri} polled-before=Some(0) body=not json at all"),
                    "{ctx}"
                );
                assert!(polls.load(SeqCst) > 0, "{ctx}");
                assert_eq!(seen.inner_calls(), 1, "{ctx}");
                assert_eq!(seen.handler_calls(), 0, "{ctx}");
                let mut want = CallbackMeta::new(APP, CallbackCommand::new(command));
                want.client_ip = Some(ClientIp::Ip("1.2.3.4".parse().unwrap()));
                want.platform = Some(OptPlatform::Ios);
                want.request_time = Some(UnixSeconds::from_secs(TIME));
                let metas = seen.metas();
                assert_eq!(metas, [Some(want)], "{ctx}");
                let meta = metas[0].as_ref().unwrap();
                assert_eq!(meta.command.as_str(), command, "{ctx}");
                assert_eq!(
                    meta.command.typed(),
                    (command == "Room.CallbackAfterMemberEnter").then_some(Command::MemberEnter),
                    "{ctx}"
                );

                // Refused as a Room callback would be, from the head: the body never polled, the
                // inner route never called.
                #[rustfmt::skip]
                let refused: [(Method, String, Config, u16, i64, &str); 9] = [
                    (
                        Method::POST,
                        format!("SdkAppid={APP}&CallbackCommand={command}"),
                        signed_at(TIME),
                        401,
                        40101,
                        "Sign and RequestTime are required",
                    ),
                    (
                        Method::GET,
                        format!("SdkAppid={APP}&CallbackCommand={command}{signed}"),
                        signed_at(TIME),
                        405,
                        40501,
                        "POST",
                    ),
                    (
                        Method::PUT,
                        format!("SdkAppid=1&CallbackCommand={command}"),
                        Config::new(APP),
                        405,
                        40501,
                        "POST",
                    ),
                    (
                        Method::POST,
                        format!("SdkAppid={APP}&CallbackCommand={command}{signed}"),
                        signed_at(TIME + 61),
                        401,
                        40103,
                        "outside",
                    ),
                    (
                        Method::POST,
                        format!(
                            "SdkAppid={APP}&CallbackCommand={command}&Sign={}&RequestTime={TIME}",
                            "0".repeat(64)
                        ),
                        signed_at(TIME),
                        401,
                        40104,
                        "Sign does not match",
                    ),
                    (
                        Method::POST,
                        format!("CallbackCommand={command}{signed}"),
                        signed_at(TIME),
                        400,
                        40002,
                        "SdkAppid is missing",
                    ),
                    (
                        Method::POST,
                        format!("SdkAppid=x&CallbackCommand={command}{signed}"),
                        signed_at(TIME),
                        400,
                        40003,
                        "SdkAppid is not a decimal number",
                    ),
                    // Another app: answered as a bad signature when a token is configured (no
                    // enumeration), 403 when none is.
                    (
                        Method::POST,
                        format!("SdkAppid=1400000001&CallbackCommand={command}{signed}"),
                        signed_at(TIME),
                        401,
                        40104,
                        "Sign does not match",
                    ),
                    (
                        Method::POST,
                        format!("SdkAppid=1400000001&CallbackCommand={command}"),
                        Config::new(APP),
                        403,
                        40301,
                        "1400000001",
                    ),
                ];
                for (method, query, config, status, code, info) in refused {
                    let seen = Seen::default();
                    let svc = app(mode, stack, config, &seen);
                    let uri = format!("/other?{query}");
                    let (req, polls) = tracked(&uri, method.clone(), "not json at all");
                    let res = answer_of(svc, req).await;
                    let ctx = format!("{ctx}: {method} {uri}");
                    let headers = assert_fail(res, status, code, info, &ctx).await;
                    if status == 405 {
                        assert_eq!(headers[header::ALLOW], "POST", "{ctx}");
                    }
                    assert_eq!(polls.load(SeqCst), 0, "{ctx}: the body was polled");
                    assert_eq!(seen.inner_calls(), 0, "{ctx}");
                    assert_eq!(seen.handler_calls(), 0, "{ctx}");
                }
            }
            // Two different commands, neither routed: refused, whatever the commands.
            let seen = Seen::default();
            let svc = app(mode, stack, Config::new(APP), &seen);
            let uri = format!("/other?SdkAppid={APP}&CallbackCommand=Group.CallbackAfterSendMsg&CallbackCommand=C2C.CallbackAfterSendMsg");
            let (req, polls) = tracked(&uri, Method::POST, "x");
            let res = answer_of(svc, req).await;
            assert_fail(res, 400, 40004, "CallbackCommand", &uri).await;
            assert_eq!(polls.load(SeqCst), 0);
            assert_eq!(seen.inner_calls(), 0);
        }
    }
}

#[tokio::test]
async fn handler_mode_never_calls_the_inner_route_for_its_command() {
    // In handler mode `/cb`'s own route answers 418: an intercepted callback never gets there, and a
    // request to `/cb` without the command does.
    for stack in STACKS {
        let seen = Seen::default();
        let svc = app(Mode::Handler, stack, Config::new(APP), &seen);
        let res = svc.clone().oneshot(post_to(&q(""), BODY)).await.unwrap();
        assert_eq!(res.status(), 200);
        let res = svc
            .oneshot(Request::post("/cb?x=1").body(Body::from(BODY)).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::IM_A_TEAPOT, "{stack:?}");
        assert_eq!(seen.inner_calls(), 1, "{stack:?}");
        assert_eq!(seen.handler_calls(), 1, "{stack:?}");
    }
}
