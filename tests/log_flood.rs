//! Logs a sender cannot inflate (feature `tracing`): a flood of refused requests is rate-limited, with
//! a summary event counting what was suppressed (so that every refused request is accounted for); every
//! logged field is length-capped, a 1 MiB `RoomId` included; successful callbacks are never limited.
//!
//! The `fmt` output is written into a counting in-memory buffer, as `tracing_events.rs` does, and a small
//! layer records each event's fields. The limiter is the process's, so the tests here take turns.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tencent_room_callback::testing::signature;
use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
use tower::{service_fn, Layer, Service, ServiceExt};
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};

const APP: u64 = 1400000000;
const TOKEN: &str = "t";
const CMD: &str = "Room.CallbackAfterMemberLeave";
const FLOOD: u64 = 50_000;
/// What 50,000 refused requests may add to the log.
const MAX_FLOOD_BYTES: usize = 100_000;

/// The limiter is shared by the process: one test at a time.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// The `fmt` output: kept, and counted.
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
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// One recorded event of the crate: its level and fields.
#[derive(Debug, Clone)]
struct Recorded {
    level: tracing::Level,
    message: String,
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
    fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.0.lock().unwrap())
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
        if event.metadata().target() != "tencent_room_callback" {
            return;
        }
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        self.0.lock().unwrap().push(Recorded {
            level: *event.metadata().level(),
            message,
            fields,
        });
    }
}

/// A thread-local subscriber at `INFO` (as a receiver runs), into a buffer and a capture.
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
        .with(tracing_subscriber::filter::LevelFilter::DEBUG);
    let guard = tracing::subscriber::set_default(subscriber);
    (buffer, capture, guard)
}

async fn inner(_: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"inner"))))
}

/// Fails or panics, with a long message, on request.
async fn on_leave(event: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> {
    match event.room_id.as_str() {
        "fail-long" => Err(HandlerError::msg("e".repeat(1 << 20))),
        "panic-long" => panic!("{}", "p".repeat(4 << 10)),
        _ => Ok(()),
    }
}

fn now() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

fn leave_in(room: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"RoomId":"{room}","MemberList_Account":["user1"],"EventTime":1670574414123}}"#
    ))
}

fn request(command: &str, sign: &str, time: &str, body: Bytes) -> Request<Full<Bytes>> {
    Request::post(format!(
        "/cb?SdkAppid={APP}&CallbackCommand={command}&RequestTime={time}&Sign={sign}"
    ))
    .body(Full::new(body))
    .unwrap()
}

fn valid(room: &str) -> Request<Full<Bytes>> {
    let time = now();
    request(CMD, &signature(TOKEN, &time), &time, leave_in(room))
}

fn bad_sign() -> Request<Full<Bytes>> {
    request(CMD, &"0".repeat(64), &now(), leave_in("rid"))
}

fn config() -> Config {
    Config::new(APP).token(TOKEN).unwrap()
}

/// The refusals logged and the suppressed ones the summaries count.
fn account(events: &[Recorded]) -> (u64, u64) {
    let mut logged = 0;
    let mut suppressed = 0;
    for e in events {
        match e.message.as_str() {
            "callback rejected" => logged += 1,
            "callback events suppressed" => {
                assert_eq!(e.level, tracing::Level::WARN, "{e:?}");
                assert_eq!(e.field("kind"), Some("rejected"), "{e:?}");
                suppressed += e.field("suppressed").unwrap().parse::<u64>().unwrap();
            }
            _ => {}
        }
    }
    (logged, suppressed)
}

/// Waits for room in the limiter (10 a second), then sends a valid callback: its success reports what
/// is still suppressed.
async fn flush<S, B>(svc: &mut S)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: fmt::Debug,
{
    tokio::time::sleep(Duration::from_millis(250)).await;
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(valid("rid-flush"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn fifty_thousand_bad_signatures_add_at_most_100_kb() {
    let _serial = serial().await;
    let (buffer, capture, _guard) = subscribe();
    let mut svc = CallbackLayer::new(config())
        .verify_unrouted(true)
        .on(on_leave)
        .layer(service_fn(inner));

    let start = Instant::now();
    for _ in 0..FLOOD {
        let res = svc.ready().await.unwrap().call(bad_sign()).await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let elapsed = start.elapsed();
    let flood_bytes = buffer.len();
    let events = capture.take();
    let (logged, reported) = account(&events);
    eprintln!(
        "{FLOOD} bad-Sign requests in {elapsed:?}: {flood_bytes} bytes of log, {logged} refusals \
         logged, {reported} reported suppressed so far"
    );
    assert!(
        flood_bytes <= MAX_FLOOD_BYTES,
        "{flood_bytes} bytes:\n{}",
        buffer.text()
    );
    // At most the burst, and 10 a second after it (and one for the clock's step).
    assert!(logged >= 1, "{events:#?}");
    assert!(
        logged <= 50 + 10 * (elapsed.as_secs() + 1),
        "{logged} in {elapsed:?}"
    );

    // What is still suppressed is reported on the first success once there is room: every refused
    // request is either logged or counted.
    flush(&mut svc).await;
    let after = capture.take();
    let (more_logged, rest) = account(&after);
    assert_eq!(more_logged, 0, "{after:#?}");
    assert!(rest > 0, "{after:#?}");
    assert_eq!(logged + reported + rest, FLOOD, "{events:#?}\n{after:#?}");
    assert_eq!(
        after.last().unwrap().field("outcome"),
        Some("ok"),
        "the summary, then the success: {after:#?}"
    );
    assert!(buffer.len() <= MAX_FLOOD_BYTES, "{}", buffer.len());

    // The summary line, as an operator reads it.
    let text = buffer.text();
    let summary = text
        .lines()
        .find(|l| l.contains("callback events suppressed"))
        .unwrap();
    assert!(
        summary.contains(" WARN ")
            && summary.contains("tencent_room_callback")
            && summary.contains("kind=\"rejected\"")
            && summary.contains("suppressed="),
        "{summary}"
    );
}

#[tokio::test]
async fn every_field_is_capped() {
    let _serial = serial().await;
    let (buffer, capture, _guard) = subscribe();
    let svc = CallbackLayer::new(config().body_limit(2 << 20))
        .verify_unrouted(true)
        .on(on_leave)
        .layer(service_fn(inner));

    // A valid callback whose RoomId is 1 MiB: handled, logged on one short line.
    let room = "r".repeat(1 << 20);
    let res = svc.clone().oneshot(valid(&room)).await.unwrap();
    assert_eq!(res.status(), 200);
    let events = capture.take();
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.field("outcome"), Some("ok"));
    assert_eq!(e.field("room"), Some(format!("{}…", &room[..128]).as_str()));
    let text = buffer.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.len() < 2_000, "a line of {} bytes", text.len());

    // A handler error of 1 MiB, a panic message of 4 KiB: cut at 256 bytes.
    for (room, field, outcome) in [
        ("fail-long", "error", "handler_error"),
        ("panic-long", "panic", "handler_panic"),
    ] {
        let before = buffer.len();
        let res = svc.clone().oneshot(valid(room)).await.unwrap();
        assert_eq!(res.status(), 500);
        let events = capture.take();
        assert_eq!(events.len(), 1, "{events:#?}");
        let e = &events[0];
        assert_eq!(e.field("outcome"), Some(outcome));
        let value = e.field(field).unwrap();
        assert_eq!(value.len(), 256 + "…".len(), "{value}");
        assert!(value.ends_with('…'), "{value}");
        let line = buffer.len() - before;
        assert!(line < 2_000, "{room}: a line of {line} bytes");
    }

    // A command name of 60 KB, refused: cut at 128 bytes.
    let long = "Room.".to_owned() + &"X".repeat(60_000);
    let before = buffer.len();
    let time = now();
    let res = svc
        .clone()
        .oneshot(request(&long, "0", &time, leave_in("r")))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let events = capture.take();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(
        events[0].field("command"),
        Some(format!("{}…", &long[..128]).as_str())
    );
    let line = buffer.len() - before;
    assert!(line < 2_000, "a line of {line} bytes");
}

#[tokio::test]
async fn successful_callbacks_are_never_limited() {
    let _serial = serial().await;
    let (buffer, capture, _guard) = subscribe();
    let mut svc = CallbackLayer::new(config())
        .verify_unrouted(true)
        .on(on_leave)
        .layer(service_fn(inner));

    // Refusals first, enough to empty their bucket...
    for _ in 0..200 {
        let res = svc.ready().await.unwrap().call(bad_sign()).await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let refusals = capture.take();
    // ... then 100 valid callbacks in a row: each has its event (at DEBUG, as tower-http logs a request
    // that went well).
    for i in 0..100 {
        let res = svc
            .ready()
            .await
            .unwrap()
            .call(valid(&format!("rid-{i}")))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let events = capture.take();
    let handled: Vec<_> = events
        .iter()
        .filter(|e| e.message == "callback handled")
        .collect();
    assert_eq!(handled.len(), 100, "{events:#?}");
    for (i, e) in handled.iter().enumerate() {
        assert_eq!(e.level, tracing::Level::DEBUG);
        assert_eq!(e.field("outcome"), Some("ok"));
        assert_eq!(e.field("room"), Some(format!("rid-{i}").as_str()));
    }

    // And the refusals are accounted for, once there is room for their summary.
    flush(&mut svc).await;
    let (logged, reported) = account(&refusals);
    let (_, rest) = account(&events);
    let (_, last) = account(&capture.take());
    assert_eq!(logged + reported + rest + last, 200);
    assert!(buffer.text().lines().count() < 200, "{}", buffer.text());
}
