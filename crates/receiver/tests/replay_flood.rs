//! A replay flood cannot turn the receiver's log into gigabytes: one signed callback URL (valid for a
//! minute) sent 20,000 times over keep-alive connections. Each copy is accepted and printed on stdout
//! (the receiver's record). With the default log filter (`RUST_LOG` unset) the library's per-callback
//! event is not written at all (it is at DEBUG); with that event turned on
//! (`RUST_LOG=info,tencent_room_callback=debug`) it is rate-limited on stderr by the receiver (50 at
//! once, then 10 a second), and every one left out is counted in a report line, so that the lines
//! written and the counts reported add up to the callbacks. Before the bound, each callback wrote one
//! ~140-byte line: 300,000 replays wrote 42 MB.
#![cfg(unix)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use support::process::{Ready, Running};
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::{Ack, Command as Cmd};
use tokio::net::TcpStream;

const TOKEN: &str = "replay-flood-token";
/// Copies of the callback.
const COPIES: usize = 20_000;
/// Keep-alive connections sending them.
const CONNECTIONS: usize = 8;
/// The receiver's bound: per-callback events written at once, then a second.
const BURST: usize = 50;
const PER_SECOND: usize = 10;

/// Sends `copies` requests for `uri` with `body` on one keep-alive HTTP/1 connection, one after the
/// other: how many were answered with the OK acknowledgment.
async fn replay(addr: SocketAddr, uri: String, body: Bytes, copies: usize) -> usize {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("the handshake");
    tokio::spawn(conn);
    let mut ok = 0;
    for _ in 0..copies {
        let req = http::Request::post(&uri)
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .expect("a request");
        let Ok(res) = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req)).await
        else {
            break;
        };
        let Ok(res) = res else { break };
        let status = res.status();
        let answer = res.into_body().collect().await.map(|b| b.to_bytes());
        if status == 200 && answer.as_deref().ok() == Some(Ack::OK_BODY) {
            ok += 1;
        }
    }
    ok
}

#[test]
fn a_replayed_callback_writes_no_line_with_the_default_filter() {
    let (handled, reported, log) = flood(None);
    assert_eq!((handled, reported), (0, 0), "{log}");
    assert!(log.len() < 2_000, "{} bytes of log", log.len());
}

#[test]
fn a_replayed_callback_is_logged_at_a_bounded_rate_and_every_copy_accounted_for() {
    flood(Some("info,tencent_room_callback=debug"));
}

/// Floods the receiver (its log filter `rust_log`, the default when `None`) and checks every copy is
/// answered and printed, every per-callback event written or counted, at the bound's rate: the events
/// written, the events counted, the log.
fn flood(rust_log: Option<&'static str>) -> (usize, usize, String) {
    let mut server = Running::start("the receiver", Ready::Line("listening"), |addr| {
        let mut cmd =
            support::process::program(env!("CARGO_BIN_EXE_tencent-room-callback-receiver"));
        // `None`: the default filter, what an operator gets without RUST_LOG.
        cmd.env_remove("RUST_LOG")
            .env("ROOM_CALLBACK_ADDR", addr.to_string())
            .env("ROOM_CALLBACK_TOKEN", TOKEN);
        if let Some(filter) = rust_log {
            cmd.env("RUST_LOG", filter);
        }
        cmd
    });
    let addr = server.addr;
    let req = CallbackRequest::sample(Cmd::MemberLeave).token(TOKEN);
    let (uri, body) = (req.uri(), req.body().clone());
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let ok: usize = runtime.block_on(async {
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                tokio::spawn(replay(
                    addr,
                    uri.clone(),
                    body.clone(),
                    COPIES / CONNECTIONS,
                ))
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            ok += task.await.expect("a client task");
        }
        ok
    });
    let took = started.elapsed();
    let (status, stdout, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");

    let handled = log
        .lines()
        .filter(|l| l.contains("callback handled"))
        .count();
    let reported: usize = log
        .lines()
        .filter(|l| l.contains("per-callback log events left out"))
        .map(|l| {
            l.split("suppressed=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("no count in {l:?}"))
        })
        .sum();
    eprintln!(
        "{ok} of {COPIES} copies answered OK in {took:?}; stdout {} lines; stderr {} bytes, {} lines: \
         {handled} `callback handled`, {reported} left out and reported",
        stdout.len(),
        log.len(),
        log.lines().count()
    );
    assert_eq!(ok, COPIES, "copies answered OK");
    // Each copy accepted is printed: the record is whole.
    assert_eq!(stdout.len(), COPIES, "stdout lines");
    // Every per-callback event is written or counted (none at all without the DEBUG events).
    let events = if rust_log.is_some() { COPIES } else { 0 };
    assert_eq!(handled + reported, events, "{log}");
    // At the bound's rate (one second of slack for the clock's edges).
    let allowed = BURST + PER_SECOND * (took.as_secs() as usize + 2);
    assert!(
        handled <= allowed,
        "{handled} lines in {took:?} (at most {allowed})"
    );
    // The log stays small: a few hundred bytes a line, a handful of lines besides.
    assert!(
        log.len() <= 300 * (allowed + 20),
        "{} bytes of log for {COPIES} callbacks",
        log.len()
    );
    (handled, reported, log)
}
