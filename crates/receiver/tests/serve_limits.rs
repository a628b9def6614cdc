//! The receiver on the internet, black-box: this package's program (its `serve`) under connections
//! that hold it open without ever asking anything, that never take their answer, or that send more
//! body bytes than it should hold, over loopback.
//!
//! - 2,000 slow-header connections (a 4 KiB partial request head, then a byte every 300 ms) and 2,000
//!   idle ones (connected, nothing sent), plus 200 that send the HTTP/2 preface and no request, with
//!   a 3 s header timeout: while they are held a valid signed callback is answered OK within 1 s,
//!   the server's peak resident memory stays under 150 MB, and the server closes every one of them
//!   within the header timeout + 2 s of its connect. (`axum::serve` kept such connections for as long
//!   as they liked: 95 s and counting.)
//! - Past `ROOM_CALLBACK_MAX_CONNECTIONS` a connection is accepted and closed at once, nothing
//!   written, and a callback is served again as soon as the held connections go.
//! - A keep-alive connection is closed at the idle timeout after its last response (HTTP/1 and
//!   HTTP/2), not at the header timeout; a second HTTP/1 head that starts and stalls is closed at the
//!   header timeout.
//! - 20 HTTP/2 connections that give no flow-control window (`SETTINGS_INITIAL_WINDOW_SIZE` = 0, raw
//!   frames) and send one callback each, against a cap of 20 and a 3 s idle (so write) timeout: the
//!   cap is held while they wait, each is dropped (TCP closed, no `GOAWAY`) between the write timeout
//!   and 9 s after its request, and a callback is served after.
//! - 16 HTTP/2 connections x 100 streams of 1 MiB bodies (hyper's client) for 8 s: the receiver's
//!   peak resident memory (`VmHWM`) stays under 300 MB, bodies past the budget are answered 503, and
//!   callbacks of a few KiB sent meanwhile are answered OK within 2 s; the same with valid callbacks
//!   held 2 s by a slow handler.
//!
//! `SERVE_LIMITS_RECEIVER=PATH` runs them against another build of the program (a release one, or an
//! older one to compare its figures). The counts need about 4,500 file descriptors on each side: the
//! test raises its soft `RLIMIT_NOFILE` (the server inherits it) up to the hard limit, and holds fewer
//! connections, saying so, when the hard limit is lower. Linux only (`/proc/PID/status`). Every wait
//! is bounded; the tests run one at a time and take about 45 s together.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::process::{drain_text, exit_within, Ready, Running};
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::{Ack, Command as Cmd};
use tencent_room_callback_receiver::serve::ServeConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connections of each of the two big kinds, when the file-descriptor limit allows.
const HELD: usize = 2000;
/// HTTP/2 connections that send the preface and no request.
const H2_HELD: usize = 200;
/// The header timeout the server runs with here.
const HEADER_TIMEOUT: Duration = Duration::from_secs(3);
/// How long after the header timeout a held connection may still be open.
const CLOSE_SLACK: Duration = Duration::from_secs(2);
/// The callback's answer must come within this, while the connections are held.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// The server's peak resident memory must stay under this.
const RSS_LIMIT_KB: u64 = 150 * 1024;
const TOKEN: &str = "serve-limits-token";

/// The receiver these tests run: this package's program as `cargo test` built it, or the build that
/// `SERVE_LIMITS_RECEIVER` names (a release build, or an older one, to compare their figures).
fn receiver() -> std::ffi::OsString {
    std::env::var_os("SERVE_LIMITS_RECEIVER")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_tencent-room-callback-receiver").into())
}

/// One heavy test at a time: they share the machine's ports, descriptors and two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Raises the soft open-file limit towards `want` (as far as the hard limit allows); the limit in
/// force after.
fn raise_fd_limit(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed, which lives on this
    // stack frame for the calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < want {
            let raised = libc::rlimit {
                rlim_cur: want.min(lim.rlim_max),
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = raised.rlim_cur;
            }
        }
    }
    lim.rlim_cur
}

/// The number of connections of each big kind the limit allows, and a note when it is fewer.
fn held_count() -> usize {
    let want = (2 * HELD + H2_HELD + 512) as u64;
    let limit = raise_fd_limit(want);
    if limit >= want {
        return HELD;
    }
    let n = (limit.saturating_sub(H2_HELD as u64 + 512) / 2) as usize;
    eprintln!(
        "note: RLIMIT_NOFILE is {limit} (hard limit below {want}): holding {n} connections of each \
         kind instead of {HELD}"
    );
    n.max(10)
}

/// A running server example, and its open file descriptors once listening; killed when dropped.
struct Server {
    running: Running,
    addr: SocketAddr,
    base_fds: usize,
}

impl Server {
    /// Starts the server example on a free loopback port with `env`, and waits for it to listen.
    fn start(env: &[(&str, &str)]) -> Server {
        let running = Running::start("the server example", Ready::Line("listening"), |addr| {
            // Every ROOM_CALLBACK_* variable of the test's environment removed.
            let mut cmd = support::process::program(receiver());
            cmd.env("ROOM_CALLBACK_ADDR", addr.to_string())
                .env("ROOM_CALLBACK_TOKEN", TOKEN)
                .env("RUST_LOG", "info")
                .envs(env.iter().copied());
            cmd
        });
        let mut server = Server {
            addr: running.addr,
            running,
            base_fds: 0,
        };
        server.base_fds = server.connections();
        server
    }

    fn pid(&self) -> u32 {
        self.running.child.id()
    }

    /// The server's open file descriptors beyond those it had once listening: its connections.
    fn connections(&self) -> usize {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|dir| dir.count())
            .unwrap_or(0);
        fds.saturating_sub(self.base_fds)
    }

    /// `VmRSS` and `VmHWM` (peak) of the server, in kB.
    fn memory_kb(&self) -> (u64, u64) {
        memory_kb(self.pid())
    }

    /// SIGTERM, then its exit status (within 20 s) and its stderr.
    fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let (status, _, _) = self.running.terminate_within(Duration::from_secs(20));
        (status, self.running.stderr())
    }
}

fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A valid signed member-leave callback, as raw HTTP/1.1 bytes (`Connection: close`).
fn callback_bytes(addr: SocketAddr) -> Vec<u8> {
    let req = CallbackRequest::sample(Cmd::MemberLeave).token(TOKEN);
    let body = req.body().clone();
    let mut bytes = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        req.uri(),
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// Sends the callback on a new connection: its whole answer (empty when the connection was closed
/// without one) and how long it took, connect included; within 10 s.
async fn send_callback(addr: SocketAddr) -> (String, Duration) {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(&callback_bytes(addr)).await.ok()?;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        Some(String::from_utf8_lossy(&answer).into_owned())
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_default();
    (answer, started.elapsed())
}

fn assert_ok(answer: &str, what: &str) {
    assert!(
        answer.starts_with("HTTP/1.1 200")
            && answer.ends_with(std::str::from_utf8(Ack::OK_BODY).unwrap()),
        "{what}: {answer:?}"
    );
}

/// The kinds of held connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Connected, nothing sent.
    Idle,
    /// A partial request head, then a byte now and then.
    Slow,
    /// The HTTP/2 preface and an empty SETTINGS frame, no request.
    H2,
}

/// How one held connection ended: how long after its connect the server closed it (`None`: still
/// open when the test gave up).
struct Held {
    kind: Kind,
    closed_after: Option<Duration>,
}

/// Counts of the held connections.
struct Counts {
    /// Connected so far.
    connected: AtomicU64,
    /// Connected and not closed yet.
    open: AtomicU64,
}

/// Opens one connection of `kind` and holds it until the server closes it (or 4 s after the close
/// was due).
async fn hold(addr: SocketAddr, kind: Kind, n: usize, counts: Arc<Counts>) -> Option<Held> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let connected = Instant::now();
    counts.connected.fetch_add(1, Ordering::SeqCst);
    counts.open.fetch_add(1, Ordering::SeqCst);
    match kind {
        Kind::Idle => {}
        Kind::Slow => {
            let mut head = format!(
                "POST /callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave \
                 HTTP/1.1\r\nHost: {addr}\r\nX-Conn: {n}\r\n"
            );
            while head.len() < 4096 {
                head.push_str(
                    "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
                );
            }
            head.push_str("X-Slow: ");
            let _ = stream.write_all(head.as_bytes()).await;
        }
        Kind::H2 => {
            let _ = stream
                .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                .await;
        }
    }
    let give_up = connected + HEADER_TIMEOUT + CLOSE_SLACK + Duration::from_secs(4);
    let mut buf = [0u8; 1024];
    let mut trickle = tokio::time::interval(Duration::from_millis(300));
    trickle.tick().await;
    let closed_after = loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                // The server's frames (HTTP/2 SETTINGS), read and dropped.
                Ok(n) if n > 0 => {}
                _ => break Some(connected.elapsed()),
            },
            _ = trickle.tick(), if kind == Kind::Slow => {
                if stream.write_all(b"a").await.is_err() {
                    break Some(connected.elapsed());
                }
            }
            () = tokio::time::sleep_until(give_up.into()) => break None,
        }
    };
    counts.open.fetch_sub(1, Ordering::SeqCst);
    Some(Held { kind, closed_after })
}

/// The test's client runtime.
/// A keep-alive HTTP/1 connection whose one request (`GET /healthz`) has been answered (the 404 FAIL
/// acknowledgment).
async fn answered_once(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).contains("40401") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer");
        answer.extend_from_slice(&buf[..n]);
    }
    stream
}

/// How long from now until the server closes `stream`, which it must do without writing anything.
async fn until_closed(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let n = stream.read(&mut [0u8; 1024]).await.unwrap_or(0);
    assert_eq!(n, 0);
    started.elapsed()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn held_connections_are_closed_and_a_callback_is_answered_meanwhile() {
    let _serial = serial();
    let held = held_count();
    let server = Server::start(&[(
        "ROOM_CALLBACK_HEADER_TIMEOUT_MS",
        &HEADER_TIMEOUT.as_millis().to_string(),
    )]);
    let addr = server.addr;
    let (rss_before, _) = server.memory_kb();

    // The server's memory, sampled every 50 ms until the end.
    let done = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, peak_rss, pid) = (done.clone(), peak_rss.clone(), server.pid());
        thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                peak_rss.fetch_max(memory_kb(pid).0, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let rt = runtime();
    let (results, answers, open_at_answer, rss_held) = rt.block_on(async {
        let counts = Arc::new(Counts {
            connected: AtomicU64::new(0),
            open: AtomicU64::new(0),
        });
        let started = Instant::now();
        let kinds = (0..held)
            .flat_map(|n| [(Kind::Idle, n), (Kind::Slow, n)])
            .chain((0..H2_HELD).map(|n| (Kind::H2, n)))
            .collect::<Vec<_>>();
        let mut tasks = Vec::with_capacity(kinds.len());
        // In batches, each accepted by the server (its descriptors counted) before the next: a
        // connect the kernel completed while the accept queue was full is not the server's yet (a
        // silent one may never be), and its close could not be timed from its connect. A straggler
        // or two is not waited for.
        for batch in kinds.chunks(200) {
            for &(kind, n) in batch {
                tasks.push(tokio::spawn(hold(addr, kind, n, counts.clone())));
            }
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                let connected = counts.connected.load(Ordering::SeqCst) as usize;
                let open = counts.open.load(Ordering::SeqCst) as usize;
                if connected + 4 >= tasks.len() && server.connections() >= open {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let connected_in = started.elapsed();
        let open_now = counts.open.load(Ordering::SeqCst);
        eprintln!(
            "{open_now} connections open after {connected_in:?} ({held} idle, {held} slow, {H2_HELD} \
             HTTP/2 asked for)"
        );
        // While they are held: three callbacks, one after the other.
        let mut answers = Vec::new();
        let mut open_at_answer = Vec::new();
        for _ in 0..3 {
            open_at_answer.push(counts.open.load(Ordering::SeqCst));
            answers.push(send_callback(addr).await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let rss_held = memory_kb(server.pid()).0;
        let mut results = Vec::new();
        for task in tasks {
            if let Ok(Some(held)) = task.await {
                results.push(held);
            }
        }
        (results, answers, open_at_answer, rss_held)
    });
    done.store(true, Ordering::SeqCst);
    let _ = sampler.join();
    let (rss_after, hwm) = server.memory_kb();

    // Once they are gone: still serving.
    let (after, _) = rt.block_on(send_callback(addr));
    assert_ok(&after, "the callback after the held connections");

    let report = |kind: Kind| {
        let mut times: Vec<Duration> = results
            .iter()
            .filter(|h| h.kind == kind)
            .filter_map(|h| h.closed_after)
            .collect();
        times.sort();
        let still_open = results
            .iter()
            .filter(|h| h.kind == kind && h.closed_after.is_none())
            .count();
        let count = results.iter().filter(|h| h.kind == kind).count();
        (
            count,
            still_open,
            times.first().copied(),
            times.last().copied(),
        )
    };
    for kind in [Kind::Idle, Kind::Slow, Kind::H2] {
        let (count, still_open, first, last) = report(kind);
        eprintln!(
            "{kind:?}: {count} connections, closed by the server after {first:?} .. {last:?}; \
             {still_open} still open"
        );
    }
    for (n, ((_, took), open)) in answers.iter().zip(&open_at_answer).enumerate() {
        eprintln!("callback {n}: answered in {took:?} with {open} connections held");
    }
    eprintln!(
        "server RSS: {rss_before} kB before, {rss_held} kB while held, {} kB sampled peak, {hwm} kB \
         VmHWM, {rss_after} kB after",
        peak_rss.load(Ordering::SeqCst)
    );

    // Every connection was made and held.
    let expected = 2 * held + H2_HELD;
    assert_eq!(results.len(), expected, "connections made");
    // The callbacks were answered OK, fast, while most connections were held.
    for (n, ((answer, took), open)) in answers.iter().zip(&open_at_answer).enumerate() {
        assert_ok(answer, &format!("callback {n}"));
        assert!(*took < ANSWER_WITHIN, "callback {n} took {took:?}");
        assert!(
            *open as usize >= expected * 9 / 10,
            "callback {n} was sent with only {open} of {expected} connections held"
        );
    }
    // Every held connection was closed by the server, within the header timeout + 2 s.
    for kind in [Kind::Idle, Kind::Slow, Kind::H2] {
        let (_, still_open, first, last) = report(kind);
        assert_eq!(
            still_open, 0,
            "{kind:?} connections the server never closed"
        );
        let (first, last) = (first.unwrap_or_default(), last.unwrap_or_default());
        assert!(
            last <= HEADER_TIMEOUT + CLOSE_SLACK,
            "{kind:?}: the last was closed after {last:?}"
        );
        // Not before the header timeout either (give or take the client's own lag in noting its
        // connect).
        assert!(
            first + Duration::from_millis(500) >= HEADER_TIMEOUT,
            "{kind:?}: one was closed after {first:?}, before the header timeout"
        );
    }
    assert!(
        hwm < RSS_LIMIT_KB,
        "the server's peak RSS was {hwm} kB (limit {RSS_LIMIT_KB} kB)"
    );

    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{}", log.join("\n"));
}

#[test]
fn connections_beyond_the_cap_are_refused_then_served_again() {
    let _serial = serial();
    const CAP: usize = 100;
    let server = Server::start(&[
        ("ROOM_CALLBACK_MAX_CONNECTIONS", &CAP.to_string()),
        ("ROOM_CALLBACK_HEADER_TIMEOUT_MS", "20000"),
    ]);
    let addr = server.addr;
    // The cap's worth of idle connections, each accepted (the server holds them).
    let held: Vec<StdStream> = (0..CAP)
        .map(|_| StdStream::connect(addr).expect("connect"))
        .collect();
    // Accepted in order: once one more is refused, the held ones are all in.
    let refused = |what: &str| {
        let mut stream = StdStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let read = stream.read(&mut buf);
        let took = started.elapsed();
        match read {
            Ok(0) => {}
            // A reset is a clean refusal too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("{what}: not refused: {other:?} after {took:?}"),
        }
        assert!(
            took < Duration::from_secs(1),
            "{what}: refused after {took:?}"
        );
        took
    };
    let mut slowest = Duration::ZERO;
    for n in 0..20 {
        slowest = slowest.max(refused(&format!("connection {} over the cap", n + 1)));
    }
    eprintln!("20 connections over the cap of {CAP}: each closed by the server within {slowest:?}");
    // A callback now is refused the same way: closed, no answer.
    let rt = runtime();
    let (answer, _) = rt.block_on(send_callback(addr));
    assert_eq!(answer, "", "a callback over the cap");

    // The held connections go; a callback is served again at once.
    drop(held);
    let started = Instant::now();
    let answer = loop {
        let (answer, _) = rt.block_on(send_callback(addr));
        if !answer.is_empty() || started.elapsed() > Duration::from_secs(3) {
            break answer;
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert_ok(&answer, "the callback once the held connections went");
    eprintln!(
        "served again {:?} after the held connections closed",
        started.elapsed()
    );

    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(
        log.iter().any(|l| l.contains("connection limit reached")),
        "the refusals are logged:\n{}",
        log.join("\n")
    );
}

#[test]
fn idle_keep_alive_connections_close_at_the_idle_timeout_and_stalled_heads_at_the_header_timeout() {
    let _serial = serial();
    let (header, idle) = (Duration::from_millis(1000), Duration::from_millis(2500));
    let server = Server::start(&[
        ("ROOM_CALLBACK_HEADER_TIMEOUT_MS", "1000"),
        ("ROOM_CALLBACK_IDLE_TIMEOUT_MS", "2500"),
    ]);
    let addr = server.addr;
    let rt = runtime();
    rt.block_on(async {
        // HTTP/1 keep-alive: one request, then nothing. Closed at the idle timeout, not the header's.
        let h1_idle = async {
            let mut stream = answered_once(addr).await;
            until_closed(&mut stream).await
        };
        // HTTP/1: one request, then the start of another head that stalls: closed at the header
        // timeout after its first byte.
        let h1_stalled = async {
            let mut stream = answered_once(addr).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            stream.write_all(b"GET /healthz HT").await.unwrap();
            until_closed(&mut stream).await
        };
        // HTTP/2 (prior knowledge, hyper's client): one request, then nothing.
        let h2_idle = async {
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .unwrap();
            let conn = tokio::spawn(conn);
            let req = http::Request::get(format!("http://{addr}/healthz"))
                .body(Empty::<Bytes>::new())
                .unwrap();
            let res = sender.send_request(req).await.unwrap();
            assert_eq!(res.status(), 404);
            let _ = res.into_body().collect().await;
            let answered = Instant::now();
            let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
            answered.elapsed()
        };
        let (h1, stalled, h2) = tokio::join!(h1_idle, h1_stalled, h2_idle);
        eprintln!(
            "HTTP/1 keep-alive closed {h1:?} after its answer, HTTP/2 {h2:?}; a stalled second \
             head {stalled:?} after its first byte (idle {idle:?}, header {header:?})"
        );
        let slack = Duration::from_millis(1500);
        for (what, took) in [("HTTP/1", h1), ("HTTP/2", h2)] {
            assert!(
                took + Duration::from_millis(100) >= idle && took <= idle + slack,
                "{what} idle connection closed after {took:?}"
            );
        }
        assert!(
            stalled + Duration::from_millis(100) >= header && stalled <= header + slack,
            "the stalled head was closed after {stalled:?}"
        );
    });
    let (status, _) = server.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_default_header_timeout_is_at_most_20_s() {
    let defaults = ServeConfig::default();
    assert!(defaults.header_timeout <= Duration::from_secs(20));
    assert!(defaults.idle_timeout <= Duration::from_secs(120));
    assert!(defaults.max_connections >= 10_000);
    assert!(defaults.max_header_bytes <= 64 * 1024);
}

#[test]
fn a_bad_limit_stops_the_server_naming_the_variable() {
    for (var, value) in [
        ("ROOM_CALLBACK_HEADER_TIMEOUT_MS", ""),
        ("ROOM_CALLBACK_HEADER_TIMEOUT_MS", "  "),
        ("ROOM_CALLBACK_IDLE_TIMEOUT_MS", "60s"),
        ("ROOM_CALLBACK_MAX_CONNECTIONS", "0"),
        ("ROOM_CALLBACK_MAX_HEADER_BYTES", "1024"),
        ("ROOM_CALLBACK_MAX_HEADERS", " 64"),
        ("ROOM_CALLBACK_MAX_STREAMS", "-1"),
        ("ROOM_CALLBACK_SHUTDOWN_GRACE_MS", "99999999999"),
        ("ROOM_CALLBACK_WRITE_TIMEOUT_MS", ""),
        ("ROOM_CALLBACK_WRITE_TIMEOUT_MS", "0"),
        ("ROOM_CALLBACK_WRITE_TIMEOUT_MS", "3s"),
        ("ROOM_CALLBACK_MAX_BUFFERED_BYTES", ""),
        ("ROOM_CALLBACK_MAX_BUFFERED_BYTES", "0"),
        ("ROOM_CALLBACK_MAX_BUFFERED_BYTES", "64MiB"),
        ("ROOM_CALLBACK_MAX_BUFFERED_BYTES", "1048576"),
    ] {
        let mut cmd =
            support::process::program(env!("CARGO_BIN_EXE_tencent-room-callback-receiver"));
        let mut child = cmd
            .env("ROOM_CALLBACK_ADDR", "127.0.0.1:0")
            .env(var, value)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let reader = drain_text(child.stderr.take().expect("piped stderr"));
        let status = exit_within(&mut child, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("{var}={value:?}: the server did not refuse to start"));
        let err = reader.join().unwrap_or_default();
        assert_eq!(status.code(), Some(2), "{var}={value:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{var}={value:?}: {err}");
        assert!(
            err.starts_with(&format!("tencent-room-callback-receiver: {var} ")),
            "{var}={value:?}: {err}"
        );
        assert!(!err.contains("listening"), "{var}={value:?}: {err}");
    }
}

/// Oversized heads, as in the 400 KB header attack: answered 431 and closed, without holding the
/// bytes.
#[test]
fn an_oversized_head_is_answered_431() {
    let _serial = serial();
    let server = Server::start(&[]);
    let mut stream = StdStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = b"GET /callback HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    head.resize(400 * 1024, b'a');
    // The server may close before it has read it all.
    let _ = stream.write_all(&head);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{:?}",
        &answer[..answer.len().min(200)]
    );
    // And 65 header fields (over 64).
    let mut stream = StdStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = String::from("GET /callback HTTP/1.1\r\nHost: x\r\n");
    for n in 0..64 {
        head.push_str(&format!("X-H{n}: v\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    let (status, _) = server.terminate();
    assert_eq!(status.code(), Some(0));
}

/// HTTP/2 by hand, for a client that does what no well-behaved client library does: frames, and
/// HPACK's literal header fields (no table, no Huffman).
mod h2_frames {
    pub const DATA: u8 = 0;
    pub const HEADERS: u8 = 1;
    pub const SETTINGS: u8 = 4;
    pub const GOAWAY: u8 = 7;
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    /// `SETTINGS_INITIAL_WINDOW_SIZE`.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    /// A frame: the 9-byte head, then the payload.
    pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// An HPACK integer with a 7-bit prefix (the high bit 0: no Huffman coding).
    fn length(n: usize, out: &mut Vec<u8>) {
        if n < 127 {
            out.push(n as u8);
            return;
        }
        out.push(127);
        let mut rest = n - 127;
        while rest >= 128 {
            out.push((rest % 128 + 128) as u8);
            rest /= 128;
        }
        out.push(rest as u8);
    }

    /// A header block of literal fields without indexing, new names.
    pub fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        for (name, value) in fields {
            block.push(0);
            length(name.len(), &mut block);
            block.extend_from_slice(name.as_bytes());
            length(value.len(), &mut block);
            block.extend_from_slice(value.as_bytes());
        }
        block
    }
}

/// What a connection that gives the server no flow-control window saw.
#[derive(Debug, Default)]
struct ZeroWindow {
    /// The response's HEADERS frame came.
    answered: bool,
    /// Bytes of DATA on the stream (none can come).
    data: usize,
    /// A GOAWAY came.
    goaway: bool,
    /// The server closed the TCP connection (end of stream or reset), this long after the request.
    closed_after: Option<Duration>,
}

/// Connects, sends the preface with `SETTINGS_INITIAL_WINDOW_SIZE` = 0 and one signed callback (a
/// POST with its body), acknowledges the server's SETTINGS, and reads until the server closes the
/// connection or `give_up` passes. `connected` is told once the response's head has come.
async fn zero_window(
    addr: SocketAddr,
    give_up: Duration,
    connected: tokio::sync::mpsc::UnboundedSender<()>,
) -> ZeroWindow {
    use h2_frames::*;
    let mut seen = ZeroWindow::default();
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return seen;
    };
    let req = CallbackRequest::sample(Cmd::MemberLeave).token(TOKEN);
    let body = req.body().clone();
    let length = body.len().to_string();
    let uri = req.uri();
    let authority = addr.to_string();
    let mut out = PREFACE.to_vec();
    let mut settings = INITIAL_WINDOW_SIZE.to_be_bytes().to_vec();
    settings.extend_from_slice(&0u32.to_be_bytes());
    out.extend(frame(SETTINGS, 0, 0, &settings));
    let block = header_block(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", &authority),
        (":path", &uri),
        ("content-type", "application/json"),
        ("content-length", &length),
    ]);
    out.extend(frame(HEADERS, END_HEADERS, 1, &block));
    out.extend(frame(DATA, END_STREAM, 1, &body));
    if stream.write_all(&out).await.is_err() {
        return seen;
    }
    let sent = Instant::now();
    let deadline = tokio::time::Instant::from_std(sent + give_up);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return seen,
            Ok(Ok(0)) | Ok(Err(_)) => {
                seen.closed_after = Some(sent.elapsed());
                return seen;
            }
            Ok(Ok(n)) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while buf.len() >= 9 {
            let len =
                (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            let (kind, flags) = (buf[3], buf[4]);
            let id = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
            match kind {
                SETTINGS if flags & ACK == 0 => {
                    let _ = stream.write_all(&frame(SETTINGS, ACK, 0, &[])).await;
                }
                HEADERS if id == 1 => {
                    seen.answered = true;
                    let _ = connected.send(());
                }
                DATA if id == 1 => seen.data += len,
                GOAWAY => seen.goaway = true,
                _ => {}
            }
            buf.drain(..9 + len);
        }
    }
}

#[test]
fn http2_connections_without_a_window_are_dropped_at_the_write_timeout() {
    let _serial = serial();
    const CAP: usize = 20;
    const IDLE: Duration = Duration::from_secs(3);
    const GONE_WITHIN: Duration = Duration::from_secs(9);
    let server = Server::start(&[
        ("ROOM_CALLBACK_MAX_CONNECTIONS", &CAP.to_string()),
        (
            "ROOM_CALLBACK_IDLE_TIMEOUT_MS",
            &IDLE.as_millis().to_string(),
        ),
    ]);
    let addr = server.addr;
    let rt = runtime();
    let (seen, refused, after) = rt.block_on(async {
        let (answered, mut heads) = tokio::sync::mpsc::unbounded_channel();
        let tasks: Vec<_> = (0..CAP)
            .map(|_| {
                tokio::spawn(zero_window(
                    addr,
                    GONE_WITHIN + Duration::from_secs(3),
                    answered.clone(),
                ))
            })
            .collect();
        drop(answered);
        // Every one answered (its slot taken, its request in progress)...
        for n in 0..CAP {
            let head = tokio::time::timeout(Duration::from_secs(5), heads.recv()).await;
            assert!(matches!(head, Ok(Some(()))), "only {n} of {CAP} answered");
        }
        // ... so the cap is reached: one more connection is closed at once.
        let refused = send_callback(addr).await;
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.expect("the client task"));
        }
        // The slots are free again: a callback is served.
        let after = send_callback(addr).await;
        (seen, refused, after)
    });
    let mut closes: Vec<Duration> = seen.iter().filter_map(|s| s.closed_after).collect();
    closes.sort();
    eprintln!(
        "{CAP} HTTP/2 connections with a zero window, a cap of {CAP}, a {IDLE:?} idle (and write) \
         timeout: closed by the server {:?} .. {:?} after their request; a callback meanwhile: \
         {:?} after {:?}; after: {:?} in {:?}",
        closes.first(),
        closes.last(),
        refused.0,
        refused.1,
        after.0.lines().next(),
        after.1
    );
    for (n, s) in seen.iter().enumerate() {
        assert!(s.answered, "connection {n}: no answer head: {s:?}");
        assert_eq!(
            s.data, 0,
            "connection {n}: the server sent DATA without a window"
        );
        let closed = s
            .closed_after
            .unwrap_or_else(|| panic!("connection {n}: still open after {GONE_WITHIN:?}: {s:?}"));
        assert!(
            closed <= GONE_WITHIN,
            "connection {n}: closed after {closed:?}"
        );
        // At the write timeout, not before (it was dropped for that, not for something else)...
        assert!(
            closed + Duration::from_millis(200) >= IDLE,
            "connection {n}: closed after {closed:?}, before the write timeout"
        );
        // ... and dropped, not sent a GOAWAY and left to finish.
        assert!(!s.goaway, "connection {n}: a GOAWAY: {s:?}");
    }
    assert_eq!(refused.0, "", "a callback while the cap was reached");
    assert_ok(&after.0, "the callback after the zero-window connections");
    assert!(after.1 < ANSWER_WITHIN, "answered after {:?}", after.1);

    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(
        log.iter()
            .any(|l| l.contains("a response not written within the write timeout")),
        "the drops are logged:\n{}",
        log.join("\n")
    );
}

/// A signed member-leave callback of about `len` bytes (a long member list): its URI and body.
fn callback_of(len: usize) -> (String, Bytes) {
    let mut members = Vec::new();
    let mut n = 0;
    while members.iter().map(|m: &String| m.len() + 3).sum::<usize>() < len.saturating_sub(200) {
        members.push(format!("member-{n:06}"));
        n += 1;
    }
    let body = serde_json::json!({
        "CallbackCommand": "Room.CallbackAfterMemberLeave",
        "Operator_Account": "user1",
        "RoomId": "rid-123",
        "MemberCount": members.len(),
        "Type": "Leave",
        "MemberList_Account": members,
        "Reason": "xxxx",
        "EventTime": 1670574414123u64,
    });
    let body = Bytes::from(serde_json::to_vec(&body).expect("json"));
    let req = CallbackRequest::raw(Cmd::MemberLeave, body.clone()).token(TOKEN);
    (req.uri(), body)
}

/// `body` POSTed to `uri` on a new HTTP/1 connection: the status line and how long the answer took,
/// within 10 s.
async fn post(addr: SocketAddr, uri: &str, body: &[u8]) -> (String, Duration) {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let head = format!(
            "POST {uri} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body).await.ok()?;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        Some(String::from_utf8_lossy(&answer).into_owned())
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_default();
    (answer, started.elapsed())
}

/// The answers to an HTTP/2 flood: their statuses, and the requests that got none (reset, error).
struct Flood {
    statuses: std::collections::BTreeMap<u16, u64>,
    errors: u64,
}

/// `connections` HTTP/2 connections (hyper's client), each with `streams` tasks POSTing `body` to
/// `uri` one request after the other, with its `Content-Length`, until `until`.
async fn h2_flood(
    addr: SocketAddr,
    uri: &str,
    body: Bytes,
    connections: usize,
    streams: usize,
    until: Instant,
) -> tokio::task::JoinHandle<Flood> {
    let statuses = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, u64>::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("the HTTP/2 handshake");
        tokio::spawn(conn);
        for _ in 0..streams {
            let (mut sender, statuses, errors) = (sender.clone(), statuses.clone(), errors.clone());
            let (uri, body) = (format!("http://{addr}{uri}"), body.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < until {
                    if sender.ready().await.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    let req = http::Request::post(&uri)
                        .header("content-type", "application/json")
                        .header("content-length", body.len())
                        .body(http_body_util::Full::new(body.clone()))
                        .expect("a request");
                    match sender.send_request(req).await {
                        Ok(res) => {
                            let status = res.status().as_u16();
                            let _ = res.into_body().collect().await;
                            *statuses.lock().unwrap().entry(status).or_default() += 1;
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
    }
    tokio::spawn(async move {
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        let statuses = statuses.lock().unwrap().clone();
        Flood {
            statuses,
            errors: errors.load(Ordering::Relaxed),
        }
    })
}

/// The load of these tests: 16 HTTP/2 connections with 100 streams each, every request a 1 MiB body.
const FLOOD_CONNECTIONS: usize = 16;
const FLOOD_STREAMS: usize = 100;
const FLOOD_BODY: usize = 1024 * 1024;
/// How long the load lasts.
const FLOOD_FOR: Duration = Duration::from_secs(8);
/// The receiver's peak resident memory must stay under this.
const FLOOD_RSS_LIMIT_KB: u64 = 300 * 1024;

/// Under the load, 1 MiB bodies refused after they are read (400: not JSON), as a replayed signed URL
/// with a padded body would be: the receiver's peak resident memory stays under 300 MB, and
/// callbacks of a few KiB sent meanwhile are answered OK within 2 s.
#[test]
fn request_bodies_in_memory_are_bounded_under_http2_load() {
    let _serial = serial();
    const SMALL_WITHIN: Duration = Duration::from_secs(2);
    let server = Server::start(&[]);
    let addr = server.addr;
    // A signed URL (valid for a minute) and a 1 MiB body the receiver reads whole, then refuses.
    let uri = CallbackRequest::sample(Cmd::MemberLeave).token(TOKEN).uri();
    let mut big = b"{\"RoomId\":\"".to_vec();
    big.resize(FLOOD_BODY, b'a');
    let (small_uri, small_body) = callback_of(4 * 1024);
    let rt = runtime();
    let (flood, small) = rt.block_on(async {
        let until = Instant::now() + FLOOD_FOR;
        let flood = h2_flood(
            addr,
            &uri,
            big.into(),
            FLOOD_CONNECTIONS,
            FLOOD_STREAMS,
            until,
        )
        .await;
        // Meanwhile, callbacks of a few KiB, one after the other, each on a new connection.
        let mut small = Vec::new();
        tokio::time::sleep(Duration::from_millis(500)).await;
        while Instant::now() + Duration::from_millis(500) < until {
            small.push(post(addr, &small_uri, &small_body).await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        (flood.await.expect("the flood"), small)
    });
    let (rss, hwm) = server.memory_kb();
    let latencies: Vec<Duration> = small.iter().map(|(_, took)| *took).collect();
    eprintln!(
        "{FLOOD_CONNECTIONS} HTTP/2 connections x {FLOOD_STREAMS} streams of {FLOOD_BODY}-byte bodies \
         for {FLOOD_FOR:?}: answers {:?}, {} without one; the receiver's peak RSS (VmHWM) {hwm} kB, \
         {rss} kB after; {} callbacks of {} bytes meanwhile, answered in {:?} .. {:?}",
        flood.statuses,
        flood.errors,
        small.len(),
        small_body.len(),
        latencies.iter().min(),
        latencies.iter().max()
    );
    // The load was what it says: bodies read whole and refused (400), others refused at once (503).
    assert!(
        flood.statuses.get(&400).copied().unwrap_or(0) >= 10,
        "{:?}",
        flood.statuses
    );
    assert!(
        flood.statuses.get(&503).copied().unwrap_or(0) > 0,
        "{:?}",
        flood.statuses
    );
    assert!(
        small.len() >= 10,
        "only {} small callbacks sent",
        small.len()
    );
    for (n, (answer, took)) in small.iter().enumerate() {
        assert_ok(answer, &format!("small callback {n}"));
        assert!(*took < SMALL_WITHIN, "small callback {n} took {took:?}");
    }
    assert!(
        hwm < FLOOD_RSS_LIMIT_KB,
        "the receiver's peak RSS was {hwm} kB (limit {FLOOD_RSS_LIMIT_KB} kB)"
    );
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{}", log.join("\n"));
    assert!(
        log.iter().any(|l| l.contains("requests answered 503")),
        "the refusals are logged:\n{}",
        log.join("\n")
    );
}

/// The receiver with its stdout to /dev/null (these tests print a megabyte a line), started on a free
/// loopback port with `env` and waited for; killed when dropped.
struct Quiet {
    child: std::process::Child,
    addr: SocketAddr,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Quiet {
    fn start(env: &[(&str, &str)]) -> Quiet {
        for _ in 0..5 {
            let addr = support::process::free_addr();
            let mut child = support::process::program(receiver())
                .env("ROOM_CALLBACK_ADDR", addr.to_string())
                .env("ROOM_CALLBACK_TOKEN", TOKEN)
                .env("RUST_LOG", "info")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the receiver starts");
            let (lines, listening) = std::sync::mpsc::channel();
            let pipe = child.stderr.take().expect("piped stderr");
            let stderr = thread::spawn(move || {
                use std::io::BufRead;
                let mut log = String::new();
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    if line.contains("listening") {
                        let _ = lines.send(());
                    }
                    log.push_str(&line);
                    log.push('\n');
                }
                log
            });
            if listening.recv_timeout(Duration::from_secs(60)).is_ok() {
                return Quiet {
                    child,
                    addr,
                    stderr: Some(stderr),
                };
            }
            // Exited (its port taken meanwhile): another one.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the receiver never listened");
    }

    /// SIGTERM, then its exit status (within 20 s) and its stderr.
    fn terminate(mut self) -> (ExitStatus, String) {
        support::process::signal(self.child.id(), "TERM");
        let status = exit_within(&mut self.child, Duration::from_secs(20)).expect("stopped");
        let log = self
            .stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        (status, log)
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A valid member-leave body of just under 1 MiB: 10,000 members (the layer's bound) of 100 bytes.
fn big_member_leave() -> Bytes {
    let members: Vec<String> = (0..10_000).map(|n| format!("{n:0100}")).collect();
    let body = serde_json::json!({
        "CallbackCommand": "Room.CallbackAfterMemberLeave",
        "Operator_Account": "user1",
        "RoomId": "rid-123",
        "MemberCount": members.len(),
        "Type": "Leave",
        "MemberList_Account": members,
        "Reason": "xxxx",
        "EventTime": 1670574414123u64,
    });
    let body = serde_json::to_vec(&body).expect("json");
    assert!(body.len() <= FLOOD_BODY, "{} bytes", body.len());
    body.into()
}

/// The same load, of valid callbacks whose handler takes 2 s (`ROOM_CALLBACK_WORK_MS`: a slow
/// downstream), so that every body read is held 2 s more: the debug build the tests run reads bodies
/// more slowly than a release build, and without the bound it holds as much as a release build does
/// under the load of the test above. The receiver's peak resident memory stays under 300 MB.
#[test]
fn request_bodies_held_by_a_slow_handler_are_bounded_under_http2_load() {
    let _serial = serial();
    let server = Quiet::start(&[("ROOM_CALLBACK_WORK_MS", "2000")]);
    let addr = server.addr;
    let body = big_member_leave();
    let uri = CallbackRequest::raw(Cmd::MemberLeave, body.clone())
        .token(TOKEN)
        .uri();
    let rt = runtime();
    let flood = rt.block_on(async {
        let until = Instant::now() + FLOOD_FOR;
        let flood = h2_flood(addr, &uri, body, FLOOD_CONNECTIONS, FLOOD_STREAMS, until).await;
        flood.await.expect("the flood")
    });
    let (rss, hwm) = memory_kb(server.child.id());
    eprintln!(
        "{FLOOD_CONNECTIONS} HTTP/2 connections x {FLOOD_STREAMS} streams of valid {FLOOD_BODY}-byte \
         callbacks, each handled in 2 s, for {FLOOD_FOR:?}: answers {:?}, {} without one; the \
         receiver's peak RSS (VmHWM) {hwm} kB, {rss} kB after",
        flood.statuses, flood.errors
    );
    assert!(
        flood.statuses.get(&200).copied().unwrap_or(0) >= 10,
        "{:?}",
        flood.statuses
    );
    assert!(
        flood.statuses.get(&503).copied().unwrap_or(0) > 0,
        "{:?}",
        flood.statuses
    );
    assert!(
        hwm < FLOOD_RSS_LIMIT_KB,
        "the receiver's peak RSS was {hwm} kB (limit {FLOOD_RSS_LIMIT_KB} kB)"
    );
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
}
