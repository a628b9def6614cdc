//! The layer on its own, in whatever feature set the library is built with (the lean one included: no
//! `tracing`, no `axum`, no `testing`): polled by hand, no runtime, no server.

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tower_layer::Layer;
use tower_service::Service;

use super::{CallbackLayer, HandlerError, RequestBody, ServiceHandler};
use crate::ack::OK_BODY;
use crate::config::Config;
use crate::event::MemberLeave;
use crate::meta::CallbackMeta;
use crate::reject::RejectionKind;

const LEAVE: &str = "SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave";
const BODY: &str =
    r#"{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123}"#;

fn now<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("not ready at once"),
    }
}

fn config() -> Config {
    // No timer: nothing here runs on a runtime, and every body is all there at once.
    Config::new(1400000000).body_timeout(None)
}

fn post<B>(uri: &str, body: B) -> Request<B> {
    Request::post(uri).body(body).unwrap()
}

/// An inner service that answers `inner: <body>` and counts its calls.
#[derive(Clone, Default)]
struct Echo {
    calls: Arc<AtomicUsize>,
}

impl<B> Service<Request<B>> for Echo
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.calls.fetch_add(1, SeqCst);
        let body = now(req.into_body().collect()).unwrap().to_bytes();
        let mut text = b"inner: ".to_vec();
        text.extend_from_slice(&body);
        ready(Ok(Response::new(Full::new(Bytes::from(text)))))
    }
}

fn text<B>(res: Response<B>) -> (StatusCode, String)
where
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let status = res.status();
    let body = now(res.into_body().collect()).unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

type Seen = Arc<Mutex<Vec<String>>>;

fn recorder() -> (
    Seen,
    impl Fn(MemberLeave, CallbackMeta) -> Ready<Result<(), HandlerError>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    // Not `Clone`: the layer shares it behind an `Arc`.
    let guard = Mutex::new(());
    let handler = {
        let seen = seen.clone();
        move |event: MemberLeave, _: CallbackMeta| {
            let _held = guard.lock().unwrap();
            seen.lock().unwrap().push(event.room_id);
            ready(Ok(()))
        }
    };
    (seen, handler)
}

#[test]
fn handler_mode_answers_ok_and_passes_the_rest_through_untouched() {
    let (seen, handler) = recorder();
    let inner = Echo::default();
    let mut svc = CallbackLayer::new(config())
        .on(handler)
        .layer(inner.clone());

    let res = now(svc.call(post(
        &format!("/callback?{LEAVE}"),
        Full::new(Bytes::from(BODY)),
    )))
    .unwrap();
    assert_eq!(
        text(res),
        (StatusCode::OK, String::from_utf8_lossy(OK_BODY).into())
    );
    assert_eq!(*seen.lock().unwrap(), ["rid-123"]);

    let res = now(svc.call(post("/health?x=1.5", Full::new(Bytes::from("ping"))))).unwrap();
    assert_eq!(text(res), (StatusCode::OK, "inner: ping".into()));
    assert_eq!(inner.calls.load(SeqCst), 1);
}

#[test]
fn a_path_scoped_layer_passes_other_paths_through_whatever_their_query() {
    let (seen, handler) = recorder();
    let inner = Echo::default();
    let mut svc = CallbackLayer::new(config())
        .path("/callback")
        .on(handler)
        .layer(inner.clone());
    for uri in [
        "/",
        "/other",
        "//callback",
        "/callback/",
        "/callback/extra",
        "/Callback",
    ] {
        let res = now(svc.call(post(
            &format!("{uri}?{LEAVE}"),
            Full::new(Bytes::from(BODY)),
        )))
        .unwrap();
        assert_eq!(
            text(res),
            (StatusCode::OK, format!("inner: {BODY}")),
            "{uri}"
        );
    }
    assert!(seen.lock().unwrap().is_empty());
    let res = now(svc.call(post(
        &format!("/callback?{LEAVE}"),
        Full::new(Bytes::from(BODY)),
    )))
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(*seen.lock().unwrap(), ["rid-123"]);

    // A second path adds to the first; a GET elsewhere is the app's.
    let mut svc = CallbackLayer::new(config())
        .path("/a")
        .path("/b")
        .on(recorder().1)
        .layer(inner.clone());
    for uri in ["/a", "/b"] {
        let res = now(svc.call(
            Request::get(format!("{uri}?{LEAVE}"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        ))
        .unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{uri}");
    }
    let res = now(svc.call(
        Request::get(format!("/healthz?{LEAVE}"))
            .body(Full::new(Bytes::new()))
            .unwrap(),
    ))
    .unwrap();
    assert_eq!(text(res), (StatusCode::OK, "inner: ".into()));
}

/// A handler whose future holds 16 KiB.
async fn heavy(event: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> {
    let scratch = [0u8; 16 * 1024];
    ready(()).await;
    std::hint::black_box(&scratch);
    drop(event);
    Ok(())
}

#[test]
fn a_passed_through_future_stays_the_size_of_the_inner_one() {
    let inner = Echo::default();
    let inner_size = {
        let mut inner = inner.clone();
        std::mem::size_of_val(&Service::<Request<Full<Bytes>>>::call(
            &mut inner,
            post("/", Full::new(Bytes::new())),
        ))
    };
    let mut svc = CallbackLayer::new(config()).on(heavy).layer(inner);
    let fut = svc.call(post("/health", Full::new(Bytes::new())));
    let size = std::mem::size_of_val(&fut);
    assert!(
        size <= inner_size + 64,
        "pass-through future {size} bytes, inner {inner_size}"
    );
    assert_eq!(text(now(fut).unwrap()).0, StatusCode::OK);
    // The heavy handler still runs, out of line.
    let res = now(svc.call(post(&format!("/?{LEAVE}"), Full::new(Bytes::from(BODY))))).unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[test]
fn extension_mode_takes_any_body_and_hands_the_inner_service_its_own() {
    // `Limited<Full>` is not `From<Bytes>`: 0.1 could not forward it.
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let inner = {
        let seen = seen.clone();
        tower_fn(move |req: Request<RequestBody<Limited<Full<Bytes>>>>| {
            let event = req
                .extensions()
                .get::<MemberLeave>()
                .map(|e| e.room_id.clone());
            let buffered = req.body().is_buffered();
            let body = now(req.into_body().collect()).unwrap().to_bytes();
            seen.lock()
                .unwrap()
                .push((event.unwrap_or_default(), buffered));
            Response::new(Full::new(body))
        })
    };
    let mut svc = CallbackLayer::new(config())
        .extension::<MemberLeave>()
        .layer(inner);
    let res = now(svc.call(post(
        &format!("/?{LEAVE}"),
        Limited::new(Full::new(Bytes::from(BODY)), 1 << 20),
    )))
    .unwrap();
    assert_eq!(text(res), (StatusCode::OK, BODY.into()));
    let res = now(svc.call(post("/", Limited::new(Full::new(Bytes::from("x")), 8)))).unwrap();
    assert_eq!(text(res), (StatusCode::OK, "x".into()));
    assert_eq!(
        *seen.lock().unwrap(),
        [("rid-123".to_string(), true), (String::new(), false)]
    );
}

#[test]
fn a_limit_of_another_layer_answers_413() {
    let (seen, handler) = recorder();
    let mut svc = CallbackLayer::new(config())
        .on(handler)
        .layer(Echo::default());
    // No Content-Length, and a size hint the outer limit hides: only the stream tells.
    let res = now(svc.call(post(
        &format!("/?{LEAVE}"),
        Limited::new(Full::new(Bytes::from(BODY)), 16),
    )))
    .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (_, body) = text(res);
    assert!(body.contains("41301") && body.contains("FAIL"), "{body}");
    assert!(seen.lock().unwrap().is_empty());
    // The error as the source of another (as axum's `Body` wraps it) counts too.
    let wrapped: super::BoxError = Box::new(Wrapper(LengthLimitError::default_error()));
    assert_eq!(
        super::future::body_error(wrapped).kind(),
        RejectionKind::BodyTooLarge
    );
}

#[derive(Debug)]
struct Wrapper(super::BoxError);
impl std::fmt::Display for Wrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wrapped")
    }
}
impl std::error::Error for Wrapper {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

trait DefaultError {
    fn default_error() -> super::BoxError;
}
impl DefaultError for LengthLimitError {
    fn default_error() -> super::BoxError {
        // The only way to get one: a `Limited` body over its limit.
        let err = now(Limited::new(Full::new(Bytes::from("xx")), 1).collect()).unwrap_err();
        assert!(err.is::<LengthLimitError>());
        err
    }
}

#[test]
fn a_service_is_a_handler() {
    let seen = Arc::new(AtomicUsize::new(0));
    let service = {
        let seen = seen.clone();
        tower_fn(move |(event, meta): (MemberLeave, CallbackMeta)| {
            assert_eq!(meta.sdk_app_id, 1400000000);
            seen.fetch_add(event.members.len(), SeqCst);
            if event.room_id == "busy" {
                Err(HandlerError::unavailable("queue full"))
            } else {
                Ok(())
            }
        })
    };
    let mut svc = CallbackLayer::new(config())
        .on(ServiceHandler::new(service))
        .layer(Echo::default());
    let res = now(svc.call(post(&format!("/?{LEAVE}"), Full::new(Bytes::from(BODY))))).unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let busy = BODY.replace("rid-123", "busy");
    let res = now(svc.call(post(&format!("/?{LEAVE}"), Full::new(Bytes::from(busy))))).unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(seen.load(SeqCst), 2);
}

/// A `tower::Service` from a synchronous function, always ready.
fn tower_fn<F, Req, T>(f: F) -> TowerFn<F>
where
    F: FnMut(Req) -> T,
{
    TowerFn(f)
}

#[derive(Clone)]
struct TowerFn<F>(F);

impl<F, Req, T> Service<Req> for TowerFn<F>
where
    F: FnMut(Req) -> T,
    T: IntoResult,
{
    type Response = <T as IntoResult>::Ok;
    type Error = <T as IntoResult>::Err;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        ready((self.0)(req).into_result())
    }
}

/// A response, or a result of one.
trait IntoResult {
    type Ok;
    type Err;
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
}

impl<B> IntoResult for Response<B> {
    type Ok = Response<B>;
    type Err = Infallible;
    fn into_result(self) -> Result<Response<B>, Infallible> {
        Ok(self)
    }
}

impl IntoResult for Result<(), HandlerError> {
    type Ok = ();
    type Err = HandlerError;
    fn into_result(self) -> Self {
        self
    }
}
