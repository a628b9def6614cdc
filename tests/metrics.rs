//! The `metrics` feature: what an axum app with the layer records, read back from a recorder
//! (`metrics-util`'s `DebuggingRecorder`, installed for the test's thread: each test has its own), and
//! the receiver example's Prometheus endpoint (`ROOM_CALLBACK_METRICS_ADDR`), black-box.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::process::{Command as Process, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::{any, get};
use axum::Router;
use http::Request;
use http_body_util::BodyExt;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::http::request;
use support::process::{command, drain_text, exit_within, free_addr, Ready, Running};
use tencent_room_callback::metrics::{CALLBACKS, HANDLER_DURATION, REJECTIONS, REQUEST_DURATION};
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, Command, Config, HandlerError, MemberEnter, MemberLeave,
    RawCallback,
};
use tower::ServiceExt;

const APP: u64 = 1400000000;
const TOKEN: &str = "metrics-test-token";
/// How long the leave handler takes: its histogram must show it.
const LEAVE_TIME: Duration = Duration::from_millis(30);

/// The metrics of one snapshot: (name, its labels as `k=v` sorted and joined by `,`) -> value.
type Values = BTreeMap<(String, String), DebugValue>;

fn values(snapshotter: &Snapshotter) -> Values {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            ((key.name().to_owned(), labels.join(",")), value)
        })
        .collect()
}

fn counter(values: &Values, name: &str, labels: &str) -> Option<u64> {
    match values.get(&(name.to_owned(), labels.to_owned()))? {
        DebugValue::Counter(n) => Some(*n),
        other => panic!("{name}{{{labels}}} is not a counter: {other:?}"),
    }
}

fn samples(values: &Values, name: &str, labels: &str) -> Vec<f64> {
    match values.get(&(name.to_owned(), labels.to_owned())) {
        Some(DebugValue::Histogram(h)) => h.iter().map(|v| v.0).collect(),
        Some(other) => panic!("{name}{{{labels}}} is not a histogram: {other:?}"),
        None => Vec::new(),
    }
}

async fn on_leave(_: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> {
    tokio::time::sleep(LEAVE_TIME).await;
    Ok(())
}

async fn on_enter(_: MemberEnter, _: CallbackMeta) -> Result<(), HandlerError> {
    Err(HandlerError::msg("the database is down"))
}

async fn on_group(_: RawCallback) -> Result<Ack, HandlerError> {
    Ok(Ack::ok())
}

fn app() -> Router {
    let config = Config::new(APP).token(TOKEN).unwrap();
    Router::new()
        .route("/callback", any(|| async { StatusCode::NOT_FOUND }))
        .route("/health", get(|| async { "ok" }))
        .layer(
            CallbackLayer::new(config)
                .path("/callback")
                .on(on_leave)
                .on(on_enter)
                .on_command("Group.CallbackAfterSendMsg", on_group),
        )
}

async fn send(app: &Router, req: Request<Body>) -> StatusCode {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    res.into_body().collect().await.unwrap();
    status
}

fn signed(command: Command) -> CallbackRequest {
    CallbackRequest::sample(command).token(TOKEN)
}

#[test]
fn an_axum_app_records_callbacks_rejections_and_latencies() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // Every request is polled on this thread (a current-thread runtime, `oneshot`): this recorder sees
    // them all, and no other test's.
    let _recorder = metrics::set_default_local_recorder(&recorder);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = app();
    rt.block_on(async {
        // Handled OK.
        let ok = signed(Command::MemberLeave).build();
        assert_eq!(send(&app, ok).await, StatusCode::OK);
        // A bad signature: refused before anything is verified.
        let forged = CallbackRequest::sample(Command::MemberLeave)
            .sign("0".repeat(64))
            .build();
        assert_eq!(send(&app, forged).await, StatusCode::UNAUTHORIZED);
        // The handler fails.
        let failing = signed(Command::MemberEnter).build();
        assert_eq!(send(&app, failing).await, StatusCode::INTERNAL_SERVER_ERROR);
        // A verified leave whose body does not decode.
        let malformed = CallbackRequest::raw(Command::MemberLeave, "{\"RoomId\":")
            .token(TOKEN)
            .build();
        assert_eq!(send(&app, malformed).await, StatusCode::BAD_REQUEST);
        // A command taken by name.
        let group = CallbackRequest::raw(Command::MemberLeave, "{}")
            .callback_command("Group.CallbackAfterSendMsg")
            .token(TOKEN)
            .build();
        assert_eq!(send(&app, group).await, StatusCode::OK);
        // Fifty verified commands of made-up names, which no route takes: one series between them.
        for n in 0..50 {
            let made_up = CallbackRequest::raw(Command::MemberLeave, "{}")
                .callback_command(format!("Made.Up{n}"))
                .token(TOKEN)
                .build();
            assert_eq!(send(&app, made_up).await, StatusCode::NOT_FOUND);
        }
        // Not a callback: not counted.
        let health = Request::get("/health").body(Body::empty()).unwrap();
        assert_eq!(send(&app, health).await, StatusCode::OK);
    });

    let values = values(&snapshotter);
    let leave = "command=Room.CallbackAfterMemberLeave";
    let enter = "command=Room.CallbackAfterMemberEnter";
    let group = "command=Group.CallbackAfterSendMsg";
    let callbacks = [
        (format!("{leave},outcome=ok"), 1),
        (format!("{leave},outcome=rejected"), 1),
        ("command=unverified,outcome=rejected".to_owned(), 1),
        (format!("{enter},outcome=handler_error"), 1),
        (format!("{group},outcome=ok"), 1),
        ("command=other,outcome=verified".to_owned(), 50),
    ];
    for (labels, n) in &callbacks {
        assert_eq!(counter(&values, CALLBACKS, labels), Some(*n), "{labels}");
        // One end-to-end sample per request.
        assert_eq!(
            samples(&values, REQUEST_DURATION, labels).len(),
            *n as usize,
            "{REQUEST_DURATION}{{{labels}}}"
        );
    }
    for (reason, n) in [
        ("bad_signature", 1),
        ("handler_failed", 1),
        ("malformed_body", 1),
    ] {
        let labels = format!("reason={reason}");
        assert_eq!(counter(&values, REJECTIONS, &labels), Some(n), "{labels}");
    }
    // Nothing else: no series of a made-up name, none for the health check, no other reason.
    let mut expected: Vec<(String, String)> = callbacks
        .iter()
        .flat_map(|(labels, _)| {
            [CALLBACKS, REQUEST_DURATION].map(|name| (name.to_owned(), labels.clone()))
        })
        .collect();
    for reason in ["bad_signature", "handler_failed", "malformed_body"] {
        expected.push((REJECTIONS.to_owned(), format!("reason={reason}")));
    }
    for labels in [
        format!("{leave},outcome=ok"),
        format!("{enter},outcome=handler_error"),
        format!("{group},outcome=ok"),
    ] {
        expected.push((HANDLER_DURATION.to_owned(), labels));
    }
    expected.sort();
    assert_eq!(values.keys().cloned().collect::<Vec<_>>(), expected);

    // The handler's time is the handler's: at least its sleep, and within the request's own.
    let handler = samples(&values, HANDLER_DURATION, &format!("{leave},outcome=ok"));
    let request = samples(&values, REQUEST_DURATION, &format!("{leave},outcome=ok"));
    assert_eq!(handler.len(), 1);
    assert!(
        handler[0] >= LEAVE_TIME.as_secs_f64() && handler[0] < 10.0,
        "handler: {handler:?} s"
    );
    assert!(
        request[0] >= handler[0],
        "request {request:?} s, handler {handler:?} s"
    );
    // A refusal takes no handler's time.
    let refused = samples(
        &values,
        REQUEST_DURATION,
        "command=unverified,outcome=rejected",
    );
    assert!(refused[0] < LEAVE_TIME.as_secs_f64(), "{refused:?} s");
}

// ----------------------------------------------------------------------------------------------------
// The receiver example

/// The server example with the test's settings and `metrics` as `ROOM_CALLBACK_METRICS_ADDR`.
fn server(addr: SocketAddr, metrics: &str) -> Process {
    let mut cmd = command("server");
    cmd.env("ROOM_CALLBACK_ADDR", addr.to_string())
        .env("ROOM_CALLBACK_SDKAPPID", APP.to_string())
        .env("ROOM_CALLBACK_TOKEN", TOKEN)
        .env("ROOM_CALLBACK_METRICS_ADDR", metrics)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// The server example on free ports, once it listens for callbacks: the process and its metrics
/// address.
fn start_server() -> (Running, SocketAddr) {
    let mut metrics_addr = None;
    let running = Running::start("the server example", Ready::Line("listening"), |addr| {
        let metrics = *metrics_addr.insert(free_addr());
        server(addr, &metrics.to_string())
    });
    (running, metrics_addr.expect("an address given"))
}

/// The value of the sample `series` (name and labels as Prometheus writes them) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{series} {v}: {e}"))
        })
}

#[test]
fn the_receiver_serves_prometheus_metrics_on_its_own_address() {
    let (mut server, metrics) = start_server();
    let leave = CallbackRequest::sample(Command::MemberLeave).token(TOKEN);
    let (status, _, body) = request(server.addr, "POST", &leave.uri(), leave.body());
    assert_eq!(status, 200, "{body}\n{}", server.stop().1);
    let forged = CallbackRequest::sample(Command::MemberLeave).sign("0".repeat(64));
    let (status, _, _) = request(server.addr, "POST", &forged.uri(), forged.body());
    assert_eq!(status, 401);

    let (status, head, text) = request(metrics, "GET", "/metrics", b"");
    assert_eq!(status, 200, "{head}\n{text}\n{}", server.stop().1);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let ok = sample(
        &text,
        r#"tencent_room_callback_callbacks_total{command="Room.CallbackAfterMemberLeave",outcome="ok"}"#,
    );
    assert!(ok >= Some(1.0), "no OK leave counted:\n{text}");
    let bad = sample(
        &text,
        r#"tencent_room_callback_rejections_total{reason="bad_signature"}"#,
    );
    assert!(bad >= Some(1.0), "no bad signature counted:\n{text}");
    // The latencies are histograms, with the example's buckets, and described.
    let count = sample(
        &text,
        r#"tencent_room_callback_request_duration_seconds_count{command="Room.CallbackAfterMemberLeave",outcome="ok"}"#,
    );
    assert!(count >= Some(1.0), "no request duration:\n{text}");
    assert!(
        text.contains(
            r#"tencent_room_callback_handler_duration_seconds_bucket{command="Room.CallbackAfterMemberLeave",outcome="ok",le="0.005"}"#
        ),
        "no handler duration buckets:\n{text}"
    );
    assert!(
        text.contains("# TYPE tencent_room_callback_callbacks_total counter")
            && text.contains("# HELP tencent_room_callback_callbacks_total "),
        "{text}"
    );
    // Only /metrics there; and the callback address does not serve them.
    assert_eq!(request(metrics, "GET", "/other", b"").0, 404);
    let (status, _, body) = request(server.addr, "GET", "/metrics", b"");
    assert!(!body.contains("tencent_room_callback_"), "{status} {body}");
    server.stop();
}

#[test]
fn a_metrics_address_that_cannot_be_listened_on_stops_the_server() {
    // An address the test holds; not an address at all; a port out of range.
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().to_string();
    for metrics in [taken.as_str(), "not-an-address", "127.0.0.1:99999"] {
        let mut child = server(free_addr(), metrics)
            .spawn()
            .expect("the server example starts");
        let err = drain_text(child.stderr.take().expect("piped stderr"));
        let status = exit_within(&mut child, Duration::from_secs(60));
        let err = err.join().expect("stderr reader");
        let status = status.unwrap_or_else(|| panic!("{metrics}: the server did not stop:\n{err}"));
        assert_eq!(status.code(), Some(2), "{metrics}:\n{err}");
        assert!(
            err.contains(&format!(
                "server: ROOM_CALLBACK_METRICS_ADDR: cannot listen on {metrics}: "
            )),
            "{metrics}:\n{err}"
        );
        assert!(!err.contains("listening"), "{metrics}:\n{err}");
    }
    drop(holder);
}
