//! The `tracing` feature: exactly one event per intercepted request (every request carrying a
//! `CallbackCommand`, routed or not), carrying the command, the room, the outcome and (for a refusal)
//! the reason and a note for what the answer must not say, and never the token or the expected
//! signature.
//!
//! Two subscribers' worth of checking on one registry: the `fmt` output written into a shared buffer
//! (searched for secrets), and a small layer that records each event's fields (checked field by field).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tencent_room_callback::service::RequestBody;
use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
use tower::{service_fn, Layer, ServiceExt};
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};

const TOKEN: &str = "xxxxyyyy";
const OTHER_TOKEN: &str = "second-secret-token";
const TIME: u64 = 1669872112;
const SIGN: &str = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";
const CMD: &str = "Room.CallbackAfterMemberLeave";

/// The `fmt` output.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// One recorded event: its target, level and fields (values as the `Debug` or `Display` text).
#[derive(Debug, Clone)]
struct Recorded {
    target: String,
    level: tracing::Level,
    fields: BTreeMap<String, String>,
}

impl Recorded {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Recorded>>>);

impl Capture {
    /// The crate's events recorded since the last call.
    fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.0.lock().unwrap())
            .into_iter()
            .filter(|e| e.target == "tencent_room_callback")
            .collect()
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Recorded {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
        });
    }
}

/// A subscriber for this thread: the `fmt` output into a buffer, and the recorded events.
fn subscribe() -> (Buffer, Capture, tracing::subscriber::DefaultGuard) {
    let buffer = Buffer::default();
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(buffer.clone())
                .with_ansi(false),
        )
        .with(capture.clone())
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    let guard = tracing::subscriber::set_default(subscriber);
    (buffer, capture, guard)
}

fn config() -> Config {
    Config::new(1400000000)
        .token(TOKEN)
        .unwrap()
        .token(OTHER_TOKEN)
        .unwrap()
        .clock(|| UNIX_EPOCH + Duration::from_secs(TIME))
}

fn req(query: &str, body: &str) -> Request<Full<Bytes>> {
    Request::post(format!(
        "/cb?SdkAppid=1400000000&CallbackCommand={CMD}{query}"
    ))
    .body(Full::new(Bytes::from(body.to_owned())))
    .unwrap()
}

fn leave_in(room: &str) -> String {
    format!(r#"{{"RoomId":"{room}","MemberList_Account":["user1"],"EventTime":1670574414123}}"#)
}

/// The inner service: `Full<Bytes>` behind handler routes, `RequestBody<Full<Bytes>>` behind an
/// extension route.
async fn inner<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: fmt::Debug,
{
    let body = req.into_body().collect().await.unwrap().to_bytes();
    Ok(Response::new(Full::new(body)))
}

async fn on_leave(event: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> {
    match event.room_id.as_str() {
        "fail" => Err(HandlerError::msg("database unreachable")),
        _ => Ok(()),
    }
}

fn one(events: Vec<Recorded>, what: &str) -> Recorded {
    assert_eq!(
        events.len(),
        1,
        "{what}: exactly one event, got {events:#?}"
    );
    events.into_iter().next().unwrap()
}

#[tokio::test]
async fn one_event_per_intercepted_request_and_no_secret() {
    let (buffer, capture, _guard) = subscribe();

    let handler_svc = CallbackLayer::new(config())
        .verify_unrouted(true)
        .on(on_leave)
        .layer(service_fn(inner::<Full<Bytes>>));
    let forward_svc = CallbackLayer::new(config())
        .verify_unrouted(true)
        .extension::<MemberLeave>()
        .layer(service_fn(inner::<RequestBody<Full<Bytes>>>));
    let signed = format!("&Sign={SIGN}&RequestTime={TIME}");

    // Handled: OK.
    let res = handler_svc
        .clone()
        .oneshot(req(&signed, &leave_in("rid-ok")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let e = one(capture.take(), "handled");
    assert_eq!(e.field("command"), Some(CMD));
    assert_eq!(e.field("room"), Some("rid-ok"));
    assert_eq!(e.field("outcome"), Some("ok"));
    assert_eq!(e.level, tracing::Level::DEBUG);

    // Rejected: a wrong signature (the expected one is SIGN).
    let mut wrong = SIGN.to_owned();
    wrong.replace_range(0..1, "0");
    let res = handler_svc
        .clone()
        .oneshot(req(
            &format!("&Sign={wrong}&RequestTime={TIME}"),
            &leave_in("rid-bad"),
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let e = one(capture.take(), "bad signature");
    assert_eq!(e.field("command"), Some(CMD));
    assert_eq!(e.field("room"), Some(""), "refused before the body is read");
    assert_eq!(e.field("outcome"), Some("rejected"));
    assert_eq!(e.field("reason"), Some("Sign does not match"));
    assert_eq!(e.field("status"), Some("401"));
    assert_eq!(e.field("code"), Some("40104"));
    assert_eq!(
        e.field("note"),
        Some(""),
        "a note only when the answer must not say why"
    );
    assert_eq!(e.level, tracing::Level::WARN);

    // Rejected on the body: the room is not known either.
    let res = handler_svc
        .clone()
        .oneshot(req(&signed, r#"{"RoomId":"r"}"#))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let e = one(capture.take(), "malformed body");
    assert_eq!(e.field("outcome"), Some("rejected"));
    assert_eq!(e.field("code"), Some("40006"));
    assert!(
        e.field("reason").unwrap().contains("MemberList_Account"),
        "{e:?}"
    );

    // The handler fails: one event, with the handler's error for the operator.
    let res = handler_svc
        .clone()
        .oneshot(req(&signed, &leave_in("fail")))
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let e = one(capture.take(), "handler error");
    assert_eq!(e.field("room"), Some("fail"));
    assert_eq!(e.field("outcome"), Some("handler_error"));
    assert_eq!(e.field("reason"), Some("the handler failed"));
    assert_eq!(e.field("error"), Some("database unreachable"));

    // Forwarded in extensions: one event.
    let res = forward_svc
        .clone()
        .oneshot(req(&signed, &leave_in("rid-fwd")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let e = one(capture.take(), "forwarded");
    assert_eq!(e.field("command"), Some(CMD));
    assert_eq!(e.field("room"), Some("rid-fwd"));
    assert_eq!(e.field("outcome"), Some("forwarded"));

    // A command no route takes is intercepted too: verified, then passed on with one DEBUG event.
    let post = |uri: String| {
        Request::post(uri)
            .body(Full::new(Bytes::from_static(b"x")))
            .unwrap()
    };
    let enter = "Room.CallbackAfterMemberEnter";
    let res = handler_svc
        .clone()
        .oneshot(post(format!(
            "/other?SdkAppid=1400000000&CallbackCommand={enter}{signed}"
        )))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "x");
    let e = one(capture.take(), "verified");
    assert_eq!(e.field("command"), Some(enter));
    assert_eq!(e.field("room"), Some(""));
    assert_eq!(e.field("outcome"), Some("verified"));
    assert_eq!(e.level, tracing::Level::DEBUG);

    // ... or refused, with one event (here: no SdkAppid).
    let res = handler_svc
        .clone()
        .oneshot(post(format!("/other?CallbackCommand={enter}")))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let e = one(capture.take(), "unrouted, refused");
    assert_eq!(e.field("command"), Some(enter));
    assert_eq!(e.field("outcome"), Some("rejected"));
    assert_eq!(e.field("status"), Some("400"));
    assert_eq!(e.field("code"), Some("40002"));
    assert_eq!(e.field("note"), Some(""));
    assert_eq!(e.level, tracing::Level::WARN);

    // An app this receiver does not serve, signed with its token: answered as a bad signature; why, the
    // note says, in the trace only.
    let res = handler_svc
        .clone()
        .oneshot(post(format!(
            "/cb?SdkAppid=1400000009&CallbackCommand={CMD}{signed}"
        )))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let answer = res.into_body().collect().await.unwrap().to_bytes();
    assert!(
        !String::from_utf8_lossy(&answer).contains("1400000009"),
        "{answer:?}"
    );
    let e = one(capture.take(), "unknown app");
    assert_eq!(e.field("command"), Some(CMD));
    assert_eq!(e.field("outcome"), Some("rejected"));
    assert_eq!(e.field("reason"), Some("Sign does not match"));
    assert_eq!(e.field("status"), Some("401"));
    assert_eq!(e.field("code"), Some("40104"));
    assert_eq!(
        e.field("note"),
        Some("SdkAppid 1400000009 is not an app of this receiver")
    );

    // Not intercepted (no `CallbackCommand`, or an empty one): no event at all.
    for uri in [
        "/other?SdkAppid=1400000000&q=CallbackCommand",
        "/other?SdkAppid=1400000009&CallbackCommand=",
    ] {
        let res = handler_svc
            .clone()
            .oneshot(post(uri.to_owned()))
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{uri}");
        assert!(capture.take().is_empty(), "{uri}");
    }

    // Nothing secret anywhere in the output, which did record all of the above.
    let out = buffer.text();
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("tencent_room_callback"))
            .count(),
        8,
        "{out}"
    );
    for secret in [TOKEN, OTHER_TOKEN, SIGN] {
        assert!(!out.contains(secret), "{secret:?} leaked into:\n{out}");
    }
    assert!(
        out.contains("rid-ok") && out.contains("Sign does not match"),
        "{out}"
    );
    assert!(
        out.contains(r#"note="SdkAppid 1400000009 is not an app of this receiver""#),
        "{out}"
    );
}

/// Panics in the handler: a `&str` payload in its future, a `String` payload in its future, a panic
/// before it returns its future; and a payload that is no string at all.
async fn panicking(event: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> {
    match event.room_id.as_str() {
        "str" => panic!("boom in the handler"),
        "string" => panic!("boom in room {}", event.room_id),
        _ => std::panic::panic_any(42_u8),
    }
}

#[tokio::test]
async fn a_panicking_handler_is_one_event_with_its_message() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let in_future = CallbackLayer::new(Config::new(1400000000))
        .verify_unrouted(true)
        .on(panicking)
        .layer(service_fn(inner::<Full<Bytes>>));
    let before_future = CallbackLayer::new(Config::new(1400000000))
        .verify_unrouted(true)
        .on(
            |e: MemberLeave, _: CallbackMeta| -> std::future::Ready<Result<(), HandlerError>> {
                panic!("boom before the future, room {}", e.room_id)
            },
        )
        .layer(service_fn(inner::<Full<Bytes>>));

    for (room, message) in [
        ("str", "boom in the handler"),
        ("string", "boom in room string"),
        ("other", "a non-string payload"),
    ] {
        let res = in_future
            .clone()
            .oneshot(req("", &leave_in(room)))
            .await
            .unwrap();
        assert_eq!(res.status(), 500);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert!(!String::from_utf8_lossy(&body).contains("boom"), "{body:?}");
        let e = one(capture.take(), room);
        assert_eq!(e.field("command"), Some(CMD));
        assert_eq!(e.field("room"), Some(room));
        assert_eq!(e.field("outcome"), Some("handler_panic"));
        assert_eq!(e.field("reason"), Some("the handler panicked"));
        assert_eq!(e.field("panic"), Some(message));
    }

    let res = before_future
        .oneshot(req("", &leave_in("sync")))
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let e = one(capture.take(), "panic before the future");
    assert_eq!(e.field("outcome"), Some("handler_panic"));
    assert_eq!(e.field("panic"), Some("boom before the future, room sync"));
}

/// A refused TRTC event is one WARN like a one-URL refusal, its command the dialect (`TRTC.`: the
/// event is not read before it is verified), and the key nowhere in the output.
#[tokio::test]
async fn a_refused_trtc_event_is_one_warn_named_by_its_dialect() {
    const KEY: &str = "trtcKey0123456789";
    let (buffer, capture, _guard) = subscribe();
    let svc = CallbackLayer::new(Config::new(1400000000).trtc_key(KEY).unwrap())
        .trtc_path("/trtc")
        .layer(service_fn(inner::<Full<Bytes>>));
    let body = r#"{"EventGroupId":1,"EventType":104,"EventInfo":{"RoomId":1,"UserId":"u"}}"#;
    let trtc = |method: &str, sign: &str| {
        Request::builder()
            .method(method)
            .uri("/trtc")
            .header("SdkAppId", "1400000000")
            .header("Sign", sign)
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    let expected = tencent_room_callback::trtc::sign(KEY, body.as_bytes());
    let mut wrong = expected.clone();
    wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });

    for (what, req, status) in [
        ("a wrong Sign", trtc("POST", &wrong), 401),
        ("a GET", trtc("GET", &expected), 405),
    ] {
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), status, "{what}");
        let e = one(capture.take(), what);
        assert_eq!(e.level, tracing::Level::WARN, "{what}");
        assert_eq!(e.field("outcome"), Some("rejected"), "{what}");
        assert_eq!(e.field("command"), Some("TRTC."), "{what}");
    }
    let text = buffer.text();
    assert!(!text.contains(KEY) && !text.contains(&expected), "{text}");
}
