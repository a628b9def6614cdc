//! Nothing lost under load: 100,000 distinct signed `MemberLeave` callbacks over loopback, from 256
//! concurrent keep-alive connections (in-process hyper clients), to a real axum server with the layer
//! in handler mode. Every one must be answered with the exact OK acknowledgment and reach the handler
//! exactly once; the process's resident memory must stay flat (growth bounded).
//!
//! Ignored by default (it is a soak, not a unit test). Run it in release mode:
//!
//! ```text
//! cargo test --release --test load -- --ignored --nocapture
//! ```
//!
//! `LOAD_EVENTS` and `LOAD_CONNECTIONS` override the 100,000 events and 256 connections.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::routing::any;
use axum::Router;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tencent_room_callback::testing::signature;
use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};

const APP: u64 = 1400000000;
const TOKEN: &str = "load-test-token";
/// Growth of resident memory allowed between before (no connection yet) and after, in KiB.
const RSS_GROWTH_LIMIT_KIB: u64 = 64 * 1024;
/// Growth allowed from the 10% mark (every connection open, buffers warm) to the end, in KiB: a leak
/// of 200 bytes per request would exceed it.
const RSS_STEADY_GROWTH_LIMIT_KIB: u64 = 16 * 1024;
/// A bound on any one step of a client (connect, send, read the answer) against hanging: a failure,
/// not a timing assertion.
const STEP_WITHIN: Duration = Duration::from_secs(30);
/// A bound on the whole run, likewise.
const RUN_WITHIN: Duration = Duration::from_secs(30 * 60);

/// `fut`, or a panic naming `what` if it takes longer than `within`.
async fn bounded<F: std::future::Future>(within: Duration, what: &str, fut: F) -> F::Output {
    tokio::time::timeout(within, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {within:?}"))
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident set size of this process, in KiB (`VmRSS` of `/proc/self/status`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// What the handler saw: each event's `EventTime` (which is also encoded in its room ID), once.
struct Delivered {
    times: Mutex<HashSet<u64>>,
    duplicates: AtomicUsize,
    mismatched: AtomicUsize,
}

async fn serve(delivered: Arc<Delivered>) -> SocketAddr {
    let d = delivered;
    let layer = CallbackLayer::new(Config::new(APP).token(TOKEN).unwrap()).on(
        move |e: MemberLeave, _: CallbackMeta| {
            let t = e.event_time.as_millis();
            if e.room_id != format!("room-{t}") || e.members.len() != 1 {
                d.mismatched.fetch_add(1, SeqCst);
            }
            if !d.times.lock().unwrap().insert(t) {
                d.duplicates.fetch_add(1, SeqCst);
            }
            std::future::ready(Ok::<(), HandlerError>(()))
        },
    );
    let app = Router::new()
        .route("/cb", any(|| async { "not a callback" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn callback(addr: SocketAddr, i: u64) -> Request<Full<Bytes>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let sign = signature(TOKEN, &now);
    let body = format!(
        r#"{{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user{i}","RoomId":"room-{i}","MemberCount":{},"Type":"Leave","MemberList_Account":["user{i}"],"Reason":"load","EventTime":{i}}}"#,
        i % 1000
    );
    Request::post(format!(
        "http://{addr}/cb?SdkAppid={APP}&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=127.0.0.1&OptPlatform=Web&RequestTime={now}&Sign={sign}"
    ))
    .header(http::header::HOST, addr.to_string())
    .header(http::header::CONTENT_TYPE, "application/json")
    .body(Full::new(Bytes::from(body)))
    .unwrap()
}

#[test]
#[ignore = "a soak of 100,000 requests: run with --release -- --ignored"]
fn hundred_thousand_distinct_events_each_acknowledged_and_delivered_once() {
    let events = env_or("LOAD_EVENTS", 100_000) as u64;
    let connections = env_or("LOAD_CONNECTIONS", 256) as u64;
    assert!(connections >= 1 && events >= connections);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let delivered = Arc::new(Delivered {
            times: Mutex::new(HashSet::with_capacity(events as usize)),
            duplicates: AtomicUsize::new(0),
            mismatched: AtomicUsize::new(0),
        });
        let addr = serve(delivered.clone()).await;

        let acked = Arc::new(AtomicU64::new(0));
        let rss_warm = Arc::new(AtomicU64::new(0));
        let rss_mid = Arc::new(AtomicU64::new(0));
        let rss_before = rss_kib();
        let started = Instant::now();

        let mut tasks = Vec::new();
        for c in 0..connections {
            let (acked, rss_warm, rss_mid) = (acked.clone(), rss_warm.clone(), rss_mid.clone());
            tasks.push(tokio::spawn(async move {
                let stream = bounded(STEP_WITHIN, "connect", tokio::net::TcpStream::connect(addr))
                    .await
                    .unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, conn) = bounded(
                    STEP_WITHIN,
                    "handshake",
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)),
                )
                .await
                .unwrap();
                tokio::spawn(conn);
                let mut i = c;
                while i < events {
                    bounded(STEP_WITHIN, "the connection is ready", sender.ready())
                        .await
                        .unwrap();
                    let res = bounded(
                        STEP_WITHIN,
                        "an answer",
                        sender.send_request(callback(addr, i)),
                    )
                    .await
                    .unwrap();
                    assert_eq!(res.status(), 200, "event {i}");
                    let body = bounded(STEP_WITHIN, "the answer's body", res.into_body().collect())
                        .await
                        .unwrap()
                        .to_bytes();
                    assert_eq!(&body[..], Ack::OK_BODY, "event {i}");
                    let n = acked.fetch_add(1, SeqCst) + 1;
                    if n == (events / 10).max(1) {
                        rss_warm.store(rss_kib(), SeqCst);
                    } else if n == (events / 2).max(2) {
                        rss_mid.store(rss_kib(), SeqCst);
                    }
                    i += connections;
                }
            }));
        }
        bounded(RUN_WITHIN, "the clients", async {
            for t in tasks {
                t.await.expect("a client connection failed");
            }
        })
        .await;
        let elapsed = started.elapsed();
        let rss_after = rss_kib();
        let rss_warm = rss_warm.load(SeqCst);
        let rss_mid = rss_mid.load(SeqCst);
        // The memory checks below would pass vacuously on a reading of 0 (no /proc, no mark reached).
        assert!(
            rss_before > 0 && rss_warm > 0 && rss_after > 0,
            "resident memory was not measured: before {rss_before}, at 10% {rss_warm}, \
             after {rss_after} KiB"
        );

        let seen = delivered.times.lock().unwrap().len() as u64;
        println!(
            "load: {events} events over {connections} connections in {:.2} s ({:.0} req/s); \
             acknowledged {}, delivered {seen} distinct, duplicates {}, mismatched {}; \
             RSS before {rss_before} KiB, at 10% {rss_warm} KiB, midway {rss_mid} KiB, \
             after {rss_after} KiB (growth {} KiB overall, {} KiB from 10%)",
            elapsed.as_secs_f64(),
            events as f64 / elapsed.as_secs_f64(),
            acked.load(SeqCst),
            delivered.duplicates.load(SeqCst),
            delivered.mismatched.load(SeqCst),
            rss_after.saturating_sub(rss_before),
            rss_after.saturating_sub(rss_warm),
        );
        assert_eq!(acked.load(SeqCst), events, "every event acknowledged");
        assert_eq!(seen, events, "every event delivered");
        assert_eq!(
            delivered.duplicates.load(SeqCst),
            0,
            "no event delivered twice"
        );
        assert_eq!(
            delivered.mismatched.load(SeqCst),
            0,
            "every event delivered intact"
        );
        let all: u64 = delivered.times.lock().unwrap().iter().sum();
        assert_eq!(all, events * (events - 1) / 2, "exactly the events sent");
        assert!(
            rss_after.saturating_sub(rss_before) < RSS_GROWTH_LIMIT_KIB,
            "resident memory grew by {} KiB",
            rss_after - rss_before
        );
        assert!(
            rss_after.saturating_sub(rss_warm) < RSS_STEADY_GROWTH_LIMIT_KIB,
            "resident memory grew by {} KiB after the warm-up",
            rss_after - rss_warm
        );
    });
}
