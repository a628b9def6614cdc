//! Heap allocations per request, counted by a global allocator.
//!
//! A request the layer passes through (one without a `CallbackCommand`) must not allocate at all; one
//! with a command no route takes is verified, not passed through, and is checked for that instead. The
//! count for an intercepted callback is printed (`cargo test --test allocations -- --nocapture`) next
//! to the floor's, a bare `service_fn` that collects the body and decodes the same struct. Counts are
//! taken on the test's own thread (a current-thread runtime), from the call to the drained answer;
//! building the request is not counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::hint::black_box;
use std::pin::pin;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use tencent_room_callback::testing::signature;
use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
use tower::{service_fn, Layer, Service, ServiceExt};

thread_local! {
    // Const-initialised, no destructor: reading it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting allocations (and reallocations) made by the current thread.
struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counter is a
// thread-local `Cell`, which neither allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

fn bump() {
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const APP: u64 = 1400000000;
const QUERY: &str = "SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS";
const SAMPLE: &str = r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}"#;

type Req = Request<Full<Bytes>>;

fn request(method: Method, uri: &str, body: &'static str) -> Req {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(HOST, "127.0.0.1:3000")
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

async fn on_leave(event: MemberLeave, _meta: CallbackMeta) -> Result<(), HandlerError> {
    black_box(&event);
    Ok(())
}

async fn app_route(_req: Req) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"app"))))
}

async fn floor(req: Req) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req.into_body().collect().await?.to_bytes();
    let event: MemberLeave = serde_json::from_slice(&body).expect("the sample decodes");
    black_box(&event);
    let mut res = Response::new(Full::new(Bytes::from_static(Ack::OK_BODY)));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(res)
}

/// Allocations made by one request through `svc`, from the call to the drained answer.
fn count<S, B>(svc: &mut S, req: Req, status: StatusCode) -> u64
where
    S: Service<Req, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let before = allocations();
        let res = svc.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(res.status(), status);
        let mut body = pin!(res.into_body());
        while let Some(frame) = body.frame().await {
            black_box(frame.ok());
        }
        allocations() - before
    })
}

/// The least of a few runs: the first request may set up lazily-initialised state.
fn least<S, B>(svc: &mut S, make: impl Fn() -> Req, status: StatusCode) -> u64
where
    S: Service<Req, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body,
{
    (0..3).map(|_| count(svc, make(), status)).min().unwrap()
}

#[test]
fn passed_through_requests_allocate_nothing() {
    let mut svc = CallbackLayer::new(Config::new(APP))
        .verify_unrouted(true)
        .on(on_leave)
        .layer(service_fn(app_route));
    let mut bare = service_fn(app_route);
    // Requests without a `CallbackCommand` (or with an empty one): passed through untouched.
    for uri in [
        "/health",
        "/items?page=2&sort=name",
        // Repeated parameters that differ only in their encoding (or not at all), names in any case:
        // still no allocation on the way through.
        "/search?q=a.b&SDKAPPID=1%2e0&sdkappid=2.0&ClientIP=%3A%3A1&clientip=x+y",
        "/search?sign=a+b.c&sign=a%20b%2Ec&Sign=a+b.c&RequestTime=%31&requesttime=1",
        // Names that only look like `CallbackCommand`, percent-encoded or not, and an empty one.
        "/callback?SdkAppid=1400000000&CallbackCommandX=Room%2ECallbackAfterMemberEnter&Callback%43ommand%58=x&%43allback=y",
        "/callback?SdkAppid=1400000000&CallbackCommand=&callback%43ommand=&contenttype=json",
    ] {
        let make = || request(Method::GET, uri, "");
        assert_eq!(
            least(&mut bare, make, StatusCode::OK),
            0,
            "{uri}: the bare app"
        );
        let n = least(&mut svc, make, StatusCode::OK);
        println!("pass-through {uri}: {n} allocations");
        assert_eq!(n, 0, "{uri}: a pass-through request allocated");
    }
}

/// An inner service that reports whether the layer put a verified `CallbackMeta` in the request (and
/// for which command and app), and the body it received.
async fn meta_route(req: Req) -> Result<Response<Full<Bytes>>, Infallible> {
    let meta = req
        .extensions()
        .get::<CallbackMeta>()
        .map(|m| format!("{} {}", m.command.as_str(), m.sdk_app_id));
    let body = req.into_body().collect().await?.to_bytes();
    let text = format!("meta={meta:?} body={}", String::from_utf8_lossy(&body));
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// Requests whose `CallbackCommand` no route takes are not passed through blindly any more: they take
/// the verified path (refused by the layer, or passed on with their verified metadata), so their
/// allocations are not counted here.
#[test]
fn unrouted_commands_take_the_verified_path() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let svc = CallbackLayer::new(Config::new(APP))
        .verify_unrouted(true)
        .on(on_leave)
        .layer(service_fn(meta_route));
    let send = |method: Method, uri: &str, body: &'static str| {
        let res = rt
            .block_on(svc.clone().oneshot(request(method, uri, body)))
            .unwrap();
        let status = res.status();
        let body = rt.block_on(res.into_body().collect()).unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let fail = |code: u32| format!(r#""ErrorCode":{code}}}"#);
    // (the URI, the answer to a GET, the answer to a POST)
    let cases = [
        (
            "/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberEnter",
            (StatusCode::METHOD_NOT_ALLOWED, fail(40501)),
            (
                StatusCode::OK,
                r#"meta=Some("Room.CallbackAfterMemberEnter 1400000000") body=not json"#.to_owned(),
            ),
        ),
        (
            // Encoded command, repeated parameters, but no SdkAppid.
            "/search?CallbackCommand=Room%2ECallbackAfterMemberEnter&sign=a+b.c&sign=a%20b%2Ec",
            (StatusCode::METHOD_NOT_ALLOWED, fail(40501)),
            (StatusCode::BAD_REQUEST, fail(40002)),
        ),
    ];
    for (uri, get, post) in cases {
        let (status, body) = send(Method::GET, uri, "");
        assert_eq!(status, get.0, "GET {uri}: {body}");
        assert!(body.ends_with(&get.1), "GET {uri}: {body}");
        let (status, body) = send(Method::POST, uri, "not json");
        assert_eq!(status, post.0, "POST {uri}: {body}");
        if status == StatusCode::OK {
            assert_eq!(body, post.1, "POST {uri}");
        } else {
            assert!(body.ends_with(&post.1), "POST {uri}: {body}");
        }
    }
}

#[test]
fn intercepted_requests_allocate_what_the_event_needs() {
    let uri = format!("/callback?{QUERY}");
    let make = || request(Method::POST, &uri, SAMPLE);

    let mut layer = CallbackLayer::new(Config::new(APP))
        .verify_unrouted(true)
        .on(on_leave)
        .layer(service_fn(app_route));
    let intercepted = least(&mut layer, make, StatusCode::OK);

    let mut bare = service_fn(floor);
    let floor = least(&mut bare, make, StatusCode::OK);

    let mut signed = CallbackLayer::new(Config::new(APP).token("bench-callback-token").unwrap())
        .verify_unrouted(true)
        .on(on_leave)
        .layer(service_fn(app_route));
    let make_signed = || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let sign = signature("bench-callback-token", &now);
        let uri = format!("/callback?{QUERY}&RequestTime={now}&Sign={sign}");
        request(Method::POST, &uri, SAMPLE)
    };
    let with_token = least(&mut signed, make_signed, StatusCode::OK);

    // Decoding the sample into `MemberLeave` alone (its strings and its member list).
    let before = allocations();
    black_box(serde_json::from_slice::<MemberLeave>(SAMPLE.as_bytes()).unwrap());
    let decode = allocations() - before;

    println!(
        "intercepted leave sample: layer {intercepted}, layer with a token {with_token}, \
         floor {floor}, decoding alone {decode} allocations"
    );
    // The counts are deterministic (one thread, the least of three runs): an intercepted callback makes
    // as many allocations as the floor plus one, the box of its handler's future (the routes are one
    // table of type-erased handlers, so that the layer's type does not grow with each route); the
    // event's own strings are among them.
    assert!(
        intercepted <= floor + 1,
        "the layer ({intercepted}) allocates more than the floor ({floor}) and one box"
    );
    assert_eq!(
        with_token, intercepted,
        "checking the signature allocated (a token: {with_token}, none: {intercepted})"
    );
    assert!(
        decode > 0 && decode <= intercepted,
        "decoding alone ({decode}) against the layer ({intercepted})"
    );
}
