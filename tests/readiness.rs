//! Readiness and errors: the instance of the inner service that was readied with `poll_ready` is the one
//! called (for pass-through, and for events forwarded in extensions after the body was collected, where
//! the service clones itself and `mem::replace`s the readied instance into the future); `poll_ready` is
//! forwarded as it is (`Pending` included); the inner service's errors come out unchanged as the layer's
//! errors, while every rejection is a response.

use std::future::poll_fn;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tencent_room_callback::service::WithExtensions;
use tencent_room_callback::service::{Callback, RequestBody};
use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
use tower::{Layer, Service, ServiceExt};

const APP: u64 = 1400000000;
const LEAVE: &str = "/cb?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave";
const BODY: &str =
    r#"{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123}"#;

type Req = Request<Full<Bytes>>;
/// The body the inner service receives behind an extension route.
type Forwarded = RequestBody<Full<Bytes>>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct ProbeError(&'static str);

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ProbeError {}

/// Whether `poll_ready` may answer: closed gates answer `Pending` and keep the waker.
#[derive(Default)]
struct Gate {
    closed: bool,
    waker: Option<Waker>,
}

/// Shared by all clones of a [`Probe`].
#[derive(Default)]
struct Shared {
    next_id: AtomicUsize,
    log: Mutex<Vec<String>>,
    gate: Mutex<Gate>,
    ready_error: Mutex<Option<ProbeError>>,
    call_error: Mutex<Option<ProbeError>>,
}

/// An inner service whose clones each carry an id and a `ready` flag: set by `poll_ready`, taken by
/// `call`. Every answer says which instance answered and whether it had been readied. It takes
/// requests with body `B`: `Full<Bytes>` behind handler routes, [`Forwarded`] behind an extension
/// route.
struct Probe<B> {
    id: usize,
    ready: bool,
    shared: Arc<Shared>,
    _body: PhantomData<fn(B)>,
}

impl<B> Probe<B> {
    fn new() -> (Probe<B>, Arc<Shared>) {
        let shared = Arc::new(Shared::default());
        let id = shared.next_id.fetch_add(1, SeqCst);
        (
            Probe {
                id,
                ready: false,
                shared: shared.clone(),
                _body: PhantomData,
            },
            shared,
        )
    }
}

impl<B> Clone for Probe<B> {
    fn clone(&self) -> Self {
        let id = self.shared.next_id.fetch_add(1, SeqCst);
        self.shared
            .log
            .lock()
            .unwrap()
            .push(format!("clone {} -> {id}", self.id));
        // A clone is a new instance: it has reserved nothing yet.
        Probe {
            id,
            ready: false,
            shared: self.shared.clone(),
            _body: PhantomData,
        }
    }
}

impl<B> Service<Request<B>> for Probe<B> {
    type Response = Response<Full<Bytes>>;
    type Error = ProbeError;
    type Future = std::future::Ready<Result<Self::Response, ProbeError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProbeError>> {
        let mut gate = self.shared.gate.lock().unwrap();
        if gate.closed {
            gate.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if let Some(e) = self.shared.ready_error.lock().unwrap().clone() {
            return Poll::Ready(Err(e));
        }
        self.shared
            .log
            .lock()
            .unwrap()
            .push(format!("ready {}", self.id));
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let was_ready = std::mem::replace(&mut self.ready, false);
        self.shared
            .log
            .lock()
            .unwrap()
            .push(format!("call {} ready={was_ready}", self.id));
        if let Some(e) = self.shared.call_error.lock().unwrap().clone() {
            return std::future::ready(Err(e));
        }
        let room = req
            .extensions()
            .get::<MemberLeave>()
            .map(|e| e.room_id.clone());
        let meta = req.extensions().get::<CallbackMeta>().is_some();
        let res = Response::builder()
            .header("x-instance", self.id.to_string())
            .header("x-ready", was_ready.to_string())
            .header("x-room", room.unwrap_or_default())
            .header("x-meta", meta.to_string())
            .body(Full::new(Bytes::from_static(b"inner")))
            .unwrap();
        std::future::ready(Ok(res))
    }
}

fn post(uri: &str, body: &'static str) -> Req {
    Request::post(uri)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// `(x-instance, x-ready)` of an answer from the probe.
fn answered_by<B>(res: &Response<B>) -> (usize, bool) {
    let h = |name: &str| res.headers()[name].to_str().unwrap().to_owned();
    (h("x-instance").parse().unwrap(), h("x-ready") == "true")
}

fn log(shared: &Shared) -> Vec<String> {
    std::mem::take(&mut *shared.log.lock().unwrap())
}

fn forwarding(probe: Probe<Forwarded>) -> Callback<Probe<Forwarded>, WithExtensions> {
    CallbackLayer::new(Config::new(APP))
        .verify_unrouted(true)
        .extension::<MemberLeave>()
        .layer(probe)
}

/// The probe notices a call on an instance that was not readied: the other tests can fail.
#[tokio::test]
async fn the_probe_catches_an_unreadied_call() {
    let (probe, shared) = Probe::new();
    let mut svc = forwarding(probe);
    let mut clone = svc.clone();
    svc.ready().await.unwrap();
    let res = clone.call(post("/other", "x")).await.unwrap();
    assert_eq!(answered_by(&res), (1, false));
    assert_eq!(
        log(&shared),
        ["clone 0 -> 1", "ready 0", "call 1 ready=false"]
    );
}

#[tokio::test]
async fn pass_through_calls_the_readied_instance_without_cloning() {
    let (probe, shared) = Probe::new();
    let mut svc = forwarding(probe);
    // Not callbacks, and a verified callback no route takes (passed on with its metadata, its body not
    // read): each calls the readied instance itself.
    for (uri, meta) in [
        ("/other", false),
        (
            "/cb?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberEnter",
            true,
        ),
        ("/cb?x=1", false),
        ("/cb?SdkAppid=1400000000&CallbackCommand=", false),
    ] {
        let res = svc
            .ready()
            .await
            .unwrap()
            .call(post(uri, "x"))
            .await
            .unwrap();
        assert_eq!(answered_by(&res), (0, true), "{uri}");
        assert_eq!(res.headers()["x-meta"], meta.to_string(), "{uri}");
    }
    assert_eq!(
        log(&shared),
        [
            "ready 0",
            "call 0 ready=true",
            "ready 0",
            "call 0 ready=true",
            "ready 0",
            "call 0 ready=true",
            "ready 0",
            "call 0 ready=true"
        ]
    );
    // An unrouted command that fails verification (no SdkAppid) is refused from its head: the readied
    // instance is neither cloned nor called.
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(post(
            "/cb?CallbackCommand=Room.CallbackAfterMemberEnter",
            "x",
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(log(&shared), ["ready 0"]);
}

#[tokio::test]
async fn a_forwarded_event_goes_to_the_readied_instance() {
    let (probe, shared) = Probe::new();
    let mut svc = forwarding(probe);

    let res = svc
        .ready()
        .await
        .unwrap()
        .call(post(LEAVE, BODY))
        .await
        .unwrap();
    assert_eq!(answered_by(&res), (0, true));
    assert_eq!(res.headers()["x-room"], "rid-123");
    assert_eq!(res.headers()["x-meta"], "true");
    // The readied instance moved into the future; a fresh clone took its place in the service.
    assert_eq!(
        log(&shared),
        ["ready 0", "clone 0 -> 1", "call 0 ready=true"]
    );

    // The next call readies and uses that clone.
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(post(LEAVE, BODY))
        .await
        .unwrap();
    assert_eq!(answered_by(&res), (1, true));
    assert_eq!(
        log(&shared),
        ["ready 1", "clone 1 -> 2", "call 1 ready=true"]
    );
}

#[tokio::test]
async fn interleaved_forwarded_calls_each_use_their_own_readied_instance() {
    let (probe, shared) = Probe::new();
    let mut svc = forwarding(probe);
    // Two calls in flight before either body is collected and either inner call is made.
    let first = svc.ready().await.unwrap().call(post(LEAVE, BODY));
    let second = svc.ready().await.unwrap().call(post(LEAVE, BODY));
    // A pass-through in between uses the instance now in the service, readied again.
    let third = svc.ready().await.unwrap().call(post("/other", "x"));
    let (b, c, a) = (
        second.await.unwrap(),
        third.await.unwrap(),
        first.await.unwrap(),
    );
    assert_eq!(answered_by(&a), (0, true));
    assert_eq!(answered_by(&b), (1, true));
    assert_eq!(answered_by(&c), (2, true));
    // Each call used the instance readied for it, never one that was not ready.
    // (The pass-through calls its instance at once; the events, as their futures are awaited.)
    assert_eq!(
        log(&shared),
        [
            "ready 0",
            "clone 0 -> 1",
            "ready 1",
            "clone 1 -> 2",
            "ready 2",
            "call 2 ready=true",
            "call 1 ready=true",
            "call 0 ready=true"
        ]
    );
}

#[tokio::test]
async fn handler_mode_never_touches_the_inner_service_for_its_command() {
    // Handler routes only: the inner service gets the request body as it came.
    let (probe, shared) = Probe::<Full<Bytes>>::new();
    let handled = Arc::new(AtomicUsize::new(0));
    let h = handled.clone();
    let mut svc = CallbackLayer::new(Config::new(APP))
        .verify_unrouted(true)
        .on(move |_: MemberLeave, _: CallbackMeta| {
            h.fetch_add(1, SeqCst);
            async { Ok::<(), HandlerError>(()) }
        })
        .layer(probe);
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(post(LEAVE, BODY))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(handled.load(SeqCst), 1);
    // Readied (poll_ready is forwarded), never called: the readied instance is given back (dropped,
    // with whatever it reserved) and a fresh clone takes its place.
    assert_eq!(log(&shared), ["ready 0", "clone 0 -> 1"]);
    // A pass-through after it is answered by the fresh instance, readied for it.
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(post("/other", "x"))
        .await
        .unwrap();
    assert_eq!(answered_by(&res), (1, true));
    assert_eq!(log(&shared), ["ready 1", "call 1 ready=true"]);
}

#[tokio::test]
async fn a_rejection_does_not_call_the_inner_service() {
    let (probe, shared) = Probe::new();
    let mut svc = forwarding(probe);
    // Refused from the head: no clone, no call.
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(post(
            "/cb?SdkAppid=1&CallbackCommand=Room.CallbackAfterMemberLeave",
            BODY,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(log(&shared), ["ready 0"]);
    // Refused on the body: the readied instance was set aside for the event, then dropped uncalled.
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(post(LEAVE, "{}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(log(&shared), ["ready 0", "clone 0 -> 1"]);
    // The service still works.
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(post(LEAVE, BODY))
        .await
        .unwrap();
    assert!(answered_by(&res).1);
}

#[tokio::test]
async fn poll_ready_is_forwarded_pending_included() {
    let (probe, shared) = Probe::new();
    let mut svc = forwarding(probe);
    shared.gate.lock().unwrap().closed = true;

    let first = poll_fn(|cx| Poll::Ready(svc.poll_ready(cx))).await;
    assert!(
        first.is_pending(),
        "the layer must not be ready while its inner service is not"
    );
    assert!(
        shared.gate.lock().unwrap().waker.is_some(),
        "the task's context reached the inner service"
    );

    // Opening the gate and waking the stored waker makes the layer ready.
    let task = tokio::spawn(async move {
        svc.ready().await.unwrap();
        svc.call(post(LEAVE, BODY)).await.unwrap()
    });
    tokio::task::yield_now().await;
    let waker = {
        let mut gate = shared.gate.lock().unwrap();
        gate.closed = false;
        gate.waker.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
    // A bound against hanging (a lost wake-up), not a timing assertion.
    let res = tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("the layer became ready and answered within 10 s")
        .unwrap();
    assert_eq!(answered_by(&res), (0, true));
}

#[tokio::test]
async fn inner_errors_are_the_layers_errors() {
    fn error_is_inner<S: Service<Req, Error = ProbeError>>(_: &S) {}

    let (probe, shared) = Probe::new();
    let mut svc = forwarding(probe);
    error_is_inner(&svc);

    // poll_ready's error, unchanged.
    *shared.ready_error.lock().unwrap() = Some(ProbeError("overloaded"));
    let e = poll_fn(|cx| svc.poll_ready(cx)).await.unwrap_err();
    assert_eq!(e, ProbeError("overloaded"));
    *shared.ready_error.lock().unwrap() = None;

    // call's error, unchanged, for a pass-through and for a forwarded event.
    *shared.call_error.lock().unwrap() = Some(ProbeError("inner failed"));
    let e = svc
        .ready()
        .await
        .unwrap()
        .call(post("/other", "x"))
        .await
        .unwrap_err();
    assert_eq!(e, ProbeError("inner failed"));
    let e = svc
        .ready()
        .await
        .unwrap()
        .call(post(LEAVE, BODY))
        .await
        .unwrap_err();
    assert_eq!(e, ProbeError("inner failed"));

    // A rejection is a response, never an error, even with a failing inner service.
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(Request::get(LEAVE).body(Full::new(Bytes::new())).unwrap())
        .await
        .expect("a rejection is an Ok response");
    assert_eq!(res.status(), 405);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(br#"{"ActionStatus":"FAIL""#), "{body:?}");
}
